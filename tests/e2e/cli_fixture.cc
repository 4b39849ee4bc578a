// cli_fixture STORE_DIR KEY_FILE: creates a store (and the key file, if missing) holding
// three synthetic calls whose contents the CLI end-to-end tests know, and prints them as
// JSON: {"calls":[{"call_id":..,"ani":..,"agent":..,"state":..},...]}.
//   call 0: ANI +12025550143, dialled +18008291040, agent Jane Doe (2001), answered,
//           2026-11-20T10:00:00Z, 60 s; 50 G.711 µ-law RTP packets each way (a 1 kHz
//           tone from the caller, silence from the agent) in Ethernet/IPv4/UDP frames.
//   call 1: ANI +12025550199, agent John Roe (2002), cancelled, 2026-11-21T10:00:00Z.
//   call 2: ANI +12025550143, agent John Roe (2002), failed, 2026-11-22T10:00:00Z.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "appliance/common/frame.h"
#include "appliance/common/frame_record.h"
#include "appliance/common/time_util.h"
#include "storage/store.h"

namespace callvault {
namespace {

constexpr uint64_t kDay20 = 1795132800ull * kNsPerSec;  // 2026-11-20T00:00:00Z

uint8_t LinearToUlaw(int16_t pcm) {
  const int kBias = 0x84;
  int sign = pcm < 0 ? 0x80 : 0;
  int v = pcm < 0 ? -pcm : pcm;
  if (v > 32635) v = 32635;
  v += kBias;
  int exp = 7;
  for (int mask = 0x4000; (v & mask) == 0 && exp > 0; mask >>= 1) --exp;
  int mant = (v >> (exp + 3)) & 0x0f;
  return static_cast<uint8_t>(~(sign | (exp << 4) | mant));
}

std::vector<uint8_t> RtpFrame(uint32_t src_ip, uint16_t sport, uint32_t dst_ip, uint16_t dport,
                              uint16_t seq, uint32_t ts, uint32_t ssrc, double tone_hz) {
  std::vector<uint8_t> f;
  auto put16 = [&f](uint16_t v) {
    f.push_back(uint8_t(v >> 8));
    f.push_back(uint8_t(v));
  };
  auto put32 = [&](uint32_t v) {
    put16(uint16_t(v >> 16));
    put16(uint16_t(v));
  };
  const uint8_t macs[12] = {0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1};
  f.insert(f.end(), macs, macs + 12);
  put16(0x0800);
  std::size_t ip = f.size();
  uint16_t total = 20 + 8 + 12 + 160;
  put16(0x4500);
  put16(total);
  put16(seq);
  put16(0x4000);
  put16(0x4011);  // TTL 64, UDP
  put16(0);       // checksum, below
  put32(src_ip);
  put32(dst_ip);
  uint32_t sum = 0;
  for (std::size_t i = ip; i < ip + 20; i += 2) sum += (uint32_t(f[i]) << 8) | f[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  f[ip + 10] = uint8_t(~sum >> 8);
  f[ip + 11] = uint8_t(~sum);
  put16(sport);
  put16(dport);
  put16(8 + 12 + 160);
  put16(0);  // no UDP checksum (IPv4)
  f.push_back(0x80);
  f.push_back(0x00);  // PT 0 PCMU
  put16(seq);
  put32(ts);
  put32(ssrc);
  for (int i = 0; i < 160; ++i) {
    double t = double(ts + uint32_t(i)) / 8000.0;
    f.push_back(LinearToUlaw(int16_t(8000 * std::sin(2 * M_PI * tone_hz * t))));
  }
  return f;
}

CallRecord Record(int n) {
  CallRecord r;
  r.start_ns = kDay20 + uint64_t(n) * 86400 * kNsPerSec + 10 * 3600 * kNsPerSec;
  std::string sip = fmt::format("cli-fixture-{}@pbx.example", n);
  r.call_id = CallId::Make(r.start_ns, sip);
  r.sip_call_ids = {sip};
  r.ani = n == 1 ? "+12025550199" : "+12025550143";
  r.dialled = "+18008291040";
  r.agent = n == 0 ? AgentInfo{"Jane Doe", "2001", "E1001"} : AgentInfo{"John Roe", "2002", ""};
  if (n == 0) {
    r.answer_ns = r.start_ns + 2 * kNsPerSec;
    r.end_ns = r.start_ns + 60 * kNsPerSec;
    r.state = CallState::kAnswered;
    r.sip_code = 200;
    for (uint16_t leg = 0; leg < 2; ++leg) {
      MediaLeg m;
      m.leg = leg;
      m.direction = leg == 0 ? LegDirection::kCallerToAgent : LegDirection::kAgentToCaller;
      m.src = {IpAddress::FromV4(leg == 0 ? 0x0a000001u : 0x0a140002u), uint16_t(leg == 0 ? 16384 : 20000)};
      m.dst = {IpAddress::FromV4(leg == 0 ? 0x0a140002u : 0x0a000001u), uint16_t(leg == 0 ? 20000 : 16384)};
      m.codec = "PCMU";
      m.packets = 50;
      r.legs.push_back(m);
    }
    r.dtmf.push_back({3.25, "5", 200, "rfc4733"});
  } else {
    r.end_ns = r.start_ns + 5 * kNsPerSec;
    r.state = n == 1 ? CallState::kCancelled : CallState::kFailed;
    r.sip_code = n == 1 ? 487 : 486;
  }
  return r;
}

int Main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: cli_fixture STORE_DIR KEY_FILE\n");
    return 2;
  }
  if (::access(argv[2], F_OK) != 0) {
    auto id = InitKeyFile(argv[2]);
    if (!id.ok()) {
      std::fprintf(stderr, "cli_fixture: %s\n", std::string(id.status().message()).c_str());
      return 1;
    }
  }
  StoreOptions o;
  o.config.path = argv[1];
  o.config.key_file = argv[2];
  o.create = true;
  auto store = Store::Open(o);
  if (!store.ok()) {
    std::fprintf(stderr, "cli_fixture: %s\n", std::string(store.status().message()).c_str());
    return 1;
  }
  StoreWriter* w = (*store)->writer();
  nlohmann::json out = {{"calls", nlohmann::json::array()}};
  for (int n = 0; n < 3; ++n) {
    CallRecord r = Record(n);
    w->OnCallStarted(r);
    for (uint16_t leg = 0; leg < r.legs.size(); ++leg) {
      PlainBlock b;
      b.info.call_id = r.call_id;
      b.info.leg = leg;
      b.info.direction = uint8_t(r.legs[leg].direction);
      b.info.kind = StreamKind::kRtp;
      for (uint16_t i = 0; i < 50; ++i) {
        uint64_t ts = r.answer_ns + uint64_t(i) * 20 * kNsPerMs;
        std::vector<uint8_t> bytes =
            leg == 0 ? RtpFrame(0x0a000001u, 16384, 0x0a140002u, 20000, i, i * 160u, 0x1111, 1000)
                     : RtpFrame(0x0a140002u, 20000, 0x0a000001u, 16384, i, i * 160u, 0x2222, 0);
        Frame f;
        f.data = bytes.data();
        f.caplen = f.wirelen = uint32_t(bytes.size());
        f.ts_ns = ts;
        AppendFrameRecord(f, b.payload);
        if (i == 0) b.info.first_ts_ns = ts;
        b.info.last_ts_ns = ts;
        ++b.info.frames;
      }
      w->Push(std::move(b));
    }
    w->OnCallEnded(r);
    out["calls"].push_back({{"call_id", r.call_id.ToString()},
                            {"ani", r.ani},
                            {"agent", r.agent.name},
                            {"state", std::string(CallStateName(r.state))}});
  }
  if (absl::Status s = w->Sync(); !s.ok()) {
    std::fprintf(stderr, "cli_fixture: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

}  // namespace
}  // namespace callvault

int main(int argc, char** argv) { return callvault::Main(argc, argv); }
