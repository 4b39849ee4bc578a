// Helpers for storage tests: temporary store directories, key files, and random (but
// reproducible) call records and blocks whose expected contents the tests know.
#ifndef CALLVAULT_STORAGE_TESTING_STORE_TEST_UTIL_H_
#define CALLVAULT_STORAGE_TESTING_STORE_TEST_UTIL_H_

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "appliance/common/block.h"
#include "appliance/common/call_record.h"
#include "storage/store.h"

namespace callvault::testing {

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base ? base : "/tmp") + "/cvstore_test_XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    path_ = ::mkdtemp(buf.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline StoreOptions MakeOptions(const TempDir& d, bool create = true) {
  StoreOptions o;
  o.config.path = d.path() + "/store";
  o.config.key_file = d.path() + "/master.key";
  o.create = create;
  return o;
}

// Names and numbers chosen so that every one is distinctive in a byte search.
inline CallRecord RandomRecord(std::mt19937_64& rng, uint64_t start_ns) {
  static const char* kFirst[] = {"Zoltan", "Quentin", "Xavierre", "Jolanda", "Wilhelmina"};
  static const char* kLast[] = {"Okonkwo-Brandt", "Vasquezmoreno", "Przybylski", "Uchidayama"};
  CallRecord r;
  r.call_id = CallId::Make(start_ns, fmt::format("sip-{}", rng()));
  r.sip_call_ids = {fmt::format("{:x}@pbx.example", rng())};
  r.start_ns = start_ns;
  r.answer_ns = start_ns + 2'000'000'000ull;
  r.end_ns = start_ns + 60'000'000'000ull + rng() % 1'000'000'000ull;
  r.state = CallState(rng() % 6);
  r.sip_code = 200;
  r.ani = fmt::format("+1{}", 2025550000 + rng() % 8000 + 1000);
  r.dialled = fmt::format("+4420{}", 79460000 + rng() % 9000 + 1000);
  r.agent.name = fmt::format("{} {}", kFirst[rng() % 5], kLast[rng() % 4]);
  r.agent.extension = fmt::format("{}", 2000 + rng() % 500);
  r.agent.id = fmt::format("E{}", rng() % 100000);
  MediaLeg leg;
  leg.leg = 0;
  leg.direction = LegDirection::kCallerToAgent;
  leg.src.ip = IpAddress::FromV4(0x0a000001u);
  leg.src.port = 16384;
  leg.dst.ip = IpAddress::FromV4(0x0a000002u);
  leg.dst.port = 20000;
  leg.codec = "PCMU";
  leg.packets = rng() % 10000;
  leg.jitter_ms = double(rng() % 1000) / 100.0;
  r.legs.push_back(leg);
  leg.leg = 1;
  leg.direction = LegDirection::kAgentToCaller;
  std::swap(leg.src, leg.dst);
  r.legs.push_back(leg);
  r.dtmf.push_back({3.25, "5", 200, "rfc4733"});
  return r;
}

inline PlainBlock RandomBlock(std::mt19937_64& rng, CallId id, StreamKind kind, uint16_t leg,
                              uint32_t seq, uint64_t ts, std::size_t bytes) {
  PlainBlock b;
  b.info.call_id = id;
  b.info.kind = kind;
  b.info.leg = leg;
  b.info.direction = uint8_t(leg);
  b.info.seq = seq;
  b.info.first_ts_ns = ts;
  b.info.last_ts_ns = ts + 20'000'000;
  b.info.frames = uint32_t(bytes / 100 + 1);
  b.payload.resize(bytes);
  for (auto& c : b.payload) c = uint8_t(rng());
  return b;
}

inline bool SameRecord(const CallRecord& a, const CallRecord& b) {
  if (a.legs.size() != b.legs.size() || a.dtmf.size() != b.dtmf.size()) return false;
  for (std::size_t i = 0; i < a.legs.size(); ++i) {
    const auto &x = a.legs[i], &y = b.legs[i];
    if (x.leg != y.leg || x.direction != y.direction || x.src != y.src || x.dst != y.dst ||
        x.codec != y.codec || x.packets != y.packets || x.lost != y.lost ||
        x.duplicates != y.duplicates || x.jitter_ms != y.jitter_ms ||
        x.encrypted_media != y.encrypted_media) {
      return false;
    }
  }
  for (std::size_t i = 0; i < a.dtmf.size(); ++i) {
    const auto &x = a.dtmf[i], &y = b.dtmf[i];
    if (x.offset_s != y.offset_s || x.digit != y.digit || x.duration_ms != y.duration_ms ||
        x.source != y.source) {
      return false;
    }
  }
  return a.call_id == b.call_id && a.sip_call_ids == b.sip_call_ids &&
         a.start_ns == b.start_ns && a.answer_ns == b.answer_ns && a.end_ns == b.end_ns &&
         a.state == b.state && a.sip_code == b.sip_code && a.ani == b.ani &&
         a.dialled == b.dialled && a.agent.name == b.agent.name &&
         a.agent.extension == b.agent.extension && a.agent.id == b.agent.id &&
         a.on_hold == b.on_hold;
}

// Every regular file under `root`, recursively.
inline std::vector<std::string> AllFiles(const std::string& root) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    if (e.is_regular_file()) out.push_back(e.path().string());
  }
  return out;
}

}  // namespace callvault::testing

#endif  // CALLVAULT_STORAGE_TESTING_STORE_TEST_UTIL_H_
