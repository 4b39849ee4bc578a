#include "appliance/common/time_util.h"

#include <chrono>

#include <fmt/format.h>

#include "absl/time/time.h"

namespace callvault {

std::string FormatRfc3339Ms(uint64_t ts_ns) {
  absl::Time t = absl::FromUnixNanos(static_cast<int64_t>(ts_ns));
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

absl::StatusOr<uint64_t> ParseTime(std::string_view text) {
  std::string s(text);
  absl::Time t;
  std::string err;
  bool ok = false;
  if (s.size() == 10) {
    ok = absl::ParseTime("%Y-%m-%d", s, absl::UTCTimeZone(), &t, &err);
  } else {
    ok = absl::ParseTime(absl::RFC3339_full, s, absl::UTCTimeZone(), &t, &err);
  }
  if (!ok) {
    return absl::InvalidArgumentError(fmt::format(
        "bad time '{}': expected RFC 3339 (2026-11-28T02:12:09Z) or a date (2026-11-28)", text));
  }
  int64_t ns = absl::ToUnixNanos(t);
  if (ns < 0) return absl::InvalidArgumentError(fmt::format("bad time '{}': before 1970", text));
  return static_cast<uint64_t>(ns);
}

uint64_t NowNs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

uint32_t DayOf(uint64_t ts_ns) { return static_cast<uint32_t>(ts_ns / (86400ull * kNsPerSec)); }

std::string DayString(uint32_t day) {
  absl::Time t = absl::FromUnixSeconds(static_cast<int64_t>(day) * 86400);
  return absl::FormatTime("%Y%m%d", t, absl::UTCTimeZone());
}

}  // namespace callvault
