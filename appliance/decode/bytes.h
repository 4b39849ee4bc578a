// Big-endian field readers for the decode layer (bounds are checked by the callers).
#ifndef CALLVAULT_APPLIANCE_DECODE_BYTES_H_
#define CALLVAULT_APPLIANCE_DECODE_BYTES_H_

#include <cstdint>

namespace callvault::decode {

inline uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint32_t Be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}

}  // namespace callvault::decode

#endif  // CALLVAULT_APPLIANCE_DECODE_BYTES_H_
