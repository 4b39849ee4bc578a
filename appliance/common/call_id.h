// callvault's own call identifier.
//
// 64 bits: the call's start time in milliseconds since the Unix epoch (upper 44 bits,
// good until year 2527) and a 20-bit discriminator derived from the SIP Call-ID (or the
// media endpoints of an orphan call). It is therefore stable (the same capture gives the
// same ids through DPDK and libpcap), sortable by start time, and printed as 16 lowercase
// hex digits so that text order equals numeric order. Big-endian in index keys.
#ifndef CALLVAULT_APPLIANCE_COMMON_CALL_ID_H_
#define CALLVAULT_APPLIANCE_COMMON_CALL_ID_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace callvault {

struct CallId {
  uint64_t value = 0;

  static CallId Make(uint64_t start_ns, std::string_view discriminator);
  static std::optional<CallId> Parse(std::string_view hex16);

  uint64_t start_ms() const { return value >> 20; }
  std::string ToString() const;
  bool valid() const { return value != 0; }

  friend bool operator==(const CallId&, const CallId&) = default;
  friend auto operator<=>(const CallId&, const CallId&) = default;
};

}  // namespace callvault

#endif  // CALLVAULT_APPLIANCE_COMMON_CALL_ID_H_
