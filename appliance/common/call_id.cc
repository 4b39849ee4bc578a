#include "appliance/common/call_id.h"

#include <fmt/format.h>

namespace callvault {
namespace {

// FNV-1a: tiny, stable across builds and platforms (std::hash is not).
uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

}  // namespace

CallId CallId::Make(uint64_t start_ns, std::string_view discriminator) {
  uint64_t ms = (start_ns / 1000000ull) & ((1ull << 44) - 1);
  uint64_t d = Fnv1a(discriminator) & ((1ull << 20) - 1);
  CallId id{(ms << 20) | d};
  if (id.value == 0) id.value = 1;
  return id;
}

std::optional<CallId> CallId::Parse(std::string_view hex16) {
  if (hex16.size() != 16) return std::nullopt;
  uint64_t v = 0;
  for (char c : hex16) {
    v <<= 4;
    if (c >= '0' && c <= '9') {
      v |= uint64_t(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      v |= uint64_t(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      v |= uint64_t(c - 'A' + 10);
    } else {
      return std::nullopt;
    }
  }
  if (v == 0) return std::nullopt;
  return CallId{v};
}

std::string CallId::ToString() const { return fmt::format("{:016x}", value); }

}  // namespace callvault
