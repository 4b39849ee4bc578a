// Transport layers and tunnels of the Decoder (see decoder.h for the contract).
#include "appliance/decode/bytes.h"
#include "appliance/decode/checksum.h"
#include "appliance/decode/decoder.h"

namespace callvault::decode {
namespace {

constexpr uint8_t kIpIcmp = 1;
constexpr uint8_t kIpIpip = 4;
constexpr uint8_t kIpTcp = 6;
constexpr uint8_t kIpUdp = 17;
constexpr uint8_t kIpIpv6 = 41;
constexpr uint8_t kIpGre = 47;
constexpr uint8_t kIpIcmpv6 = 58;
constexpr uint8_t kIpSctp = 132;
constexpr uint16_t kVxlanPort = 4789;  // RFC 7348 §5

}  // namespace

bool Decoder::L4ChecksumOk(const uint8_t* ip, uint8_t proto, const uint8_t* l4,
                           uint32_t n) const {
  const bool v4 = (ip[0] >> 4) == 4;
  uint64_t seed = v4 ? PseudoHeaderSum(ip + 12, ip + 16, 4, proto, n)
                     : PseudoHeaderSum(ip + 8, ip + 24, 16, proto, n);
  return ChecksumOk(l4, n, seed);
}

DecodeDrop Decoder::Transport(uint8_t proto, const uint8_t* ip, const uint8_t* l4,
                              uint32_t n, int depth, DecodedPacket* out) {
  switch (proto) {
    case kIpUdp:
      return Udp(ip, l4, n, depth, out);
    case kIpTcp:
      return Tcp(ip, l4, n, out);
    case kIpSctp:
      // RFC 9260 §3.1 common header: ports, verification tag, CRC32c (not verified).
      if (n < 12) return DecodeDrop::kTruncatedSctp;
      stats_.Count(Proto::kSctp, n);
      out->l4 = L4Proto::kSctp;
      out->src.port = Be16(l4);
      out->dst.port = Be16(l4 + 2);
      out->payload = {l4 + 12, n - 12};
      return DecodeDrop::kOk;
    case kIpIcmp:
    case kIpIcmpv6:
      stats_.Count(Proto::kIcmp, n);
      out->l4 = L4Proto::kIcmp;
      out->payload = {l4, n};
      return DecodeDrop::kOk;
    case kIpGre:
      if (depth >= opts_.max_tunnel_depth) return DecodeDrop::kTunnelTooDeep;
      return Gre(l4, n, depth + 1, out);
    case kIpIpip:
    case kIpIpv6:
      if (depth >= opts_.max_tunnel_depth) return DecodeDrop::kTunnelTooDeep;
      stats_.Count(Proto::kIpInIp, n);
      SetTunnel((ip[0] >> 4) == 4 ? TunnelKind::kIpInIp : TunnelKind::kIpInIp6, 0, out);
      return proto == kIpIpip ? Ipv4(l4, n, depth + 1, false, out)
                              : Ipv6(l4, n, depth + 1, false, out);
    default:
      stats_.Count(Proto::kOtherL4, n);
      out->l4 = L4Proto::kOther;
      out->payload = {l4, n};
      return DecodeDrop::kOk;
  }
}

DecodeDrop Decoder::Udp(const uint8_t* ip, const uint8_t* u, uint32_t n, int depth,
                        DecodedPacket* out) {
  // RFC 768.
  if (n < 8) return DecodeDrop::kTruncatedUdp;
  const uint32_t ulen = Be16(u + 4);
  if (ulen < 8 || ulen > n) return DecodeDrop::kBadUdpLength;
  stats_.Count(Proto::kUdp, ulen);
  const uint16_t sport = Be16(u);
  const uint16_t dport = Be16(u + 2);
  if (opts_.verify_l4_checksums) {
    const bool v4 = (ip[0] >> 4) == 4;
    if (v4 && u[6] == 0 && u[7] == 0) {
      ++stats_.udp_no_checksum;
    } else if (!L4ChecksumOk(ip, kIpUdp, u, ulen)) {
      ++stats_.bad_udp_checksum;
      out->bad_checksum = true;
    }
  }
  // VXLAN (RFC 7348 §5): destination port 4789, flags exactly I (0x08), reserved zero.
  if (dport == kVxlanPort && ulen >= 16 && u[8] == 0x08 && u[9] == 0 && u[10] == 0 &&
      u[11] == 0 && u[15] == 0) {
    if (depth >= opts_.max_tunnel_depth) return DecodeDrop::kTunnelTooDeep;
    stats_.Count(Proto::kVxlan, ulen - 8);
    SetTunnel(TunnelKind::kVxlan, (uint32_t(u[12]) << 16) | (uint32_t(u[13]) << 8) | u[14],
              out);
    if (ulen - 16 < 14) return DecodeDrop::kTruncatedVxlan;
    return Ethernet(u + 16, ulen - 16, depth + 1, out);
  }
  out->l4 = L4Proto::kUdp;
  out->src.port = sport;
  out->dst.port = dport;
  out->payload = {u + 8, ulen - 8};
  return DecodeDrop::kOk;
}

DecodeDrop Decoder::Tcp(const uint8_t* ip, const uint8_t* t, uint32_t n,
                        DecodedPacket* out) {
  // RFC 9293 §3.1.
  if (n < 20) return DecodeDrop::kTruncatedTcp;
  const uint32_t doff = (t[12] >> 4) * 4u;
  if (doff < 20) return DecodeDrop::kBadTcpHeader;
  if (doff > n) return DecodeDrop::kTruncatedTcp;
  stats_.Count(Proto::kTcp, n);
  if (opts_.verify_l4_checksums && !L4ChecksumOk(ip, kIpTcp, t, n)) {
    ++stats_.bad_tcp_checksum;
    out->bad_checksum = true;
  }
  out->l4 = L4Proto::kTcp;
  out->src.port = Be16(t);
  out->dst.port = Be16(t + 2);
  out->tcp_seq = Be32(t + 4);
  out->tcp_ack = Be32(t + 8);
  out->tcp_flags = t[13];
  out->payload = {t + doff, n - doff};
  return DecodeDrop::kOk;
}

DecodeDrop Decoder::Gre(const uint8_t* g, uint32_t n, int depth, DecodedPacket* out) {
  // RFC 2784 §2 with the key and sequence extensions of RFC 2890 §2.
  if (n < 4) return DecodeDrop::kTruncatedGre;
  const uint8_t flags = g[0];
  if ((g[1] & 0x07) != 0 || (flags & 0x40) != 0) return DecodeDrop::kBadGreHeader;
  const bool has_csum = (flags & 0x80) != 0;
  const bool has_key = (flags & 0x20) != 0;
  const bool has_seq = (flags & 0x10) != 0;
  const uint32_t hl = 4u + (has_csum ? 4u : 0u) + (has_key ? 4u : 0u) + (has_seq ? 4u : 0u);
  if (n < hl) return DecodeDrop::kTruncatedGre;
  const uint32_t key = has_key ? Be32(g + 4 + (has_csum ? 4 : 0)) : 0;
  const uint16_t proto = Be16(g + 2);
  stats_.Count(Proto::kGre, n);
  const uint8_t* p = g + hl;
  const uint32_t rest = n - hl;
  switch (proto) {
    case 0x0800:
      SetTunnel(TunnelKind::kGre, key, out);
      return Ipv4(p, rest, depth, false, out);
    case 0x86dd:
      SetTunnel(TunnelKind::kGre, key, out);
      return Ipv6(p, rest, depth, false, out);
    case 0x6558:  // transparent Ethernet bridging
      SetTunnel(TunnelKind::kGre, key, out);
      return Ethernet(p, rest, depth, out);
    case 0x8847:
      SetTunnel(TunnelKind::kGre, key, out);
      return Mpls(p, rest, depth, out);
    case 0x88be:  // ERSPAN type I has no sequence number and no ERSPAN header
      return Erspan(has_seq ? 2 : 1, p, rest, depth, out);
    case 0x22eb:
      return Erspan(3, p, rest, depth, out);
    default:
      return DecodeDrop::kUnknownGreProtocol;
  }
}

DecodeDrop Decoder::Erspan(int type, const uint8_t* e, uint32_t n, int depth,
                           DecodedPacket* out) {
  // ERSPAN (draft-foschiano-erspan-03 §4): type II is an 8-byte header with version 1,
  // type III a 12-byte header with version 2 plus an optional 8-byte platform-specific
  // subheader (O flag). Session id: low 10 bits of bytes 2-3.
  if (type == 1) {
    stats_.Count(Proto::kErspan1, n);
    SetTunnel(TunnelKind::kErspan1, 0, out);
    return Ethernet(e, n, depth, out);
  }
  const uint32_t base = type == 2 ? 8u : 12u;
  if (n < base) return DecodeDrop::kTruncatedErspan;
  const uint8_t version = e[0] >> 4;
  if (version != (type == 2 ? 1 : 2)) return DecodeDrop::kBadErspanHeader;
  const uint32_t session = Be16(e + 2) & 0x03ffu;
  uint32_t hl = base;
  bool ip_frame = false;
  if (type == 3) {
    if (e[11] & 0x01) hl += 8;  // O: platform-specific subheader follows
    const uint8_t ft = (e[10] >> 2) & 0x1f;  // frame type: 0 Ethernet, 2 IP
    if (ft == 2) {
      ip_frame = true;
    } else if (ft != 0) {
      return DecodeDrop::kBadErspanHeader;
    }
    if (n < hl) return DecodeDrop::kTruncatedErspan;
  }
  stats_.Count(type == 2 ? Proto::kErspan2 : Proto::kErspan3, n);
  SetTunnel(type == 2 ? TunnelKind::kErspan2 : TunnelKind::kErspan3, session, out);
  if (ip_frame) {
    if (n - hl < 1) return DecodeDrop::kTruncatedErspan;
    return IpByVersion(e + hl, n - hl, depth, out);
  }
  return Ethernet(e + hl, n - hl, depth, out);
}

}  // namespace callvault::decode
