// IP addresses and transport endpoints, value types shared by decode, SIP/SDP and media.
//
// IPv4 addresses are stored as IPv4-mapped IPv6 (::ffff:a.b.c.d) so that one 16-byte
// comparison and one hash serve both families.
#ifndef CALLVAULT_APPLIANCE_COMMON_NET_TYPES_H_
#define CALLVAULT_APPLIANCE_COMMON_NET_TYPES_H_

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace callvault {

struct IpAddress {
  std::array<uint8_t, 16> bytes{};

  static IpAddress FromV4(const uint8_t* be4) {
    IpAddress a;
    a.bytes[10] = 0xff;
    a.bytes[11] = 0xff;
    std::memcpy(&a.bytes[12], be4, 4);
    return a;
  }
  static IpAddress FromV4(uint32_t host_order) {
    uint8_t b[4] = {uint8_t(host_order >> 24), uint8_t(host_order >> 16),
                    uint8_t(host_order >> 8), uint8_t(host_order)};
    return FromV4(b);
  }
  static IpAddress FromV6(const uint8_t* be16) {
    IpAddress a;
    std::memcpy(a.bytes.data(), be16, 16);
    return a;
  }
  // Parses dotted IPv4 or textual IPv6 (optionally in [brackets]).
  static std::optional<IpAddress> Parse(std::string_view text);

  bool is_v4() const {
    static constexpr uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(bytes.data(), kPrefix, 12) == 0;
  }
  bool is_unspecified() const {
    for (uint8_t b : bytes) {
      if (b != 0) return false;
    }
    return true;
  }
  std::string ToString() const;

  friend bool operator==(const IpAddress&, const IpAddress&) = default;
  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;
};

struct Endpoint {
  IpAddress ip;
  uint16_t port = 0;

  // "10.0.0.1:16384" or "[2001:db8::1]:16384".
  std::string ToString() const;

  friend bool operator==(const Endpoint&, const Endpoint&) = default;
  friend auto operator<=>(const Endpoint&, const Endpoint&) = default;
};

// Cheap, well-mixed hash of an endpoint for open-addressing tables on the packet path.
inline uint64_t HashEndpoint(const Endpoint& e) {
  uint64_t a, b;
  std::memcpy(&a, e.ip.bytes.data(), 8);
  std::memcpy(&b, e.ip.bytes.data() + 8, 8);
  uint64_t h = a * 0x9E3779B97F4A7C15ull ^ (b + 0xC2B2AE3D27D4EB4Full + e.port);
  h ^= h >> 29;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 32;
  return h;
}

struct EndpointHash {
  std::size_t operator()(const Endpoint& e) const { return HashEndpoint(e); }
};

}  // namespace callvault

#endif  // CALLVAULT_APPLIANCE_COMMON_NET_TYPES_H_
