// Media over public captures (tests/data, see SOURCES.md): RTP packets recorded per
// direction must equal an independent count, and the exported WAVs must decode.
// Matching is driven from the SDP by hand (the endpoints below are the captures' SDP
// c=/m= lines, read with
//   tshark -r F -Y sdp -T fields -e sdp.connection_info.address -e sdp.media.port
// ). Expected counts come from
//   tshark -r F -q -o rtp.heuristic_rtp:TRUE -z rtp,streams   (tshark 4.0.17)
// Usage: export_capture_test <tests/data dir>
#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <cmath>
#include <map>
#include <string>

#include "appliance/export/udp_frame.h"
#include "appliance/export/wav_export.h"
#include "appliance/media/media_engine.h"
#include "appliance/media/test_util.h"

namespace callvault::exporter {
namespace {

std::string g_data_dir;

using media::testing::CollectingObserver;
using media::testing::CollectingSink;

Endpoint E(const char* ip, uint16_t port) { return Endpoint{*IpAddress::Parse(ip), port}; }

struct Publication {
  uint32_t at_frame;  // applied before this frame (1-based)
  Endpoint a, b;      // side A (INVITE sender) and side B receive addresses
  std::vector<calls::PayloadType> pts;
  bool ended = false;
  std::string call;
};

calls::MediaSession ToSession(const Publication& p, uint64_t ts) {
  calls::MediaSession s;
  s.call_id = CallId::Make(1, p.call);
  s.ts_ns = ts;
  s.ended = p.ended;
  for (int side = 0; side < 2; ++side) {
    calls::MediaStream m;
    m.rtp = side == 0 ? p.a : p.b;
    m.rtcp = Endpoint{m.rtp.ip, uint16_t(m.rtp.port + 1)};
    m.payload_types = p.pts;
    s.side[side].announced = true;
    s.side[side].streams.push_back(m);
  }
  return s;
}

struct Result {
  std::map<std::string, uint64_t> rtp_by_src;  // "ip:port" -> RTP frames recorded
  CollectingSink sink;
  CollectingObserver obs;
  uint64_t drops = 0;
};

void RunCapture(const std::string& file, const std::vector<Publication>& pubs, Result* r) {
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline_with_tstamp_precision((g_data_dir + "/" + file).c_str(),
                                                      PCAP_TSTAMP_PRECISION_NANO, err);
  ASSERT_NE(p, nullptr) << err;
  media::MediaEngineOptions o;
  o.max_legs = 64;
  media::MediaEngine eng(o, &r->sink, &r->obs);
  pcap_pkthdr* h;
  const u_char* data;
  uint32_t n = 0;
  uint64_t last_ts = 0;
  LinkType link = static_cast<LinkType>(pcap_datalink(p));
  while (pcap_next_ex(p, &h, &data) == 1) {
    ++n;
    Frame f;
    f.data = data;
    f.caplen = h->caplen;
    f.wirelen = h->len;
    f.ts_ns = uint64_t(h->ts.tv_sec) * 1000000000ull + uint64_t(h->ts.tv_usec);
    f.link = link;
    last_ts = f.ts_ns;
    for (const Publication& pub : pubs) {
      if (pub.at_frame == n) eng.OnMediaChanged(ToSession(pub, f.ts_ns));
    }
    UdpView u;
    if (!ExtractUdp(link, f.bytes(), &u)) continue;  // TCP SIP etc.
    if (u.src.port == 5060 || u.dst.port == 5060) continue;  // signalling
    decode::DecodedPacket pkt;
    pkt.frame = &f;
    pkt.l4 = decode::L4Proto::kUdp;
    pkt.src = u.src;
    pkt.dst = u.dst;
    pkt.payload = u.payload;
    eng.OnPacket(pkt);
    eng.Advance(f.ts_ns);
  }
  pcap_close(p);
  eng.Advance(last_ts + 10ull * 1000000000ull);
  eng.Finish();
  r->drops = eng.drops().Total() - eng.drops()[media::MediaDrop::kNotRtp];
  for (const auto& b : r->sink.blocks) {
    if (b.info.kind != StreamKind::kRtp) continue;
    FrameRecordReader rd(b.payload);
    while (auto v = rd.Next()) {
      UdpView u;
      ASSERT_TRUE(ExtractUdp(v->link, v->bytes, &u));
      ++r->rtp_by_src[u.src.ToString()];
    }
  }
}

// Exports the call's RTP legs and returns the WAV's per-channel RMS.
std::array<double, 2> ExportAndMeasure(Result& r, const std::vector<media::Codec>& codecs,
                                       const std::map<uint8_t, media::Codec>& dyn,
                                       const std::string& name, uint32_t* rate,
                                       WavExportStats* out_stats = nullptr) {
  std::map<std::pair<CallId, uint16_t>, std::vector<std::span<const uint8_t>>> legs;
  std::map<std::pair<CallId, uint16_t>, LegDirection> dir;
  for (const auto& b : r.sink.blocks) {
    if (b.info.kind != StreamKind::kRtp) continue;
    legs[{b.info.call_id, b.info.leg}].push_back(b.payload);
    dir[{b.info.call_id, b.info.leg}] = static_cast<LegDirection>(b.info.direction);
  }
  // The first call only.
  CallId first = legs.begin()->first.first;
  std::vector<std::unique_ptr<BlockFrameSource>> srcs;
  std::vector<ExportStream> streams;
  for (auto& [k, payloads] : legs) {
    if (k.first != first) continue;
    srcs.push_back(std::make_unique<BlockFrameSource>(payloads));
    ExportStream s;
    s.direction = dir[k];
    s.frames = srcs.back().get();
    s.codecs = codecs;
    for (auto [pt, c] : dyn) s.payloads.Set(pt, c, c == media::Codec::kOpus ? 48000 : 8000);
    streams.push_back(std::move(s));
  }
  std::string path = ::testing::TempDir() + "/callvault_capture_" + name + ".wav";
  WavExportStats st;
  absl::Status s = ExportWav(streams, path, {}, &st);
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(st.undecodable, 0u) << name;
  *rate = st.sample_rate;
  if (out_stats) *out_stats = st;
  // Read back.
  FILE* f = std::fopen(path.c_str(), "rb");
  std::array<double, 2> e{0, 0};
  if (!f) return e;
  std::fseek(f, 44, SEEK_SET);
  int16_t lr[2];
  uint64_t n = 0;
  while (std::fread(lr, 2, 2, f) == 2) {
    e[0] += double(lr[0]) * lr[0];
    e[1] += double(lr[1]) * lr[1];
    ++n;
  }
  std::fclose(f);
  if (n) {
    e[0] = std::sqrt(e[0] / double(n));
    e[1] = std::sqrt(e[1] / double(n));
  }
  return e;
}

const std::vector<calls::PayloadType> kG711 = {{0, "PCMU", 8000, 1}, {8, "PCMA", 8000, 1},
                                               {13, "CN", 8000, 1},
                                               {101, "telephone-event", 8000, 1}};

TEST(Capture, SipRtpG711TwoCalls) {
  // Frames 1-5: call 1 (PCMU), BYE at 432; frames 434-438: call 2 (PCMA) on the same
  // SIPp port 6000 (tshark -Y sip: 4 = 200 with SDP port 27942, 437 = 200 port 28102).
  Result r;
  RunCapture("wswiki_sip-rtp-g711.pcap",
      {{4, E("10.0.2.20", 6000), E("10.0.2.15", 27942), kG711, false, "c1"},
       {432, E("10.0.2.20", 6000), E("10.0.2.15", 27942), kG711, true, "c1"},
       {437, E("10.0.2.20", 6000), E("10.0.2.15", 28102), kG711, false, "c2"}},
      &r);
  // tshark rtp,streams: 10.0.2.15:27942 -> :6000 g711U 425; 10.0.2.15:28102 g711A 414.
  EXPECT_EQ(r.rtp_by_src["10.0.2.15:27942"], 425u);
  EXPECT_EQ(r.rtp_by_src["10.0.2.15:28102"], 414u);
  EXPECT_EQ(r.rtp_by_src.size(), 2u);
  EXPECT_EQ(r.drops, 0u);
  uint32_t rate;
  auto rms = ExportAndMeasure(r, {media::Codec::kPcmu}, {{101, media::Codec::kTelephoneEvent}},
                              "g711", &rate);
  EXPECT_EQ(rate, 8000u);
  // One-way RTP from FreeSWITCH (side B, channel 1); SIPp sends nothing.
  EXPECT_GT(rms[1], 100.0);
  EXPECT_EQ(rms[0], 0.0);
}

TEST(Capture, SipTcpPcmaBothWaysWithCn) {
  Result r;
  RunCapture("heplify_sip_ipv4_tcp_rtp_pcma.pcap",
      {{1, E("10.33.6.100", 6000), E("10.33.6.101", 6050), kG711, false, "tcp"}}, &r);
  // tshark: 10.33.6.100:6000 -> :6050 24 pkts; 10.33.6.101:6050 -> :6000 42 pkts.
  EXPECT_EQ(r.rtp_by_src["10.33.6.100:6000"], 24u);
  EXPECT_EQ(r.rtp_by_src["10.33.6.101:6050"], 42u);
  EXPECT_EQ(r.drops, 0u);
  uint32_t rate;
  auto rms = ExportAndMeasure(r, {media::Codec::kPcma}, {{101, media::Codec::kTelephoneEvent}},
                              "pcma", &rate);
  EXPECT_GT(rms[0] + rms[1], 10.0);
}

TEST(Capture, PrackPcmaBothWays) {
  Result r;
  RunCapture("sipnab_rtp-protocol_prack.pcap",
      {{1, E("10.33.6.101", 6040), E("10.33.6.100", 6020), kG711, false, "prack"}}, &r);
  // tshark: 10.33.6.101:6040 -> :6020 201 pkts; 10.33.6.100:6020 -> :6040 47 pkts.
  EXPECT_EQ(r.rtp_by_src["10.33.6.101:6040"], 201u);
  EXPECT_EQ(r.rtp_by_src["10.33.6.100:6020"], 47u);
  EXPECT_EQ(r.drops, 0u);
}

TEST(Capture, G722ExportsAt16k) {
  Result r;
  RunCapture("wswiki_sip-rtp-g722.pcap",
      {{1, E("10.0.2.20", 6000), E("10.0.2.15", 17472), {{9, "G722", 8000, 1}}, false, "g722"}},
      &r);
  EXPECT_EQ(r.rtp_by_src["10.0.2.15:17472"], 425u);  // tshark: g722 425
  uint32_t rate;
  auto rms = ExportAndMeasure(r, {media::Codec::kG722}, {}, "g722", &rate);
  EXPECT_EQ(rate, 16000u);
  EXPECT_GT(rms[1], 100.0);
}

TEST(Capture, G729Decodes) {
  Result r;
  RunCapture("wswiki_sip-rtp-g729a.pcap",
      {{1, E("10.0.2.20", 6000), E("10.0.2.15", 28120), {{18, "G729", 8000, 1}}, false, "g729"}},
      &r);
  EXPECT_EQ(r.rtp_by_src["10.0.2.15:28120"], 425u);  // tshark: g729 425
  uint32_t rate;
  auto rms = ExportAndMeasure(r, {media::Codec::kG729}, {}, "g729", &rate);
  EXPECT_EQ(rate, 8000u);
  EXPECT_GT(rms[1], 100.0);
}

TEST(Capture, OpusBothWaysAt48k) {
  Result r;
  RunCapture("sipnab_invite-opus-bye.pcap",
      {{1, E("127.0.0.1", 5084), E("127.0.0.1", 5094), {{96, "opus", 48000, 2}}, false, "opus"}},
      &r);
  // tshark: 127.0.0.1:5084 -> :5094 152; :5094 -> :5084 152.
  EXPECT_EQ(r.rtp_by_src["127.0.0.1:5084"], 152u);
  EXPECT_EQ(r.rtp_by_src["127.0.0.1:5094"], 152u);
  uint32_t rate;
  WavExportStats st;
  ExportAndMeasure(r, {media::Codec::kOpus}, {{96, media::Codec::kOpus}}, "opus", &rate, &st);
  EXPECT_EQ(rate, 48000u);
  // The lab payloads (TOC 0xfc then filler bytes) decode to near silence, so check that
  // every packet decoded and the timeline spans the 3 s of RTP (152 x 20 ms per side).
  EXPECT_EQ(st.packets_decoded, 304u);
  EXPECT_GE(st.frames_written, 151u * 960);
  EXPECT_LE(st.frames_written, 153u * 960);
}

}  // namespace
}  // namespace callvault::exporter

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc > 1) callvault::exporter::g_data_dir = argv[1];
  return RUN_ALL_TESTS();
}
