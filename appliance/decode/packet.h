// DecodedPacket: what the decode layer hands to signalling and media for one frame.
//
// Contract: all spans point either into the original frame's bytes or, for a datagram
// rebuilt from IP fragments, into the decoder's reassembly buffer; both stay valid until
// the next Decode() call on the same decoder (same thread). Addresses and ports are those
// of the innermost IP packet (after every tunnel and tag). Outer context that a reviewer
// or engineer may need (VLAN ids, tunnel kind and id) is kept.
#ifndef CALLVAULT_APPLIANCE_DECODE_PACKET_H_
#define CALLVAULT_APPLIANCE_DECODE_PACKET_H_

#include <cstdint>
#include <span>

#include "appliance/common/frame.h"
#include "appliance/common/net_types.h"

namespace callvault::decode {

enum class L4Proto : uint8_t { kNone = 0, kUdp, kTcp, kSctp, kIcmp, kOther };

enum class TunnelKind : uint8_t {
  kNone = 0,
  kGre,
  kErspan1,
  kErspan2,
  kErspan3,
  kVxlan,
  kIpInIp,    // IPv4 or IPv6 inside IPv4 (protocol 4 / 41)
  kIpInIp6,   // IPv4 or IPv6 inside IPv6
};

// TCP flag bits as on the wire.
inline constexpr uint8_t kTcpFin = 0x01, kTcpSyn = 0x02, kTcpRst = 0x04, kTcpPsh = 0x08,
                         kTcpAck = 0x10;

struct DecodedPacket {
  const Frame* frame = nullptr;  // the captured frame (outermost bytes)

  uint8_t ip_version = 0;        // 4 or 6 (inner)
  L4Proto l4 = L4Proto::kNone;
  Endpoint src;                  // inner source address and port
  Endpoint dst;
  std::span<const uint8_t> l3;       // inner IP header + payload (reassembled if fragmented)
  std::span<const uint8_t> payload;  // L4 payload: UDP datagram data, TCP segment data

  // TCP only.
  uint32_t tcp_seq = 0;
  uint32_t tcp_ack = 0;
  uint8_t tcp_flags = 0;

  // Outer context.
  uint16_t vlan[2] = {0, 0};     // outer first; 0 = absent
  uint8_t vlan_count = 0;        // tags seen (may exceed 2; only two are kept)
  uint8_t mpls_labels = 0;
  TunnelKind tunnel = TunnelKind::kNone;
  uint32_t tunnel_id = 0;        // GRE key, ERSPAN session id, VXLAN VNI

  bool reassembled = false;      // rebuilt from IP fragments
  // Reassembled only: the captured frame of every fragment, in arrival order, the one that
  // completed the datagram last (`frame`); the others point into the reassembler's buffer
  // (valid, like every span here, until the next Decode()). Evidence: a stage that keeps
  // the packet keeps these frames. Empty when not reassembled; fragments whose frames did
  // not fit are missing (DecodeStats::frag_evidence_incomplete).
  std::span<const Frame> fragment_frames;
  bool bad_checksum = false;     // IPv4/UDP/TCP checksum wrong (counted, never dropped)

  // Added by the decode layer (additive).
  uint8_t ip_proto = 0;          // inner IPv4 protocol / IPv6 next header (6, 17, 132...)
};

}  // namespace callvault::decode

#endif  // CALLVAULT_APPLIANCE_DECODE_PACKET_H_
