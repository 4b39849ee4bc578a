// Tunnel: the encapsulation a SPAN/TAP fabric adds when it ships mirrored frames to a
// remote collector: GRE (RFC 2784/2890, transparent Ethernet bridging 0x6558), ERSPAN
// type II and III (GRE protocol 0x88BE / 0x22EB, draft-foschiano-erspan), or VXLAN
// (RFC 7348, UDP 4789). The outer packet goes from the mirroring switch 192.0.2.1 to the
// collector 192.0.2.100; the inner frame (with its VLAN tags) is unchanged.
//
// Contract: used by PcapWriter in write order, one thread. Write() needs only the inner
// frame's length, so the writer lays the tunnel header down before the caller fills the
// inner bytes. ERSPAN/GRE sequence numbers and outer IPv4 ids count frames in file order.
#ifndef CALLVAULT_TESTS_TOOLS_CALLGEN_TUNNEL_H_
#define CALLVAULT_TESTS_TOOLS_CALLGEN_TUNNEL_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace callvault::callgen {

enum class TunnelKind : uint8_t { kNone, kGre, kErspan2, kErspan3, kVxlan };

std::optional<TunnelKind> ParseTunnelKind(std::string_view name);
const char* TunnelName(TunnelKind kind);

class Tunnel {
 public:
  // `id`: ERSPAN session id (10 bits), VXLAN VNI (24 bits) or GRE key (32 bits).
  Tunnel(TunnelKind kind, uint32_t id) : kind_(kind), id_(id) {}

  TunnelKind kind() const { return kind_; }
  size_t header_len() const;
  // Writes header_len() bytes of outer headers for an inner frame of `inner_len` bytes.
  void Write(uint8_t* out, size_t inner_len, uint64_t ts_ns);

 private:
  TunnelKind kind_;
  uint32_t id_;
  uint32_t seq_ = 0;
  uint16_t ip_id_ = 0;
};

}  // namespace callvault::callgen

#endif  // CALLVAULT_TESTS_TOOLS_CALLGEN_TUNNEL_H_
