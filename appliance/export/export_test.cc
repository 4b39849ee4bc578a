// End to end through media and export: synthetic calls with known tones per party.
#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>

#include "appliance/export/audio_decoder.h"
#include "appliance/export/g711.h"
#include "appliance/export/pcap_export.h"
#include "appliance/export/tone_probe.h"
#include "appliance/export/udp_frame.h"
#include "appliance/export/wav_export.h"
#include "appliance/media/media_engine.h"
#include "appliance/media/test_util.h"

namespace callvault::exporter {
namespace {

using exporter::testing::Power;
using exporter::testing::Rms;

using media::testing::CollectingObserver;
using media::testing::CollectingSink;
using media::testing::Ep;
using media::testing::RtpBytes;
using media::testing::TestPacket;

constexpr uint64_t kMs = 1000000;
constexpr uint64_t kT0 = 1700000000ull * 1000000000ull;
const Endpoint kCaller = Ep(0x0a000001, 16384);
const Endpoint kAgent = Ep(0x0a000002, 20000);

std::vector<uint8_t> Tone(double hz, int packet, bool alaw, int samples = 160) {
  std::vector<uint8_t> out;
  for (int k = 0; k < samples; ++k) {
    double t = double(packet * samples + k) / 8000.0;
    int16_t s = int16_t(8000 * std::sin(2 * M_PI * hz * t));
    out.push_back(alaw ? LinearToAlaw(s) : LinearToMulaw(s));
  }
  return out;
}

struct Wav {
  uint16_t channels = 0;
  uint32_t rate = 0;
  std::vector<int16_t> ch[2];
};

Wav ReadWav(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::vector<uint8_t> d((std::istreambuf_iterator<char>(f)), {});
  Wav w;
  if (d.size() < 44 || std::memcmp(d.data(), "RIFF", 4) != 0) return w;
  w.channels = uint16_t(d[22] | d[23] << 8);
  w.rate = uint32_t(d[24] | d[25] << 8 | d[26] << 16 | d[27] << 24);
  uint32_t len = uint32_t(d[40] | d[41] << 8 | d[42] << 16 | uint32_t(d[43]) << 24);
  EXPECT_EQ(len + 44, d.size());
  for (std::size_t i = 44; i + 3 < d.size(); i += 4) {
    w.ch[0].push_back(int16_t(d[i] | d[i + 1] << 8));
    w.ch[1].push_back(int16_t(d[i + 2] | d[i + 3] << 8));
  }
  return w;
}

calls::MediaSession Session(bool ended, uint64_t ts) {
  calls::MediaSession s;
  s.call_id = CallId::Make(kT0, "synthetic");
  s.ts_ns = ts;
  s.ended = ended;
  s.agent_side = calls::kSideB;
  for (int side = 0; side < 2; ++side) {
    calls::MediaStream m;
    m.rtp = side == 0 ? kCaller : kAgent;
    m.rtcp = Endpoint{m.rtp.ip, uint16_t(m.rtp.port + 1)};
    m.payload_types = {{0, "PCMU", 8000, 1}, {8, "PCMA", 8000, 1},
                       {101, "telephone-event", 8000, 1}};
    s.side[side].announced = true;
    s.side[side].streams.push_back(m);
  }
  return s;
}

std::string TmpPath(const char* name) {
  return ::testing::TempDir() + "/callvault_export_" + name;
}

// Exports stored frame blocks (one source per block) to `path` the way the CLI does:
// classic pcap into a descriptor, and again from fresh sources as pcapng when a second
// link type shows up.
absl::StatusOr<PcapExportStats> ExportToPath(
    const std::vector<std::span<const uint8_t>>& payloads, const std::string& path) {
  int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0600);
  if (fd < 0) return absl::InternalError("open " + path);
  absl::StatusOr<PcapExportStats> st;
  for (bool pcapng : {false, true}) {
    std::vector<std::unique_ptr<BlockFrameSource>> sources;
    std::vector<FrameSource*> ptrs;
    for (const auto& p : payloads) {
      sources.push_back(std::make_unique<BlockFrameSource>(std::vector<std::span<const uint8_t>>{p}));
      ptrs.push_back(sources.back().get());
    }
    if (::ftruncate(fd, 0) != 0 || ::lseek(fd, 0, SEEK_SET) != 0) break;
    st = ExportPcapToFd(ptrs, fd, path, pcapng);
    if (!st.ok() || !st->restart_as_pcapng) break;
  }
  ::close(fd);
  return st;
}

TEST(G711, RoundTripsEveryCode) {
  for (int c = 0; c < 256; ++c) {
    EXPECT_EQ(LinearToMulaw(MulawToLinear(uint8_t(c))) & 0xff,
              (c == 0x7f ? 0xff : c)) << c;  // µ-law has two zeros (0x7f, 0xff)
    EXPECT_EQ(LinearToAlaw(AlawToLinear(uint8_t(c))), c) << c;
  }
  EXPECT_EQ(MulawToLinear(0xff), 0);
  EXPECT_EQ(MulawToLinear(0x80), 32124);   // G.711 table 2a extremes
  EXPECT_EQ(AlawToLinear(0xd5), 8);
  EXPECT_EQ(AlawToLinear(0xaa), 32256);
}

// Caller: PCMU 440 Hz from t=0 for 4 s with packets 50..59 lost, a few reordered and
// duplicated, an SSRC change at 3 s, DTMF events at 2.0 s and RTP continuing 0.5 s past
// the BYE. Agent: PCMA 1000 Hz from t=1 s, switching to PCMU (codec change) at 2.5 s.
TEST(ExportWav, TonesPerPartyAlignedWithSilenceForLoss) {
  CollectingSink sink;
  CollectingObserver obs;
  media::MediaEngineOptions o;
  o.max_legs = 16;
  media::MediaEngine eng(o, &sink, &obs);
  eng.OnMediaChanged(Session(false, kT0));
  std::vector<std::unique_ptr<TestPacket>> order;
  auto send = [&](const Endpoint& s, const Endpoint& d, std::vector<uint8_t> p, uint64_t ts) {
    TestPacket pkt(s, d, p, ts);
    ASSERT_TRUE(eng.OnPacket(pkt.pkt));
    eng.Advance(ts);
  };
  for (int i = 0; i < 225; ++i) {  // 4.5 s of caller audio
    uint64_t ts = kT0 + uint64_t(i) * 20 * kMs;
    if (i == 175) {  // BYE at 3.5 s; media continues for 1 s, inside the 2 s grace
      eng.OnMediaChanged(Session(true, ts));
    }
    if (i >= 50 && i < 60) continue;                  // lost
    uint32_t ssrc = i < 150 ? 0x1111 : 0x2222;        // SSRC change at 3 s
    uint16_t seq = uint16_t(i < 150 ? i : 1000 + i);
    uint32_t rtp_ts = i < 150 ? 160u * i : 777777u + 160u * i;
    if (i == 100 || i == 101) {  // DTMF '5' instead of audio at 2.0 s (a pause)
      std::vector<uint8_t> ev = {5, uint8_t(i == 101 ? 0x8a : 0x0a), 0, uint8_t(i == 101 ? 0xa0 : 0x50)};
      send(kCaller, kAgent, RtpBytes(seq, 160u * 100, ssrc, 101, ev), ts);
      if (i == 101) {
        send(kCaller, kAgent, RtpBytes(seq, 160u * 100, ssrc, 101, ev), ts);  // end retx
        send(kCaller, kAgent, RtpBytes(seq, 160u * 100, ssrc, 101, ev), ts);
      }
      continue;
    }
    auto pkt = RtpBytes(seq, rtp_ts, ssrc, 0, Tone(440, i, false));
    if (i == 120) {  // reorder: 120 arrives after 121
      send(kCaller, kAgent, RtpBytes(121, 160u * 121, ssrc, 0, Tone(440, 121, false)), ts);
      send(kCaller, kAgent, pkt, ts + 5 * kMs);
      continue;
    }
    if (i == 121) continue;
    send(kCaller, kAgent, pkt, ts);
    if (i % 30 == 0) send(kCaller, kAgent, pkt, ts + kMs);  // SPAN duplicate
  }
  for (int i = 50; i < 200; ++i) {  // agent 1..4 s
    uint64_t ts = kT0 + uint64_t(i) * 20 * kMs + 3 * kMs;
    bool pcma = i < 125;
    TestPacket p(kAgent, kCaller, RtpBytes(uint16_t(9000 + i), 5000u + 160u * i, 0x3333,
                                           pcma ? 8 : 0, Tone(1000, i, pcma)), ts);
    ASSERT_TRUE(eng.OnPacket(p.pkt));
  }
  eng.Advance(kT0 + 10000 * kMs);  // grace over: legs closed
  ASSERT_EQ(eng.active_legs(), 0u);

  // Leg metadata.
  ASSERT_EQ(obs.closed.size(), 2u);
  for (const auto& c : obs.closed) {
    if (c.leg.direction == LegDirection::kCallerToAgent) {
      EXPECT_EQ(c.leg.lost, 10u);
      // DTMF end retransmissions (2) + SPAN copies of i % 30 == 0 except 120 (7).
      EXPECT_EQ(c.leg.duplicates, 2u + 7u);
      ASSERT_EQ(c.dtmf.size(), 1u);
      EXPECT_EQ(c.dtmf[0].digit, "5");
      EXPECT_EQ(c.dtmf[0].duration_ms, 20u);
      EXPECT_NEAR(c.dtmf[0].offset_s, 2.0, 0.001);
    } else {
      EXPECT_EQ(c.leg.codec, "PCMU");  // the last codec after the switch
      EXPECT_EQ(c.leg.lost, 0u);
    }
  }

  // Export from the blocks, per leg.
  std::map<uint16_t, std::vector<std::span<const uint8_t>>> by_leg;
  for (const auto& b : sink.blocks) {
    if (b.info.kind == StreamKind::kRtp) by_leg[b.info.leg].push_back(b.payload);
  }
  ASSERT_EQ(by_leg.size(), 2u);
  BlockFrameSource caller_src(by_leg[0]), agent_src(by_leg[1]);
  std::vector<ExportStream> streams(2);
  streams[0].direction = LegDirection::kCallerToAgent;
  streams[0].frames = &caller_src;
  streams[1].direction = LegDirection::kAgentToCaller;
  streams[1].frames = &agent_src;
  for (auto& s : streams) {
    s.payloads.Set(101, media::Codec::kTelephoneEvent, 8000);
    s.codecs = {media::Codec::kPcmu};
  }
  std::string path = TmpPath("tones.wav");
  WavExportStats st;
  ASSERT_TRUE(ExportWav(streams, path, {}, &st).ok());
  Wav w = ReadWav(path);
  ASSERT_EQ(w.channels, 2);
  ASSERT_EQ(w.rate, 8000u);
  // Caller audio runs to 4.5 s (past the BYE at 3.5 s): nothing cut.
  ASSERT_EQ(w.ch[0].size(), 225u * 160);
  // Channel 0 = caller: 440 Hz dominates; channel 1 = agent: 1000 Hz.
  std::size_t at = 8000 * 3 / 2, n = 1600;  // 1.5 s .. 1.7 s
  EXPECT_GT(Power(w.ch[0], at, n, 440, 8000), 100 * Power(w.ch[0], at, n, 1000, 8000));
  EXPECT_GT(Power(w.ch[1], at, n, 1000, 8000), 100 * Power(w.ch[1], at, n, 440, 8000));
  // After the agent's codec switch (3 s) and the caller's SSRC change (3.2 s).
  at = 8000 * 32 / 10;
  EXPECT_GT(Power(w.ch[0], at, n, 440, 8000), 100 * Power(w.ch[0], at, n, 1000, 8000));
  EXPECT_GT(Power(w.ch[1], at, n, 1000, 8000), 100 * Power(w.ch[1], at, n, 440, 8000));
  // Alignment: the agent is silent for its first second, then starts (3 ms network
  // delay = 24 samples).
  EXPECT_LT(Rms(w.ch[1], 0, 7990), 1.0);
  EXPECT_GT(Rms(w.ch[1], 8000 + 24 + 8, 800), 3000);
  EXPECT_LT(Rms(w.ch[1], 8000, 20), 1.0);
  // Loss: packets 50..59 -> samples 8000..9600 are silent on the caller channel only.
  EXPECT_LT(Rms(w.ch[0], 50 * 160, 10 * 160), 1.0);
  EXPECT_GT(Rms(w.ch[0], 40 * 160, 10 * 160), 3000);
  EXPECT_GT(Rms(w.ch[0], 60 * 160, 10 * 160), 3000);
  // DTMF pause (packets 100, 101) is silent; reordered 120/121 are in place (tone).
  EXPECT_LT(Rms(w.ch[0], 100 * 160, 2 * 160), 1.0);
  EXPECT_GT(Rms(w.ch[0], 120 * 160, 2 * 160), 3000);
  // The decoded caller tone is phase-continuous across the reordered pair: it matches
  // a freshly synthesised 440 Hz within G.711 quantisation.
  double err = 0;
  for (int k = 0; k < 320; ++k) {
    double t = double(120 * 160 + k) / 8000.0;
    err = std::max(err, std::fabs(w.ch[0][120 * 160 + k] - 8000 * std::sin(2 * M_PI * 440 * t)));
  }
  EXPECT_LT(err, 300);
  EXPECT_EQ(st.duplicates, 7u);  // SPAN copies (DTMF is not audio)
  EXPECT_EQ(st.reanchors, 1u);  // the SSRC change

  // pcap export of every stored frame, re-read with libpcap in nanosecond precision.
  uint64_t stored = 0;
  std::vector<std::span<const uint8_t>> payloads;
  for (const auto& b : sink.blocks) {
    if (b.info.kind == StreamKind::kEvents) continue;
    stored += b.info.frames;
    payloads.push_back(b.payload);
  }
  std::string pcap_path = TmpPath("call.pcap");
  auto ps = ExportToPath(payloads, pcap_path);
  ASSERT_TRUE(ps.ok()) << ps.status();
  EXPECT_FALSE(ps->pcapng);
  char err_buf[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline_with_tstamp_precision(pcap_path.c_str(),
                                                      PCAP_TSTAMP_PRECISION_NANO, err_buf);
  ASSERT_NE(p, nullptr) << err_buf;
  EXPECT_EQ(pcap_datalink(p), DLT_EN10MB);
  pcap_pkthdr* h;
  const u_char* data;
  uint64_t n_read = 0, last = 0;
  while (pcap_next_ex(p, &h, &data) == 1) {
    uint64_t ts = uint64_t(h->ts.tv_sec) * 1000000000ull + uint64_t(h->ts.tv_usec);
    EXPECT_GE(ts, last);  // capture order across streams
    last = ts;
    ++n_read;
  }
  pcap_close(p);
  EXPECT_EQ(n_read, stored);
  EXPECT_EQ(n_read, ps->frames);
}

TEST(ExportPcap, MixedLinkTypesBecomePcapng) {  // classic first, then the pcapng rerun
  // One Ethernet frame and one raw-IP frame.
  TestPacket a(kCaller, kAgent, {1, 2, 3}, kT0);
  std::vector<uint8_t> rec1, rec2;
  AppendFrameRecord(a.frame, rec1);
  Frame raw = a.frame;
  raw.data += 14;
  raw.caplen -= 14;
  raw.wirelen -= 14;
  raw.ts_ns += 1;
  raw.link = LinkType::kRaw;
  AppendFrameRecord(raw, rec2);
  std::string path = TmpPath("mixed.pcapng");
  auto ps = ExportToPath({rec1, rec2}, path);
  ASSERT_TRUE(ps.ok()) << ps.status();
  EXPECT_TRUE(ps->pcapng);
  char err_buf[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO,
                                                      err_buf);
  ASSERT_NE(p, nullptr) << err_buf;
  pcap_pkthdr* h;
  const u_char* data;
  ASSERT_EQ(pcap_next_ex(p, &h, &data), 1);
  EXPECT_EQ(h->caplen, a.frame.caplen);
  EXPECT_EQ(uint64_t(h->ts.tv_sec) * 1000000000ull + uint64_t(h->ts.tv_usec), kT0);
  pcap_close(p);
}

TEST(UdpFrame, TruncatedFramesAreRejected) {
  TestPacket a(kCaller, kAgent, {1, 2, 3, 4}, kT0);
  UdpView u;
  ASSERT_TRUE(ExtractUdp(LinkType::kEthernet, a.bytes, &u));
  EXPECT_EQ(u.src, kCaller);
  EXPECT_EQ(u.payload.size(), 4u);
  for (std::size_t n = 0; n < a.bytes.size(); ++n) {
    UdpView v;
    if (ExtractUdp(LinkType::kEthernet, std::span(a.bytes.data(), n), &v)) {
      EXPECT_LE(v.payload.data() + v.payload.size(), a.bytes.data() + n);
    }
  }
}

}  // namespace
}  // namespace callvault::exporter
