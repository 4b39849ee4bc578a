// Time formatting and parsing for the CLI contract: RFC 3339 with milliseconds in UTC
// ("2026-11-28T02:12:09.123Z") out, RFC 3339 or a bare date ("2026-11-28") in.
// All times inside callvault are uint64 nanoseconds since the Unix epoch, UTC.
#ifndef CALLVAULT_APPLIANCE_COMMON_TIME_UTIL_H_
#define CALLVAULT_APPLIANCE_COMMON_TIME_UTIL_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace callvault {

inline constexpr uint64_t kNsPerSec = 1000000000ull;
inline constexpr uint64_t kNsPerMs = 1000000ull;

// "2026-11-28T02:12:09.123Z"
std::string FormatRfc3339Ms(uint64_t ts_ns);

// Accepts "2026-11-28", "2026-11-28T02:12:09Z", fractional seconds, and numeric offsets
// ("+01:00"). A bare date means its midnight UTC. Errors name the offending text.
absl::StatusOr<uint64_t> ParseTime(std::string_view text);

// Wall clock now, ns since the epoch.
uint64_t NowNs();

// Days since the epoch of a timestamp (UTC), used for day buckets; and its "YYYYMMDD".
uint32_t DayOf(uint64_t ts_ns);
std::string DayString(uint32_t day);

}  // namespace callvault

#endif  // CALLVAULT_APPLIANCE_COMMON_TIME_UTIL_H_
