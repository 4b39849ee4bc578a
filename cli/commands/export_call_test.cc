// ExportCall end to end: a capture written by the test (SIP with SDES keys + SRTP made
// with libsrtp2 under those keys; DTLS-SRTP; a long plain call) -> IngestFiles -> Store
// -> ExportCall into a descriptor -> the WAV read back. Expected values come from the
// test's own construction: the tone each party sends, the packets it tampered with.
#include "cli/commands/export_call.h"

#include <fcntl.h>
#include <malloc.h>
#include <pcap/pcap.h>
#include <sodium.h>
#include <srtp2/srtp.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "appliance/export/g711.h"
#include "appliance/export/tone_probe.h"
#include "appliance/media/test_util.h"
#include "cli/commands/ingest.h"
#include "storage/testing/store_test_util.h"

namespace callvault::cli {
namespace {

using exporter::testing::Power;
using exporter::testing::Rms;

using media::testing::Ep;
using media::testing::RtpBytes;
using media::testing::TestPacket;

constexpr uint64_t kMs = 1000000;
constexpr uint64_t kT0 = 1795824000ull * 1000000000ull;  // 2026-11-28
const Endpoint kCallerSip = Ep(0x0a000001, 5060), kAgentSip = Ep(0x0a000002, 5060);
const Endpoint kCallerRtp = Ep(0x0a000001, 16384), kAgentRtp = Ep(0x0a000002, 20000);

std::vector<uint8_t> Tone(double hz, int packet) {
  std::vector<uint8_t> out(160);
  for (int k = 0; k < 160; ++k) {
    double t = double(packet * 160 + k) / 8000.0;
    out[std::size_t(k)] = exporter::LinearToMulaw(int16_t(8000 * std::sin(2 * M_PI * hz * t)));
  }
  return out;
}

std::vector<int16_t> Channel(const std::string& path, int ch) {
  std::ifstream f(path, std::ios::binary);
  std::vector<uint8_t> d((std::istreambuf_iterator<char>(f)), {});
  std::vector<int16_t> out;
  for (std::size_t i = 44 + std::size_t(ch) * 2; i + 1 < d.size(); i += 4) {
    out.push_back(int16_t(d[i] | d[i + 1] << 8));
  }
  return out;
}

std::string B64(const std::vector<uint8_t>& key) {
  std::string out(sodium_base64_ENCODED_LEN(key.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), key.data(), key.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);
  return out;
}

std::vector<uint8_t> Key(uint8_t seed) {
  std::vector<uint8_t> k(30);
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = uint8_t(seed * 31 + i);
  return k;
}

class Protector {
 public:
  Protector(bool sha1_32, std::vector<uint8_t> key) : key_(std::move(key)) {
    srtp_init();
    srtp_policy_t p{};
    if (sha1_32) {
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&p.rtp);
    } else {
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtp);
    }
    p.rtcp = p.rtp;
    p.ssrc.type = ssrc_any_outbound;
    p.key = key_.data();
    EXPECT_EQ(srtp_create(&ctx_, &p), srtp_err_status_ok);
  }
  ~Protector() { srtp_dealloc(ctx_); }
  std::vector<uint8_t> Protect(std::vector<uint8_t> rtp) {
    int len = int(rtp.size());
    rtp.resize(rtp.size() + SRTP_MAX_TRAILER_LEN);
    EXPECT_EQ(srtp_protect(ctx_, rtp.data(), &len), srtp_err_status_ok);
    rtp.resize(std::size_t(len));
    return rtp;
  }

 private:
  std::vector<uint8_t> key_;
  srtp_t ctx_ = nullptr;
};

std::string Branch(std::string cseq) {
  std::erase(cseq, ' ');
  return cseq;
}

// Frames in capture order, written as a nanosecond pcap.
class Capture {
 public:
  void Add(const Endpoint& s, const Endpoint& d, const std::vector<uint8_t>& payload, uint64_t ts) {
    TestPacket p(s, d, payload, ts);
    frames_.push_back({ts, p.bytes});
  }
  void Sip(const Endpoint& s, const Endpoint& d, uint64_t ts, const std::string& start,
           const std::string& call_id, const std::string& from_tag, const std::string& to_tag,
           const std::string& cseq, const std::string& sdp = "") {
    std::string m = fmt::format(
        "{}\r\nVia: SIP/2.0/UDP {}:5060;branch=z9hG4bK{}\r\nFrom: <sip:+12025550143@x>;tag={}\r\n"
        "To: <sip:2001@x>{}\r\nCall-ID: {}\r\nCSeq: {}\r\nContact: <sip:a@10.0.0.1>\r\n"
        "{}Content-Length: {}\r\n\r\n{}",
        start, "10.0.0.1", Branch(cseq), from_tag,
        to_tag.empty() ? "" : ";tag=" + to_tag, call_id, cseq,
        sdp.empty() ? "" : "Content-Type: application/sdp\r\n", sdp.size(), sdp);
    Add(s, d, std::vector<uint8_t>(m.begin(), m.end()), ts);
  }
  void Write(const std::string& path) {
    std::stable_sort(frames_.begin(), frames_.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    pcap_t* dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 65535, PCAP_TSTAMP_PRECISION_NANO);
    pcap_dumper_t* d = pcap_dump_open(dead, path.c_str());
    ASSERT_NE(d, nullptr);
    for (const auto& [ts, bytes] : frames_) {
      pcap_pkthdr h{};
      h.ts.tv_sec = time_t(ts / 1000000000ull);
      h.ts.tv_usec = suseconds_t(ts % 1000000000ull);
      h.caplen = h.len = uint32_t(bytes.size());
      pcap_dump(reinterpret_cast<u_char*>(d), &h, bytes.data());
    }
    pcap_dump_close(d);
    pcap_close(dead);
  }

 private:
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> frames_;
};

std::string Sdp(const Endpoint& rtp, const std::string& proto, const std::string& attrs) {
  return fmt::format(
      "v=0\r\no=- 1 1 IN IP4 {0}\r\ns=-\r\nc=IN IP4 {0}\r\nt=0 0\r\nm=audio {1} {2} 0\r\n"
      "a=rtpmap:0 PCMU/8000\r\na=ptime:20\r\n{3}",
      fmt::format("10.0.0.{}", rtp.ip.bytes[15]), rtp.port, proto, attrs);
}

class ExportCallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions o = callvault::testing::MakeOptions(dir_);
    ASSERT_TRUE(InitKeyFile(o.config.key_file).ok());
    auto s = Store::Open(o);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }
  // Ingests the capture; returns the one call's id.
  CallId Ingest(Capture& cap) {
    std::string pcap = dir_.path() + "/in.pcap";
    cap.Write(pcap);
    auto r = IngestFiles(Config{}, *store_, {pcap}, {});
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok() || r->call_ids.size() != 1) {
      ADD_FAILURE() << "calls: " << (r.ok() ? r->call_ids.size() : 0);
      return CallId{};
    }
    return *CallId::Parse(r->call_ids[0]);
  }
  absl::StatusOr<nlohmann::json> Export(CallId id, const std::string& format,
                                        const std::string& out) {
    int fd = ::open(out.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    EXPECT_GE(fd, 0);
    auto r = ExportCall(*store_, id, format, fd, {});
    ::close(fd);
    return r;
  }

  callvault::testing::TempDir dir_;
  std::unique_ptr<Store> store_;
};

// Caller (side A): AES_CM_128_HMAC_SHA1_80, re-keyed by a re-INVITE at 4 s (two packets
// under the old key still in flight after it), sequence numbers crossing 65535. Agent:
// AES_CM_128_HMAC_SHA1_32; five of its packets are altered on the wire.
TEST_F(ExportCallTest, SrtpWithSdesKeysDecryptsEachPartyWithItsOwnKey) {
  Capture cap;
  const std::string cid = "srtp-call@10.0.0.1";
  std::vector<uint8_t> ka = Key(1), ka2 = Key(2), kb = Key(3);
  std::string crypto_a = "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + B64(ka) + "|2^31\r\n";
  std::string crypto_a2 = "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + B64(ka2) + "\r\n";
  std::string crypto_b = "a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:" + B64(kb) + "\r\n";
  cap.Sip(kCallerSip, kAgentSip, kT0, "INVITE sip:2001@x SIP/2.0", cid, "ta", "", "1 INVITE",
          Sdp(kCallerRtp, "RTP/SAVP", crypto_a));
  cap.Sip(kAgentSip, kCallerSip, kT0 + 1000 * kMs, "SIP/2.0 200 OK", cid, "ta", "tb", "1 INVITE",
          Sdp(kAgentRtp, "RTP/SAVP", crypto_b));
  cap.Sip(kCallerSip, kAgentSip, kT0 + 1010 * kMs, "ACK sip:2001@x SIP/2.0", cid, "ta", "tb", "1 ACK");
  const uint64_t rekey = kT0 + 4000 * kMs;
  cap.Sip(kCallerSip, kAgentSip, rekey, "INVITE sip:2001@x SIP/2.0", cid, "ta", "tb", "2 INVITE",
          Sdp(kCallerRtp, "RTP/SAVP", crypto_a2));
  cap.Sip(kAgentSip, kCallerSip, rekey + 5 * kMs, "SIP/2.0 200 OK", cid, "ta", "tb", "2 INVITE",
          Sdp(kAgentRtp, "RTP/SAVP", crypto_b));
  cap.Sip(kCallerSip, kAgentSip, rekey + 10 * kMs, "ACK sip:2001@x SIP/2.0", cid, "ta", "tb", "2 ACK");
  Protector pa(false, ka), pa2(false, ka2), pb(true, kb);
  const int n = 300;  // 6 s of audio each way from 1.02 s
  int rekeyed_from = -1;
  for (int i = 0; i < n; ++i) {
    uint64_t ts = kT0 + 1020 * kMs + uint64_t(i) * 20 * kMs;
    auto rtp_a = RtpBytes(uint16_t(65400 + i), 160u * uint32_t(i), 0xa1a1, 0, Tone(440, i));
    // The caller switches keys two packets after the re-INVITE (RTP lags SIP).
    bool new_key = ts > rekey + 40 * kMs;
    if (new_key && rekeyed_from < 0) rekeyed_from = i;
    cap.Add(kCallerRtp, kAgentRtp, new_key ? pa2.Protect(rtp_a) : pa.Protect(rtp_a), ts);
    auto srtp_b = pb.Protect(RtpBytes(uint16_t(100 + i), 160u * uint32_t(i), 0xb2b2, 0, Tone(1000, i)));
    if (i >= 100 && i < 105) srtp_b[20] ^= 0x40;  // altered on the wire
    cap.Add(kAgentRtp, kCallerRtp, srtp_b, ts + 3 * kMs);
  }
  ASSERT_GT(rekeyed_from, 0);
  cap.Sip(kCallerSip, kAgentSip, kT0 + 7500 * kMs, "BYE sip:2001@x SIP/2.0", cid, "ta", "tb", "3 BYE");
  cap.Sip(kAgentSip, kCallerSip, kT0 + 7510 * kMs, "SIP/2.0 200 OK", cid, "ta", "tb", "3 BYE");
  CallId id = Ingest(cap);
  auto call = store_->GetCall(id);
  ASSERT_TRUE(call.ok()) << call.status();
  ASSERT_EQ(call->record.legs.size(), 2u);
  for (const MediaLeg& l : call->record.legs) {
    EXPECT_TRUE(l.encrypted_media) << l.leg;
    EXPECT_EQ(l.packets, 300u);
  }

  std::string out = dir_.path() + "/srtp.wav";
  auto r = Export(id, "wav", out);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)["srtp_auth_failures"], 5) << r->dump();
  EXPECT_EQ((*r)["srtp_decrypted"], 2 * n - 5) << r->dump();
  EXPECT_EQ((*r)["encrypted_packets"], 0);
  ASSERT_EQ((*r)["warnings"].size(), 1u) << r->dump();  // the auth failures, nothing else
  std::vector<int16_t> ch0 = Channel(out, 0), ch1 = Channel(out, 1);
  ASSERT_GE(ch0.size(), std::size_t(n) * 160);
  // Before and after the caller's key change: each channel's dominant tone is its party's.
  for (std::size_t at : {std::size_t(50) * 160, std::size_t(rekeyed_from + 20) * 160}) {
    EXPECT_GT(Power(ch0, at, 1600, 440), 100 * Power(ch0, at, 1600, 1000)) << at;
    EXPECT_GT(Power(ch1, at + 24, 1600, 1000), 100 * Power(ch1, at + 24, 1600, 440)) << at;
    EXPECT_GT(Rms(ch0, at, 1600), 3000) << at;
  }
  // The packets around the re-key, the old-key ones in flight included, are all audio.
  EXPECT_GT(Rms(ch0, std::size_t(rekeyed_from - 3) * 160, 6 * 160), 3000);
  // The altered agent packets are silence, not noise; their neighbours are tone.
  EXPECT_LT(Rms(ch1, 100 * 160 + 24, 5 * 160), 1.0);
  EXPECT_GT(Rms(ch1, 95 * 160 + 24, 5 * 160), 3000);
  EXPECT_GT(Rms(ch1, 105 * 160 + 24, 5 * 160), 3000);

  // pcap export gives the encrypted frames as captured.
  auto p = Export(id, "pcap", dir_.path() + "/srtp.pcap");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ((*p)["frames"], 2 * n + 8);
}

TEST_F(ExportCallTest, DtlsSrtpLegsAreSilentWithOneLineEach) {
  Capture cap;
  const std::string cid = "dtls-call@10.0.0.1";
  std::string attrs = "a=fingerprint:sha-256 12:34:56\r\na=setup:actpass\r\n";
  cap.Sip(kCallerSip, kAgentSip, kT0, "INVITE sip:2001@x SIP/2.0", cid, "ta", "", "1 INVITE",
          Sdp(kCallerRtp, "UDP/TLS/RTP/SAVP", attrs));
  cap.Sip(kAgentSip, kCallerSip, kT0 + 500 * kMs, "SIP/2.0 200 OK", cid, "ta", "tb", "1 INVITE",
          Sdp(kAgentRtp, "UDP/TLS/RTP/SAVP", attrs));
  cap.Sip(kCallerSip, kAgentSip, kT0 + 510 * kMs, "ACK sip:2001@x SIP/2.0", cid, "ta", "tb", "1 ACK");
  Protector unknown_a(false, Key(7)), unknown_b(false, Key(8));  // DTLS-derived: never in SIP
  for (int i = 0; i < 100; ++i) {
    uint64_t ts = kT0 + 600 * kMs + uint64_t(i) * 20 * kMs;
    cap.Add(kCallerRtp, kAgentRtp,
            unknown_a.Protect(RtpBytes(uint16_t(i), 160u * uint32_t(i), 1, 0, Tone(440, i))), ts);
    cap.Add(kAgentRtp, kCallerRtp,
            unknown_b.Protect(RtpBytes(uint16_t(i), 160u * uint32_t(i), 2, 0, Tone(1000, i))), ts);
  }
  cap.Sip(kCallerSip, kAgentSip, kT0 + 3000 * kMs, "BYE sip:2001@x SIP/2.0", cid, "ta", "tb", "2 BYE");
  CallId id = Ingest(cap);
  std::string out = dir_.path() + "/dtls.wav";
  auto r = Export(id, "wav", out);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)["encrypted_packets"], 200);
  EXPECT_EQ((*r)["srtp_decrypted"], 0);
  ASSERT_EQ((*r)["warnings"].size(), 2u) << r->dump();
  for (const auto& w : (*r)["warnings"]) {
    EXPECT_NE(w.get<std::string>().find("DTLS-SRTP"), std::string::npos) << w;
  }
  // Nothing decodable: a valid WAV without samples (no audio is invented).
  EXPECT_EQ((*r)["samples_per_channel"], 0);
  EXPECT_EQ(Channel(out, 0).size(), 0u);
}

long StatusKb(const char* field) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(field, 0) == 0) return std::atol(line.c_str() + std::strlen(field));
  }
  return -1;
}

// A 30-minute call (180,000 RTP frames, ~39 MB of stored frames): export streams it
// block by block — at most one decrypted block per stream is held, peak RSS grows by far
// less than the call's size — and writes nothing inside the store directory.
TEST_F(ExportCallTest, LongCallExportsInBoundedMemoryAndNothingInTheStore) {
  CallId id;
  const int n = 30 * 60 * 50;
  {  // the capture's 41 MB are freed before the export is measured
  Capture cap;
  const std::string cid = "long-call@10.0.0.1";
  cap.Sip(kCallerSip, kAgentSip, kT0, "INVITE sip:2001@x SIP/2.0", cid, "ta", "", "1 INVITE",
          Sdp(kCallerRtp, "RTP/AVP", ""));
  cap.Sip(kAgentSip, kCallerSip, kT0 + 500 * kMs, "SIP/2.0 200 OK", cid, "ta", "tb", "1 INVITE",
          Sdp(kAgentRtp, "RTP/AVP", ""));
  for (int i = 0; i < n; ++i) {
    uint64_t ts = kT0 + 600 * kMs + uint64_t(i) * 20 * kMs;
    cap.Add(kCallerRtp, kAgentRtp, RtpBytes(uint16_t(i), 160u * uint32_t(i), 1, 0, Tone(440, i % 50)), ts);
    cap.Add(kAgentRtp, kCallerRtp, RtpBytes(uint16_t(i), 160u * uint32_t(i), 2, 0, Tone(1000, i % 50)), ts + kMs);
  }
  uint64_t end = kT0 + 600 * kMs + uint64_t(n) * 20 * kMs;
  cap.Sip(kCallerSip, kAgentSip, end, "BYE sip:2001@x SIP/2.0", cid, "ta", "tb", "2 BYE");
  id = Ingest(cap);
  }
  auto call = store_->GetCall(id);
  ASSERT_TRUE(call.ok()) << call.status();
  ASSERT_GT(call->stored_bytes, 38u << 20);

  std::vector<std::string> before = callvault::testing::AllFiles(dir_.path() + "/store");
  std::string out = dir_.path() + "/long.wav";
  // Give freed heap back to the kernel (so the export cannot hide in pages the capture
  // left behind), then reset the peak-RSS mark (Linux >= 4.0: "5" sets VmHWM to VmRSS).
  ::malloc_trim(0);
  bool hwm_reset = false;
  {
    std::ofstream clear("/proc/self/clear_refs");
    clear << "5";
    clear.flush();
    hwm_reset = bool(clear);
  }
  long rss0 = StatusKb("VmRSS:");
  auto r = Export(id, "wav", out);
  long hwm = StatusKb("VmHWM:");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)["samples_per_channel"].get<uint64_t>(), uint64_t(n) * 160 + 8);
  // One decrypted block per RTP stream (2 legs), each <= the 64 KiB block size.
  EXPECT_LE((*r)["peak_block_bytes"].get<uint64_t>(), 2u * 66 * 1024) << r->dump();
  EXPECT_GT((*r)["peak_block_bytes"].get<uint64_t>(), 0u);
  std::fprintf(stderr, "long call export: peak_block_bytes %llu, peak RSS growth %ld KiB (reset %d)\n",
               static_cast<unsigned long long>((*r)["peak_block_bytes"].get<uint64_t>()),
               hwm - rss0, int(hwm_reset));
  if (hwm_reset && rss0 > 0 && hwm > 0) {
    EXPECT_LT(hwm - rss0, 16 * 1024) << "peak RSS grew by " << (hwm - rss0) << " KiB";
  }
  std::vector<int16_t> ch1 = Channel(out, 1);
  std::size_t at = std::size_t(n - 100) * 160;
  EXPECT_GT(Power(ch1, at, 1600, 1000), 100 * Power(ch1, at, 1600, 440));
  // Nothing was created (or left) inside the store directory by the export.
  EXPECT_EQ(callvault::testing::AllFiles(dir_.path() + "/store"), before);
}

TEST_F(ExportCallTest, TamperedBlockFailsTheExportAsIntegrityError) {
  Capture cap;
  const std::string cid = "tamper@10.0.0.1";
  cap.Sip(kCallerSip, kAgentSip, kT0, "INVITE sip:2001@x SIP/2.0", cid, "ta", "", "1 INVITE",
          Sdp(kCallerRtp, "RTP/AVP", ""));
  cap.Sip(kAgentSip, kCallerSip, kT0 + 500 * kMs, "SIP/2.0 200 OK", cid, "ta", "tb", "1 INVITE",
          Sdp(kAgentRtp, "RTP/AVP", ""));
  for (int i = 0; i < 1500; ++i) {  // 30 s: several blocks per leg
    uint64_t ts = kT0 + 600 * kMs + uint64_t(i) * 20 * kMs;
    cap.Add(kCallerRtp, kAgentRtp, RtpBytes(uint16_t(i), 160u * uint32_t(i), 1, 0, Tone(440, i)), ts);
  }
  cap.Sip(kCallerSip, kAgentSip, kT0 + 40000 * kMs, "BYE sip:2001@x SIP/2.0", cid, "ta", "tb", "2 BYE");
  CallId id = Ingest(cap);
  // Flip one byte in the middle of the largest segment file (inside some block).
  std::string seg;
  uintmax_t size = 0;
  for (const std::string& f : callvault::testing::AllFiles(dir_.path() + "/store/segments")) {
    if (std::filesystem::file_size(f) > size) {
      size = std::filesystem::file_size(f);
      seg = f;
    }
  }
  ASSERT_FALSE(seg.empty());
  {
    std::fstream f(seg, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(std::streamoff(size / 2));
    char c = 0;
    f.read(&c, 1);
    c = char(c ^ 0x10);
    f.seekp(std::streamoff(size / 2));
    f.write(&c, 1);
  }
  auto r = Export(id, "wav", dir_.path() + "/t.wav");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
}

}  // namespace
}  // namespace callvault::cli
