// Export speed from a real store (x real time): ExportCall as `callvault export` runs it —
// list the call's streams, read + verify + decrypt each block (XChaCha20-Poly1305), merge
// the legs by capture time, decode G.711 (or decrypt SRTP first), write the WAV / pcap
// into a file descriptor. Setup (untimed): a two-party G.711 call of N seconds is written
// as a pcap and ingested through the real pipeline into a temporary store.
// Items = seconds of call, so items/s is "x real time". Figures: docs/BENCHMARKS.md.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <sodium.h>
#include <srtp2/srtp.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "appliance/export/g711.h"
#include "appliance/media/test_util.h"
#include "cli/commands/export_call.h"
#include "cli/commands/ingest.h"
#include "storage/store.h"

namespace callvault::cli {
namespace {

using media::testing::Ep;
using media::testing::RtpBytes;
using media::testing::TestPacket;

constexpr uint64_t kMs = 1000000;
constexpr uint64_t kT0 = 1795824000ull * 1000000000ull;

std::string Sip(const std::string& start, const std::string& cseq, const std::string& to_tag,
                const std::string& sdp) {
  return fmt::format(
      "{}\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK{}\r\nFrom: <sip:+12025550143@x>;tag=ta\r\n"
      "To: <sip:2001@x>{}\r\nCall-ID: bench@10.0.0.1\r\nCSeq: {}\r\n{}Content-Length: {}\r\n\r\n{}",
      start, cseq[0], to_tag.empty() ? "" : ";tag=" + to_tag, cseq,
      sdp.empty() ? "" : "Content-Type: application/sdp\r\n", sdp.size(), sdp);
}

std::string Sdp(int host, int port, const std::string& proto, const std::string& crypto) {
  return fmt::format(
      "v=0\r\no=- 1 1 IN IP4 10.0.0.{0}\r\ns=-\r\nc=IN IP4 10.0.0.{0}\r\nt=0 0\r\n"
      "m=audio {1} {2} 0\r\na=rtpmap:0 PCMU/8000\r\n{3}",
      host, port, proto, crypto);
}

struct Fixture {
  std::string dir;
  std::unique_ptr<Store> store;
  CallId id;
  ~Fixture() {
    store.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

// One store per (seconds, srtp) case, built once.
Fixture* Build(int seconds, bool srtp) {
  static std::map<std::pair<int, bool>, std::unique_ptr<Fixture>> cache;
  auto& f = cache[{seconds, srtp}];
  if (f) return f.get();
  f = std::make_unique<Fixture>();
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base ? base : "/tmp") + "/cv_export_bench_XXXXXX";
  f->dir = ::mkdtemp(tmpl.data());
  StoreOptions o;
  o.config.path = f->dir + "/store";
  o.config.key_file = f->dir + "/master.key";
  o.create = true;
  if (!InitKeyFile(o.config.key_file).ok()) return nullptr;
  auto st = Store::Open(o);
  if (!st.ok()) return nullptr;
  f->store = std::move(*st);

  std::vector<uint8_t> key(30);
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = uint8_t(i * 11 + 3);
  std::string b64(64, '\0');
  sodium_bin2base64(b64.data(), b64.size(), key.data(), key.size(), sodium_base64_VARIANT_ORIGINAL);
  b64.resize(std::strlen(b64.c_str()));
  std::string crypto = srtp ? "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + b64 + "\r\n" : "";
  std::string proto = srtp ? "RTP/SAVP" : "RTP/AVP";
  srtp_t tx[2] = {nullptr, nullptr};
  if (srtp) {
    srtp_init();
    for (srtp_t& t : tx) {
      srtp_policy_t p{};
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtp);
      p.rtcp = p.rtp;
      p.ssrc.type = ssrc_any_outbound;
      p.key = key.data();
      if (srtp_create(&t, &p) != srtp_err_status_ok) return nullptr;
    }
  }
  std::string pcap = f->dir + "/call.pcap";
  pcap_t* dead = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 65535, PCAP_TSTAMP_PRECISION_NANO);
  pcap_dumper_t* d = pcap_dump_open(dead, pcap.c_str());
  auto put = [&](const Endpoint& s, const Endpoint& t, const std::vector<uint8_t>& payload,
                 uint64_t ts) {
    TestPacket p(s, t, payload, ts);
    pcap_pkthdr h{};
    h.ts.tv_sec = time_t(ts / 1000000000ull);
    h.ts.tv_usec = suseconds_t(ts % 1000000000ull);
    h.caplen = h.len = uint32_t(p.bytes.size());
    pcap_dump(reinterpret_cast<u_char*>(d), &h, p.bytes.data());
  };
  auto text = [](const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); };
  Endpoint a = Ep(0x0a000001, 5060), b = Ep(0x0a000002, 5060);
  Endpoint ra = Ep(0x0a000001, 16384), rb = Ep(0x0a000002, 20000);
  put(a, b, text(Sip("INVITE sip:2001@x SIP/2.0", "1 INVITE", "", Sdp(1, 16384, proto, crypto))), kT0);
  put(b, a, text(Sip("SIP/2.0 200 OK", "1 INVITE", "tb", Sdp(2, 20000, proto, crypto))), kT0 + 500 * kMs);
  std::vector<uint8_t> tone[2];
  for (int p = 0; p < 2; ++p) {
    for (int k = 0; k < 160; ++k) {
      tone[p].push_back(exporter::LinearToMulaw(int16_t(8000 * std::sin(2 * M_PI * (p ? 1000 : 440) * k / 8000.0))));
    }
  }
  const int n = seconds * 50;
  std::vector<uint8_t> buf;
  for (int i = 0; i < n; ++i) {
    uint64_t ts = kT0 + 600 * kMs + uint64_t(i) * 20 * kMs;
    for (int p = 0; p < 2; ++p) {
      buf = RtpBytes(uint16_t(i), 160u * uint32_t(i), uint32_t(p + 1), 0, tone[p]);
      if (srtp) {
        int len = int(buf.size());
        buf.resize(buf.size() + SRTP_MAX_TRAILER_LEN);
        if (srtp_protect(tx[p], buf.data(), &len) != srtp_err_status_ok) return nullptr;
        buf.resize(std::size_t(len));
      }
      put(p ? rb : ra, p ? ra : rb, buf, ts + uint64_t(p) * kMs);
    }
  }
  put(a, b, text(Sip("BYE sip:2001@x SIP/2.0", "2 BYE", "tb", "")), kT0 + 700 * kMs + uint64_t(n) * 20 * kMs);
  pcap_dump_close(d);
  pcap_close(dead);
  for (srtp_t t : tx) {
    if (t) srtp_dealloc(t);
  }
  auto r = IngestFiles(Config{}, *f->store, {pcap}, {});
  std::filesystem::remove(pcap);
  if (!r.ok() || r->call_ids.size() != 1) return nullptr;
  f->id = *CallId::Parse(r->call_ids[0]);
  return f.get();
}

void Run(benchmark::State& state, const std::string& format, bool srtp) {
  int seconds = int(state.range(0));
  Fixture* f = Build(seconds, srtp);
  if (f == nullptr) {
    state.SkipWithError("setup failed");
    return;
  }
  std::string out = f->dir + "/out." + format;
  uint64_t bytes = 0;
  for (auto _ : state) {
    int fd = ::open(out.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    auto r = ExportCall(*f->store, f->id, format, fd, {});
    ::close(fd);
    if (!r.ok()) {
      state.SkipWithError(std::string(r.status().message()).c_str());
      return;
    }
    if (srtp && (*r)["srtp_decrypted"].get<uint64_t>() != uint64_t(seconds) * 100) {
      state.SkipWithError("SRTP packets not all decrypted");
      return;
    }
    bytes = (*r)["bytes"].get<uint64_t>();
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * seconds);  // call seconds
  state.SetBytesProcessed(int64_t(state.iterations() * bytes));     // output bytes
}

void BM_Export_StoreWav(benchmark::State& state) { Run(state, "wav", false); }
void BM_Export_StoreWavSrtp(benchmark::State& state) { Run(state, "wav", true); }
void BM_Export_StorePcap(benchmark::State& state) { Run(state, "pcap", false); }

BENCHMARK(BM_Export_StoreWav)->Arg(60)->Arg(3600)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Export_StoreWavSrtp)->Arg(60)->Arg(3600)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Export_StorePcap)->Arg(60)->Arg(3600)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace callvault::cli
