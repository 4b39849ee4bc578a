#include "tests/tools/callgen/frame_builder.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "fmt/format.h"

namespace callvault::callgen {
namespace {

constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kProtoFragment = 44;  // IPv6 Fragment header
constexpr size_t kUdpHeader = 8;
constexpr size_t kTcpHeader = 20;

uint32_t PseudoHeaderSum(const Host& src, const Host& dst, uint8_t proto, size_t l4_len) {
  if (src.v6) {  // RFC 8200 §8.1
    uint8_t ph[40] = {};
    std::memcpy(ph, src.ip6.data(), 16);
    std::memcpy(ph + 16, dst.ip6.data(), 16);
    PutBe32(ph + 32, static_cast<uint32_t>(l4_len));
    ph[39] = proto;
    return ChecksumAdd(0, ph, sizeof ph);
  }
  uint8_t ph[12];
  PutBe32(ph, src.ip);
  PutBe32(ph + 4, dst.ip);
  ph[8] = 0;
  ph[9] = proto;
  PutBe16(ph + 10, static_cast<uint16_t>(l4_len));
  return ChecksumAdd(0, ph, sizeof ph);
}

}  // namespace

Host MakeHost(uint32_t ip) {
  Host h;
  h.ip = ip;
  h.mac[0] = 0x02;  // locally administered, unicast
  h.mac[1] = 0x00;
  PutBe32(h.mac + 2, ip);
  return h;
}

Host MakeHost6(const std::array<uint8_t, 16>& ip6) {
  Host h;
  h.v6 = true;
  h.ip6 = ip6;
  h.mac[0] = 0x02;
  h.mac[1] = 0x00;
  std::memcpy(h.mac + 2, ip6.data() + 12, 4);
  return h;
}

std::string Ipv4ToString(uint32_t ip) {
  return fmt::format("{}.{}.{}.{}", ip >> 24, (ip >> 16) & 0xFF, (ip >> 8) & 0xFF, ip & 0xFF);
}

std::string HostText(const Host& h) {
  if (!h.v6) return Ipv4ToString(h.ip);
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(AF_INET6, h.ip6.data(), buf, sizeof buf);
  return buf;
}

std::string HostUriText(const Host& h) {
  return h.v6 ? fmt::format("[{}]", HostText(h)) : HostText(h);
}

uint32_t ChecksumAdd(uint32_t sum, const uint8_t* data, size_t len) {
  // Callers only pass an odd length for the last block, as RFC 1071 §4.1 pads it.
  size_t i = 0;
  for (; i + 1 < len; i += 2) sum += static_cast<uint32_t>(data[i] << 8 | data[i + 1]);
  if (i < len) sum += static_cast<uint32_t>(data[i] << 8);
  return sum;
}

uint16_t ChecksumFinish(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

size_t FrameBuilder::l2_len() const {
  size_t n = 14;
  if (link_.vlan >= 0) n += 4;
  if (link_.outer_vlan >= 0) n += 4;
  return n;
}

size_t FrameBuilder::WriteL2(uint8_t* out, const Host& src, const Host& dst) const {
  std::memcpy(out, dst.mac, 6);
  std::memcpy(out + 6, src.mac, 6);
  size_t p = 12;
  if (link_.outer_vlan >= 0) {  // IEEE 802.1ad S-tag
    PutBe16(out + p, 0x88A8);
    PutBe16(out + p + 2, static_cast<uint16_t>(link_.outer_vlan & 0x0FFF));
    p += 4;
  }
  if (link_.vlan >= 0) {  // IEEE 802.1Q C-tag, priority 5 (voice)
    PutBe16(out + p, 0x8100);
    PutBe16(out + p + 2, static_cast<uint16_t>((5 << 13) | (link_.vlan & 0x0FFF)));
    p += 4;
  }
  PutBe16(out + p, src.v6 ? 0x86DD : 0x0800);
  return p + 2;
}

void FrameBuilder::WriteIpv4(uint8_t* ip, uint32_t src, uint32_t dst, uint8_t proto,
                             uint16_t total_len, uint16_t id, uint16_t frag_field) {
  ip[0] = 0x45;
  ip[1] = 0xB8;  // DSCP EF (46), as voice gear marks media and often signalling
  PutBe16(ip + 2, total_len);
  PutBe16(ip + 4, id);
  PutBe16(ip + 6, frag_field);
  ip[8] = 64;
  ip[9] = proto;
  ip[10] = ip[11] = 0;
  PutBe32(ip + 12, src);
  PutBe32(ip + 16, dst);
  PutBe16(ip + 10, ChecksumFinish(ChecksumAdd(0, ip, 20)));
}

void FrameBuilder::WriteIp(uint8_t* ip, const Host& src, const Host& dst, uint8_t next_header,
                           size_t payload_len, uint16_t id, uint16_t frag_field) {
  if (!src.v6) {
    WriteIpv4(ip, src.ip, dst.ip, next_header, static_cast<uint16_t>(20 + payload_len), id,
              frag_field);
    return;
  }
  PutBe32(ip, 0x6B800000);  // version 6, traffic class 0xB8 (EF), flow label 0
  PutBe16(ip + 4, static_cast<uint16_t>(payload_len));
  ip[6] = next_header;
  ip[7] = 64;
  std::memcpy(ip + 8, src.ip6.data(), 16);
  std::memcpy(ip + 24, dst.ip6.data(), 16);
}

void FrameBuilder::FinishUdpChecksum(uint8_t* udp, const Host& src, const Host& dst,
                                     size_t udp_len) {
  udp[6] = udp[7] = 0;
  uint32_t sum = PseudoHeaderSum(src, dst, kProtoUdp, udp_len);
  uint16_t c = ChecksumFinish(ChecksumAdd(sum, udp, udp_len));
  PutBe16(udp + 6, c == 0 ? 0xFFFF : c);  // RFC 768: a computed 0 is sent as all ones
}

std::string FrameBuilder::Udp(const Host& src, uint16_t sport, const Host& dst, uint16_t dport,
                              uint16_t ip_id, std::span<const uint8_t> payload) const {
  const size_t l2 = l2_len(), ipl = IpLen(src);
  std::string f(l2 + ipl + kUdpHeader + payload.size(), '\0');
  auto* b = reinterpret_cast<uint8_t*>(f.data());
  WriteL2(b, src, dst);
  size_t udp_len = kUdpHeader + payload.size();
  WriteIp(b + l2, src, dst, kProtoUdp, udp_len, ip_id, 0);
  uint8_t* udp = b + l2 + ipl;
  PutBe16(udp, sport);
  PutBe16(udp + 2, dport);
  PutBe16(udp + 4, static_cast<uint16_t>(udp_len));
  if (!payload.empty()) std::memcpy(udp + kUdpHeader, payload.data(), payload.size());
  FinishUdpChecksum(udp, src, dst, udp_len);
  return f;
}

std::vector<std::string> FrameBuilder::UdpFragmented(const Host& src, uint16_t sport,
                                                     const Host& dst, uint16_t dport,
                                                     uint16_t ip_id,
                                                     std::span<const uint8_t> payload,
                                                     int mtu) const {
  std::vector<std::string> frames;
  const size_t ipl = IpLen(src);
  if (ipl + kUdpHeader + payload.size() <= static_cast<size_t>(mtu)) {
    frames.push_back(Udp(src, sport, dst, dport, ip_id, payload));
    return frames;
  }
  // Build the whole UDP datagram (header + checksum) first, then cut its bytes.
  std::string dgram(kUdpHeader + payload.size(), '\0');
  auto* udp = reinterpret_cast<uint8_t*>(dgram.data());
  PutBe16(udp, sport);
  PutBe16(udp + 2, dport);
  PutBe16(udp + 4, static_cast<uint16_t>(dgram.size()));
  std::memcpy(udp + kUdpHeader, payload.data(), payload.size());
  FinishUdpChecksum(udp, src, dst, dgram.size());

  const size_t frag_hdr = src.v6 ? 8 : 0;
  const size_t max_data = (static_cast<size_t>(mtu) - ipl - frag_hdr) & ~size_t{7};
  const size_t l2 = l2_len();
  for (size_t off = 0; off < dgram.size(); off += max_data) {
    const size_t n = std::min(max_data, dgram.size() - off);
    const bool more = off + n < dgram.size();
    std::string f(l2 + ipl + frag_hdr + n, '\0');
    auto* b = reinterpret_cast<uint8_t*>(f.data());
    WriteL2(b, src, dst);
    if (src.v6) {
      WriteIp(b + l2, src, dst, kProtoFragment, frag_hdr + n, 0, 0);
      uint8_t* fh = b + l2 + ipl;
      fh[0] = kProtoUdp;
      fh[1] = 0;
      PutBe16(fh + 2, static_cast<uint16_t>(off | (more ? 1 : 0)));  // offset<<3 | M
      PutBe32(fh + 4, 0x10000u + ip_id);                             // identification
    } else {
      const uint16_t frag = static_cast<uint16_t>((more ? 0x2000 : 0) | (off / 8));
      WriteIp(b + l2, src, dst, kProtoUdp, n, ip_id, frag);
    }
    std::memcpy(b + l2 + ipl + frag_hdr, dgram.data() + off, n);
    frames.push_back(std::move(f));
  }
  return frames;
}

std::string FrameBuilder::Tcp(const Host& src, uint16_t sport, const Host& dst, uint16_t dport,
                              uint16_t ip_id, uint32_t seq, uint32_t ack, uint8_t flags,
                              std::span<const uint8_t> payload) const {
  constexpr uint8_t kSyn = 0x02;
  const size_t opt = (flags & kSyn) ? 4 : 0;  // MSS option on SYN / SYN-ACK
  const size_t l2 = l2_len(), ipl = IpLen(src);
  const size_t tcp_len = kTcpHeader + opt + payload.size();
  std::string f(l2 + ipl + tcp_len, '\0');
  auto* b = reinterpret_cast<uint8_t*>(f.data());
  WriteL2(b, src, dst);
  WriteIp(b + l2, src, dst, kProtoTcp, tcp_len, ip_id, 0x4000 /* DF */);
  uint8_t* t = b + l2 + ipl;
  PutBe16(t, sport);
  PutBe16(t + 2, dport);
  PutBe32(t + 4, seq);
  PutBe32(t + 8, (flags & 0x10) ? ack : 0);
  t[12] = static_cast<uint8_t>(((kTcpHeader + opt) / 4) << 4);
  t[13] = flags;
  PutBe16(t + 14, 64240);  // window
  if (opt) {
    t[20] = 2;  // MSS
    t[21] = 4;
    PutBe16(t + 22, src.v6 ? 1440 : 1460);
  }
  if (!payload.empty()) std::memcpy(t + kTcpHeader + opt, payload.data(), payload.size());
  uint32_t sum = PseudoHeaderSum(src, dst, kProtoTcp, tcp_len);
  PutBe16(t + 16, ChecksumFinish(ChecksumAdd(sum, t, tcp_len)));
  return f;
}

}  // namespace callvault::callgen
