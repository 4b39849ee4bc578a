// Decoder: one captured frame -> DecodedPacket (appliance/decode/packet.h) or a named
// drop reason (appliance/decode/drop.h).
//
// Input: a Frame of any LinkType (Ethernet, Linux SLL/SLL2, raw IP, BSD null/loop). Layers
// walked, outermost first: 802.1Q / 802.1ad / QinQ tags (up to kMaxTags), MPLS label
// stacks (up to kMaxTags labels; IPv4/IPv6 after the bottom of stack chosen by the version
// nibble, Ethernet pseudowire after a zero control word), PPPoE session (RFC 2516, PPP
// 0x0021/0x0057), IPv4 with options (RFC 791), IPv6 with extension headers (RFC 8200 §4:
// hop-by-hop, routing, destination options, fragment, AH, mobility, HIP, shim6), UDP,
// TCP (sequence, acknowledgement, flags), SCTP (common header; payload = the chunks),
// ICMP; tunnels GRE (RFC 2784/2890: checksum, key, sequence; IP, MPLS, transparent
// Ethernet bridging 0x6558), ERSPAN type I (GRE 0x88BE without sequence), II (0x88BE) and
// III (0x22EB), VXLAN (RFC 7348, UDP destination port 4789 with the I flag), IP-in-IP
// (protocol 4), IPv6-in-IP (41), and either inside IPv6. At most max_tunnel_depth nested
// tunnels. The packet handed on is the innermost IP packet; `tunnel`/`tunnel_id` describe
// the outermost tunnel, `vlan` the first two tags met.
//
// Output: kOk with `*out` filled (spans valid until the next Decode() on this decoder),
// kHeld for a fragment kept for reassembly (`*out` unspecified), or a drop reason.
// Fragments go through a bounded Reassembler (reassembly.h: bounds, timeout by frame
// timestamps, overlap policy); a completed datagram is decoded as if it had arrived whole,
// from the frame that completed it, with `reassembled` set.
//
// Lengths: Ethernet padding beyond the IP total length is ignored; a frame shorter than
// what its headers announce (snapped by a small snaplen, or cut) is a kTruncated* drop,
// since later stages need whole datagrams.
//
// Checksums (IPv4 header always; UDP and TCP when verify_l4_checksums) are counted in
// DecodeStats and flagged in DecodedPacket::bad_checksum, never a reason to drop: SPAN
// copies of checksum-offloaded traffic carry unfilled checksums. A zero UDP checksum over
// IPv4 means "none" (RFC 768) and is not bad; over IPv6 it is bad (RFC 8200 §8.1).
//
// Thread: one Decoder per worker thread; not thread-safe. Memory: all allocated in the
// constructor (reassembly tables sized from DecodeConfig); Decode() allocates nothing,
// takes no locks, makes no system calls and throws nothing.
#ifndef CALLVAULT_APPLIANCE_DECODE_DECODER_H_
#define CALLVAULT_APPLIANCE_DECODE_DECODER_H_

#include <cstdint>
#include <span>

#include "appliance/common/frame.h"
#include "appliance/config/config.h"
#include "appliance/decode/drop.h"
#include "appliance/decode/packet.h"
#include "appliance/decode/reassembly.h"
#include "appliance/decode/stats.h"

namespace callvault::decode {

struct DecoderOptions {
  // UDP/TCP checksum verification costs ~1 ns per 64 payload bytes (see
  // docs/BENCHMARKS.md); the IPv4 header checksum is always verified. Verification runs
  // only when this AND DecodeConfig::verify_checksums ([decode] in TOML) are true.
  bool verify_l4_checksums = true;
  uint8_t max_tunnel_depth = 4;
};

class Decoder {
 public:
  static constexpr uint8_t kMaxTags = 8;    // VLAN tags, and MPLS labels, per frame
  static constexpr uint8_t kMaxIpv6Ext = 8; // extension headers per IPv6 packet
  // A datagram rebuilt from fragments whose payload is again a fragment (IPv6 Fragment
  // header after Fragment header) may be reassembled this many times per frame; the
  // bound keeps recursion shallow.
  static constexpr uint8_t kMaxNestedReassembly = 2;

  explicit Decoder(const DecodeConfig& cfg, DecoderOptions opts = {});
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  DecodeDrop Decode(const Frame& f, DecodedPacket* out);

  // Evicts fragments older than the timeout at capture time `now_ns`; the worker calls it
  // when it has no fragments to feed (the decoder also expires on every fragment).
  void Expire(uint64_t now_ns) { reasm_.Expire(now_ns); }

  const DecodeStats& stats() const { return stats_; }
  const Reassembler& reassembler() const { return reasm_; }

 private:
  DecodeDrop Ethernet(const uint8_t* p, uint32_t n, int depth, DecodedPacket* out);
  DecodeDrop EtherType(uint16_t type, const uint8_t* p, uint32_t n, int depth,
                       DecodedPacket* out);
  DecodeDrop Mpls(const uint8_t* p, uint32_t n, int depth, DecodedPacket* out);
  DecodeDrop Pppoe(const uint8_t* p, uint32_t n, int depth, DecodedPacket* out);
  DecodeDrop IpByVersion(const uint8_t* p, uint32_t n, int depth, DecodedPacket* out);
  DecodeDrop Ipv4(const uint8_t* p, uint32_t n, int depth, bool rebuilt, DecodedPacket* out);
  DecodeDrop Ipv6(const uint8_t* p, uint32_t n, int depth, bool rebuilt, DecodedPacket* out);
  DecodeDrop Reassemble(const FragmentInput& in, int depth, DecodedPacket* out);
  // `ip` is the IP header (for the pseudo-header), `l4` its payload.
  DecodeDrop Transport(uint8_t proto, const uint8_t* ip, const uint8_t* l4, uint32_t l4n,
                       int depth, DecodedPacket* out);
  DecodeDrop Udp(const uint8_t* ip, const uint8_t* u, uint32_t n, int depth,
                 DecodedPacket* out);
  DecodeDrop Tcp(const uint8_t* ip, const uint8_t* t, uint32_t n, DecodedPacket* out);
  DecodeDrop Gre(const uint8_t* g, uint32_t n, int depth, DecodedPacket* out);
  DecodeDrop Erspan(int type, const uint8_t* e, uint32_t n, int depth, DecodedPacket* out);
  void SetTunnel(TunnelKind kind, uint32_t id, DecodedPacket* out) const {
    if (out->tunnel == TunnelKind::kNone) {
      out->tunnel = kind;
      out->tunnel_id = id;
    }
  }
  bool L4ChecksumOk(const uint8_t* ip, uint8_t proto, const uint8_t* l4, uint32_t n) const;

  DecoderOptions opts_;
  DecodeStats stats_;
  Reassembler reasm_;
  uint64_t now_ns_ = 0;  // timestamp of the frame being decoded
  uint8_t reasm_nest_ = 0;  // reassemblies completed while decoding this frame
};

}  // namespace callvault::decode

#endif  // CALLVAULT_APPLIANCE_DECODE_DECODER_H_
