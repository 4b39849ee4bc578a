// DecodeStats: what one Decoder counted. Plain integers owned by the decoder's thread;
// the control thread copies them (Decoder::stats()) and sums copies with Add().
//
// Per protocol: packets and bytes of every layer seen (a VXLAN frame counts Ethernet,
// IPv4, UDP and VXLAN for the outer layers and again Ethernet, IPv4, ... for the inner).
// Bytes are the length of the layer including its payload. Fragments count once under
// kFragment; a completed datagram counts once under kReassembled and then as its layers.
#ifndef CALLVAULT_APPLIANCE_DECODE_STATS_H_
#define CALLVAULT_APPLIANCE_DECODE_STATS_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "appliance/common/counters.h"
#include "appliance/decode/drop.h"

namespace callvault::decode {

enum class Proto : uint8_t {
  kEthernet = 0,
  kLinuxSll,
  kLinuxSll2,
  kNullLoop,
  kRawIp,
  kVlan,      // 802.1Q tag (0x8100)
  kQinq,      // 802.1ad service tag (0x88a8, legacy 0x9100/0x9200)
  kMpls,      // one per label
  kPppoe,
  kIpv4,
  kIpv6,
  kIpv6Ext,   // one per extension header
  kFragment,  // IPv4 or IPv6 fragment handed to reassembly
  kReassembled,
  kUdp,
  kTcp,
  kSctp,
  kIcmp,
  kOtherL4,
  kGre,
  kErspan1,
  kErspan2,
  kErspan3,
  kVxlan,
  kIpInIp,    // IPv4/IPv6 carried directly in IPv4/IPv6 (protocol 4/41)
  kCount
};
inline constexpr std::size_t kProtoCount = static_cast<std::size_t>(Proto::kCount);

// "ethernet", "vlan", "ipv4", ...
std::string_view ProtoName(Proto p);

struct ProtoCount {
  uint64_t packets = 0;
  uint64_t bytes = 0;
};

struct DecodeStats {
  uint64_t frames = 0;    // frames handed to Decode()
  uint64_t bytes = 0;     // their captured bytes
  uint64_t decoded = 0;   // kOk
  uint64_t held = 0;      // kHeld
  std::array<ProtoCount, kProtoCount> proto{};
  DropCounters<DecodeDrop> drops;  // never counts kOk / kHeld

  // Checksums are counted, never a reason to drop (SPAN copies of offloaded traffic).
  uint64_t bad_ipv4_checksum = 0;
  uint64_t bad_udp_checksum = 0;
  uint64_t bad_tcp_checksum = 0;
  uint64_t udp_no_checksum = 0;  // UDP over IPv4 with checksum 0 ("none", RFC 768)

  // Reassembly, per datagram.
  uint64_t frag_datagrams_completed = 0;
  uint64_t frag_datagrams_timed_out = 0;
  uint64_t frag_datagrams_evicted_full = 0;
  uint64_t frag_datagrams_overlap = 0;
  uint64_t frag_datagrams_too_many = 0;
  // Completed datagrams whose evidence lacks some fragment frames (the per-datagram frame
  // log, Reassembler::kMaxLogBytes, or the byte budget ran out): the datagram is still
  // decoded, its stored evidence is incomplete.
  uint64_t frag_evidence_incomplete = 0;
  // Held fragments later discarded by an eviction (each also counted under its drop
  // reason). Invariant: frames == decoded + held + drops.Total() - frag_held_dropped.
  uint64_t frag_held_dropped = 0;

  ProtoCount& operator[](Proto p) { return proto[static_cast<std::size_t>(p)]; }
  const ProtoCount& operator[](Proto p) const { return proto[static_cast<std::size_t>(p)]; }

  void Count(Proto p, uint64_t bytes_in_layer) {
    ProtoCount& c = proto[static_cast<std::size_t>(p)];
    ++c.packets;
    c.bytes += bytes_in_layer;
  }

  void Add(const DecodeStats& o);
};

// Control path: calls fn(name, value) for every counter with stable dotted names —
// "decode.frames", "decode.decoded", "decode.held", "decode.proto.udp.packets",
// "decode.proto.udp.bytes", "decode.drop.truncated_ipv4", "decode.checksum.bad_udp",
// "decode.frag.completed", ... — zero or not, in a fixed order (for status/telemetry).
void ForEachCounter(const DecodeStats& s,
                    const std::function<void(const std::string& name, uint64_t value)>& fn);

}  // namespace callvault::decode

#endif  // CALLVAULT_APPLIANCE_DECODE_STATS_H_
