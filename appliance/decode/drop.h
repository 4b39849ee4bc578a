// DecodeDrop: the result of decoding one frame — decoded, held (an IP fragment waiting
// for its siblings) or the named reason it was not decoded.
//
// Every frame handed to Decoder::Decode() ends as exactly one of: kOk (counted in
// DecodeStats::decoded), kHeld (DecodeStats::held; the fragment either becomes part of a
// reassembled datagram, or is counted later under kFragTimeout / kFragTableFull /
// kFragOverlap / kFragTooMany when its datagram is evicted), or one drop reason below.
// kOk and kHeld are not drops: DecodeStats::drops never counts them.
#ifndef CALLVAULT_APPLIANCE_DECODE_DROP_H_
#define CALLVAULT_APPLIANCE_DECODE_DROP_H_

#include <cstdint>
#include <string_view>

namespace callvault::decode {

enum class DecodeDrop : uint8_t {
  kOk = 0,               // not a drop: `out` is filled
  kHeld,                 // not a drop: fragment stored for reassembly
  kUnsupportedLinkType,  // Frame::link is not one of LinkType's values
  kTruncatedLinkHeader,  // shorter than the SLL/SLL2/null/loop header (or empty raw)
  kTruncatedEthernet,    // shorter than 14 bytes (outer or tunnelled Ethernet)
  kTruncatedVlan,
  kTruncatedMpls,
  kTruncatedPppoe,
  kTruncatedIpv4,        // shorter than the IPv4 header or its total length
  kTruncatedIpv6,        // shorter than 40 bytes or 40 + payload length
  kTruncatedIpv6Ext,     // an extension header runs past the packet
  kTruncatedUdp,
  kTruncatedTcp,
  kTruncatedSctp,
  kTruncatedGre,
  kTruncatedErspan,
  kTruncatedVxlan,
  kArp,                  // ARP / RARP: not IP, nothing to record
  kLlc,                  // 802.3 length-field frames (STP, CDP, ...)
  kUnknownEthertype,
  kUnknownAddressFamily,  // null/loop header family is neither IPv4 nor IPv6
  kBadPppoeHeader,       // version/type not 0x11 or code not 0 (RFC 2516 §5.4)
  kPppNotIp,             // PPP protocol other than 0x0021/0x0057 (LCP, IPCP, ...)
  kMplsNoIp,             // payload after the bottom-of-stack label is not IP/Ethernet PW
  kTooManyTags,          // more VLAN tags or MPLS labels than the decoder allows
  kBadIpVersion,         // version nibble wrong where IP was announced
  kBadIpv4Header,        // IHL < 5 or total length < IHL
  kIpv6TooManyExt,       // more extension headers than the decoder allows
  kBadUdpLength,         // UDP length < 8 or beyond the IP payload
  kBadTcpHeader,         // data offset < 5
  kBadGreHeader,         // version != 0 or routing present (RFC 2784 §2)
  kUnknownGreProtocol,
  kBadErspanHeader,      // version does not match the GRE protocol type
  kTunnelTooDeep,        // more nested tunnels than the decoder allows
  kFragBad,              // fragment length not a multiple of 8, beyond 64 KiB, ...
  kFragDuplicate,        // same offset and length as a fragment already held
  kFragOverlap,          // overlaps a held fragment: the whole datagram is dropped
  kFragTooMany,          // more fragments for one datagram than the bound
  kFragTimeout,          // datagram not complete within frag_timeout_ms
  kFragTableFull,        // evicted (oldest first) to make room within the bounds
  kFragNested,           // a reassembled datagram is itself a fragment, more than twice
  kCount
};

// Stable lower_snake_case names ("truncated_ipv4"), used in status and JSON output.
std::string_view DropName(DecodeDrop d);

// True for the kTruncated* reasons.
inline bool IsTruncation(DecodeDrop d) {
  return d >= DecodeDrop::kTruncatedLinkHeader && d <= DecodeDrop::kTruncatedVxlan;
}

}  // namespace callvault::decode

#endif  // CALLVAULT_APPLIANCE_DECODE_DROP_H_
