#include "appliance/decode/stats.h"

namespace callvault::decode {

std::string_view DropName(DecodeDrop d) {
  switch (d) {
    case DecodeDrop::kOk: return "ok";
    case DecodeDrop::kHeld: return "held";
    case DecodeDrop::kUnsupportedLinkType: return "unsupported_link_type";
    case DecodeDrop::kTruncatedLinkHeader: return "truncated_link_header";
    case DecodeDrop::kTruncatedEthernet: return "truncated_ethernet";
    case DecodeDrop::kTruncatedVlan: return "truncated_vlan";
    case DecodeDrop::kTruncatedMpls: return "truncated_mpls";
    case DecodeDrop::kTruncatedPppoe: return "truncated_pppoe";
    case DecodeDrop::kTruncatedIpv4: return "truncated_ipv4";
    case DecodeDrop::kTruncatedIpv6: return "truncated_ipv6";
    case DecodeDrop::kTruncatedIpv6Ext: return "truncated_ipv6_ext";
    case DecodeDrop::kTruncatedUdp: return "truncated_udp";
    case DecodeDrop::kTruncatedTcp: return "truncated_tcp";
    case DecodeDrop::kTruncatedSctp: return "truncated_sctp";
    case DecodeDrop::kTruncatedGre: return "truncated_gre";
    case DecodeDrop::kTruncatedErspan: return "truncated_erspan";
    case DecodeDrop::kTruncatedVxlan: return "truncated_vxlan";
    case DecodeDrop::kArp: return "arp";
    case DecodeDrop::kLlc: return "llc";
    case DecodeDrop::kUnknownEthertype: return "unknown_ethertype";
    case DecodeDrop::kUnknownAddressFamily: return "unknown_address_family";
    case DecodeDrop::kBadPppoeHeader: return "bad_pppoe_header";
    case DecodeDrop::kPppNotIp: return "ppp_not_ip";
    case DecodeDrop::kMplsNoIp: return "mpls_no_ip";
    case DecodeDrop::kTooManyTags: return "too_many_tags";
    case DecodeDrop::kBadIpVersion: return "bad_ip_version";
    case DecodeDrop::kBadIpv4Header: return "bad_ipv4_header";
    case DecodeDrop::kIpv6TooManyExt: return "ipv6_too_many_ext";
    case DecodeDrop::kBadUdpLength: return "bad_udp_length";
    case DecodeDrop::kBadTcpHeader: return "bad_tcp_header";
    case DecodeDrop::kBadGreHeader: return "bad_gre_header";
    case DecodeDrop::kUnknownGreProtocol: return "unknown_gre_protocol";
    case DecodeDrop::kBadErspanHeader: return "bad_erspan_header";
    case DecodeDrop::kTunnelTooDeep: return "tunnel_too_deep";
    case DecodeDrop::kFragBad: return "frag_bad";
    case DecodeDrop::kFragDuplicate: return "frag_duplicate";
    case DecodeDrop::kFragOverlap: return "frag_overlap";
    case DecodeDrop::kFragTooMany: return "frag_too_many";
    case DecodeDrop::kFragTimeout: return "frag_timeout";
    case DecodeDrop::kFragTableFull: return "frag_table_full";
    case DecodeDrop::kFragNested: return "frag_nested";
    case DecodeDrop::kCount: break;
  }
  return "unknown";
}

std::string_view ProtoName(Proto p) {
  switch (p) {
    case Proto::kEthernet: return "ethernet";
    case Proto::kLinuxSll: return "linux_sll";
    case Proto::kLinuxSll2: return "linux_sll2";
    case Proto::kNullLoop: return "null_loop";
    case Proto::kRawIp: return "raw_ip";
    case Proto::kVlan: return "vlan";
    case Proto::kQinq: return "qinq";
    case Proto::kMpls: return "mpls";
    case Proto::kPppoe: return "pppoe";
    case Proto::kIpv4: return "ipv4";
    case Proto::kIpv6: return "ipv6";
    case Proto::kIpv6Ext: return "ipv6_ext";
    case Proto::kFragment: return "fragment";
    case Proto::kReassembled: return "reassembled";
    case Proto::kUdp: return "udp";
    case Proto::kTcp: return "tcp";
    case Proto::kSctp: return "sctp";
    case Proto::kIcmp: return "icmp";
    case Proto::kOtherL4: return "other_l4";
    case Proto::kGre: return "gre";
    case Proto::kErspan1: return "erspan1";
    case Proto::kErspan2: return "erspan2";
    case Proto::kErspan3: return "erspan3";
    case Proto::kVxlan: return "vxlan";
    case Proto::kIpInIp: return "ipip";
    case Proto::kCount: break;
  }
  return "unknown";
}

void DecodeStats::Add(const DecodeStats& o) {
  frames += o.frames;
  bytes += o.bytes;
  decoded += o.decoded;
  held += o.held;
  for (std::size_t i = 0; i < kProtoCount; ++i) {
    proto[i].packets += o.proto[i].packets;
    proto[i].bytes += o.proto[i].bytes;
  }
  drops.Add(o.drops);
  bad_ipv4_checksum += o.bad_ipv4_checksum;
  bad_udp_checksum += o.bad_udp_checksum;
  bad_tcp_checksum += o.bad_tcp_checksum;
  udp_no_checksum += o.udp_no_checksum;
  frag_datagrams_completed += o.frag_datagrams_completed;
  frag_datagrams_timed_out += o.frag_datagrams_timed_out;
  frag_datagrams_evicted_full += o.frag_datagrams_evicted_full;
  frag_datagrams_overlap += o.frag_datagrams_overlap;
  frag_datagrams_too_many += o.frag_datagrams_too_many;
  frag_evidence_incomplete += o.frag_evidence_incomplete;
  frag_held_dropped += o.frag_held_dropped;
}

void ForEachCounter(const DecodeStats& s,
                    const std::function<void(const std::string& name, uint64_t value)>& fn) {
  fn("decode.frames", s.frames);
  fn("decode.bytes", s.bytes);
  fn("decode.decoded", s.decoded);
  fn("decode.held", s.held);
  for (std::size_t i = 0; i < kProtoCount; ++i) {
    std::string base = "decode.proto." + std::string(ProtoName(static_cast<Proto>(i)));
    fn(base + ".packets", s.proto[i].packets);
    fn(base + ".bytes", s.proto[i].bytes);
  }
  s.drops.ForEach([&](DecodeDrop d, uint64_t v) {
    if (d == DecodeDrop::kOk || d == DecodeDrop::kHeld) return;
    fn("decode.drop." + std::string(DropName(d)), v);
  });
  fn("decode.checksum.bad_ipv4", s.bad_ipv4_checksum);
  fn("decode.checksum.bad_udp", s.bad_udp_checksum);
  fn("decode.checksum.bad_tcp", s.bad_tcp_checksum);
  fn("decode.checksum.udp_none", s.udp_no_checksum);
  fn("decode.frag.completed", s.frag_datagrams_completed);
  fn("decode.frag.timed_out", s.frag_datagrams_timed_out);
  fn("decode.frag.evicted_full", s.frag_datagrams_evicted_full);
  fn("decode.frag.overlap", s.frag_datagrams_overlap);
  fn("decode.frag.too_many", s.frag_datagrams_too_many);
  fn("decode.frag.evidence_incomplete", s.frag_evidence_incomplete);
  fn("decode.frag.held_dropped", s.frag_held_dropped);
}

}  // namespace callvault::decode
