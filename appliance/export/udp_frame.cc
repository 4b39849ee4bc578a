#include "appliance/export/udp_frame.h"

namespace callvault::exporter {
namespace {

uint16_t Be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }

bool FromIp(std::span<const uint8_t> ip, UdpView* out) {
  if (ip.empty()) return false;
  std::size_t off;
  uint8_t proto;
  std::size_t end = ip.size();
  if ((ip[0] >> 4) == 4) {
    if (ip.size() < 20) return false;
    std::size_t ihl = std::size_t(ip[0] & 0x0f) * 4;
    if (ihl < 20 || ihl > ip.size()) return false;
    if ((Be16(&ip[6]) & 0x3fff) != 0) return false;  // a fragment
    proto = ip[9];
    std::size_t tot = Be16(&ip[2]);
    if (tot >= ihl && tot < end) end = tot;  // Ethernet padding
    out->src.ip = IpAddress::FromV4(&ip[12]);
    out->dst.ip = IpAddress::FromV4(&ip[16]);
    off = ihl;
  } else if ((ip[0] >> 4) == 6) {
    if (ip.size() < 40) return false;
    proto = ip[6];
    std::size_t plen = Be16(&ip[4]);
    if (40 + plen < end) end = 40 + plen;
    out->src.ip = IpAddress::FromV6(&ip[8]);
    out->dst.ip = IpAddress::FromV6(&ip[24]);
    off = 40;
    // Hop-by-hop, routing, destination options (RFC 8200 §4).
    while (proto == 0 || proto == 43 || proto == 60) {
      if (end < off + 8) return false;
      proto = ip[off];
      off += (std::size_t(ip[off + 1]) + 1) * 8;
    }
    if (proto == 44) return false;  // fragment
  } else {
    return false;
  }
  if (proto != 17 || end < off + 8 || end > ip.size()) return false;
  out->src.port = Be16(&ip[off]);
  out->dst.port = Be16(&ip[off + 2]);
  std::size_t ulen = Be16(&ip[off + 4]);
  std::size_t pay_end = end;
  if (ulen >= 8 && off + ulen <= end) pay_end = off + ulen;
  out->payload = ip.subspan(off + 8, pay_end - off - 8);
  return true;
}

}  // namespace

bool ExtractUdp(LinkType link, std::span<const uint8_t> f, UdpView* out) {
  std::size_t off = 0;
  uint16_t type = 0;
  switch (link) {
    case LinkType::kEthernet:
      if (f.size() < 14) return false;
      type = Be16(&f[12]);
      off = 14;
      while (type == 0x8100 || type == 0x88a8 || type == 0x9100) {  // 802.1Q / QinQ
        if (f.size() < off + 4) return false;
        type = Be16(&f[off + 2]);
        off += 4;
      }
      if (type != 0x0800 && type != 0x86dd) return false;
      break;
    case LinkType::kLinuxSll:
      if (f.size() < 16) return false;
      off = 16;
      break;
    case LinkType::kLinuxSll2:
      if (f.size() < 20) return false;
      off = 20;
      break;
    case LinkType::kNull:
    case LinkType::kLoop:
      off = 4;
      break;
    case LinkType::kRaw:
    case LinkType::kIpv4:
    case LinkType::kIpv6:
      off = 0;
      break;
  }
  if (off > f.size()) return false;
  return FromIp(f.subspan(off), out);
}

}  // namespace callvault::exporter
