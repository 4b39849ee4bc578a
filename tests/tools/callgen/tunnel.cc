#include "tests/tools/callgen/tunnel.h"

#include <cstring>

#include "tests/tools/callgen/frame_builder.h"

namespace callvault::callgen {
namespace {

constexpr size_t kEth = 14, kIp = 20;
constexpr uint32_t kSwitchIp = (192u << 24) | (0u << 16) | (2u << 8) | 1u;
constexpr uint32_t kCollectorIp = (192u << 24) | (0u << 16) | (2u << 8) | 100u;

// Bytes after the outer IPv4 header.
size_t EncapLen(TunnelKind k) {
  switch (k) {
    case TunnelKind::kNone:
      return 0;
    case TunnelKind::kGre:
      return 8;  // GRE with key (RFC 2890 §2.1)
    case TunnelKind::kErspan2:
      return 16;  // GRE with sequence + ERSPAN II header
    case TunnelKind::kErspan3:
      return 20;  // GRE with sequence + ERSPAN III header
    case TunnelKind::kVxlan:
      return 16;  // UDP + VXLAN header
  }
  return 0;
}

}  // namespace

std::optional<TunnelKind> ParseTunnelKind(std::string_view name) {
  if (name == "none") return TunnelKind::kNone;
  if (name == "gre") return TunnelKind::kGre;
  if (name == "erspan2") return TunnelKind::kErspan2;
  if (name == "erspan3") return TunnelKind::kErspan3;
  if (name == "vxlan") return TunnelKind::kVxlan;
  return std::nullopt;
}

const char* TunnelName(TunnelKind kind) {
  switch (kind) {
    case TunnelKind::kNone:
      return "none";
    case TunnelKind::kGre:
      return "gre";
    case TunnelKind::kErspan2:
      return "erspan2";
    case TunnelKind::kErspan3:
      return "erspan3";
    case TunnelKind::kVxlan:
      return "vxlan";
  }
  return "?";
}

size_t Tunnel::header_len() const {
  return kind_ == TunnelKind::kNone ? 0 : kEth + kIp + EncapLen(kind_);
}

void Tunnel::Write(uint8_t* out, size_t inner_len, uint64_t ts_ns) {
  if (kind_ == TunnelKind::kNone) return;
  const Host sw = MakeHost(kSwitchIp), collector = MakeHost(kCollectorIp);
  std::memcpy(out, collector.mac, 6);
  std::memcpy(out + 6, sw.mac, 6);
  PutBe16(out + 12, 0x0800);
  uint8_t* ip = out + kEth;
  uint8_t* e = ip + kIp;
  const size_t encap = EncapLen(kind_);
  const bool udp = kind_ == TunnelKind::kVxlan;
  FrameBuilder::WriteIpv4(ip, kSwitchIp, kCollectorIp, udp ? 17 : 47,
                          static_cast<uint16_t>(kIp + encap + inner_len), ip_id_++, 0x4000);
  const uint32_t seq = seq_++;
  switch (kind_) {
    case TunnelKind::kGre:  // K bit, transparent Ethernet bridging
      PutBe16(e, 0x2000);
      PutBe16(e + 2, 0x6558);
      PutBe32(e + 4, id_);
      break;
    case TunnelKind::kErspan2:
      PutBe16(e, 0x1000);  // S bit: a sequence number follows
      PutBe16(e + 2, 0x88BE);
      PutBe32(e + 4, seq);
      PutBe16(e + 8, 0x1000);  // Ver 1 (type II), VLAN 0 (the inner frame keeps its tags)
      PutBe16(e + 10, static_cast<uint16_t>(id_ & 0x3FF));  // COS 0, En 0, T 0, session
      PutBe32(e + 12, 0);                                   // reserved, index 0
      break;
    case TunnelKind::kErspan3:
      PutBe16(e, 0x1000);
      PutBe16(e + 2, 0x22EB);
      PutBe32(e + 4, seq);
      PutBe16(e + 8, 0x2000);  // Ver 2 (type III), VLAN 0
      PutBe16(e + 10, static_cast<uint16_t>(id_ & 0x3FF));
      PutBe32(e + 12, static_cast<uint32_t>(ts_ns / 100'000));  // Gra 00: 100 us units
      PutBe32(e + 16, 0);  // SGT 0, P 0, FT 0 (Ethernet), HW id 0, D 0, Gra 0, O 0
      break;
    case TunnelKind::kVxlan:
      PutBe16(e, static_cast<uint16_t>(49152 + (seq % 16384)));  // source port: flow entropy
      PutBe16(e + 2, 4789);
      PutBe16(e + 4, static_cast<uint16_t>(8 + 8 + inner_len));
      PutBe16(e + 6, 0);           // no checksum (RFC 7348 §5)
      PutBe32(e + 8, 0x08000000);  // I flag
      PutBe32(e + 12, (id_ & 0xFFFFFF) << 8);
      break;
    case TunnelKind::kNone:
      break;
  }
}

}  // namespace callvault::callgen
