// Link, L2 and IP layers of the Decoder; transport and tunnels are in decoder_l4.cc.
#include "appliance/decode/decoder.h"

#include "appliance/decode/bytes.h"
#include "appliance/decode/checksum.h"

namespace callvault::decode {
namespace {

constexpr uint16_t kEthIpv4 = 0x0800;
constexpr uint16_t kEthArp = 0x0806;
constexpr uint16_t kEthRarp = 0x8035;
constexpr uint16_t kEthVlan = 0x8100;
constexpr uint16_t kEthQinq = 0x88a8;
constexpr uint16_t kEthQinqOld1 = 0x9100;
constexpr uint16_t kEthQinqOld2 = 0x9200;
constexpr uint16_t kEthIpv6 = 0x86dd;
constexpr uint16_t kEthMpls = 0x8847;
constexpr uint16_t kEthMplsMcast = 0x8848;
constexpr uint16_t kEthPppoeSession = 0x8864;

}  // namespace

Decoder::Decoder(const DecodeConfig& cfg, DecoderOptions opts)
    : opts_(opts),
      reasm_(cfg.frag_max_datagrams, cfg.frag_max_bytes,
             uint64_t(cfg.frag_timeout_ms) * 1000000ull, &stats_) {
  // [decode] verify_checksums = false (config) turns L4 verification off as well.
  opts_.verify_l4_checksums = opts.verify_l4_checksums && cfg.verify_checksums;
}

DecodeDrop Decoder::Decode(const Frame& f, DecodedPacket* out) {
  *out = DecodedPacket{};
  out->frame = &f;
  now_ns_ = f.ts_ns;
  reasm_nest_ = 0;
  ++stats_.frames;
  stats_.bytes += f.caplen;
  const uint8_t* p = f.data;
  const uint32_t n = f.data == nullptr ? 0 : f.caplen;
  DecodeDrop r;
  switch (f.link) {
    case LinkType::kEthernet:
      r = Ethernet(p, n, 0, out);
      break;
    case LinkType::kLinuxSll:
      // Linux cooked v1: packet type, ARPHRD, address length, 8 address bytes, protocol.
      if (n < 16) {
        r = DecodeDrop::kTruncatedLinkHeader;
      } else {
        stats_.Count(Proto::kLinuxSll, n);
        r = EtherType(Be16(p + 14), p + 16, n - 16, 0, out);
      }
      break;
    case LinkType::kLinuxSll2:
      // Linux cooked v2: protocol first, then reserved, ifindex, ARPHRD, type, address.
      if (n < 20) {
        r = DecodeDrop::kTruncatedLinkHeader;
      } else {
        stats_.Count(Proto::kLinuxSll2, n);
        r = EtherType(Be16(p), p + 20, n - 20, 0, out);
      }
      break;
    case LinkType::kNull:
    case LinkType::kLoop: {
      // 4-byte address family: host order of the capturing machine (NULL) or network
      // order (LOOP). AF_INET is 2 everywhere; AF_INET6 is 10 (Linux), 24 (NetBSD,
      // OpenBSD), 28 (FreeBSD), 30 (macOS). Either byte order is accepted.
      if (n < 4) {
        r = DecodeDrop::kTruncatedLinkHeader;
        break;
      }
      uint32_t af = p[0] != 0 ? p[0] : p[3];
      stats_.Count(Proto::kNullLoop, n);
      if (af == 2) {
        r = Ipv4(p + 4, n - 4, 0, false, out);
      } else if (af == 10 || af == 24 || af == 28 || af == 30) {
        r = Ipv6(p + 4, n - 4, 0, false, out);
      } else {
        r = DecodeDrop::kUnknownAddressFamily;
      }
      break;
    }
    case LinkType::kRaw:
    case LinkType::kIpv4:
    case LinkType::kIpv6:
      if (n < 1) {
        r = DecodeDrop::kTruncatedLinkHeader;
      } else {
        stats_.Count(Proto::kRawIp, n);
        r = IpByVersion(p, n, 0, out);
      }
      break;
    default:
      r = DecodeDrop::kUnsupportedLinkType;
      break;
  }
  if (r == DecodeDrop::kOk) {
    ++stats_.decoded;
  } else if (r == DecodeDrop::kHeld) {
    ++stats_.held;
  } else {
    stats_.drops.Inc(r);
  }
  return r;
}

DecodeDrop Decoder::Ethernet(const uint8_t* p, uint32_t n, int depth, DecodedPacket* out) {
  if (n < 14) return DecodeDrop::kTruncatedEthernet;
  stats_.Count(Proto::kEthernet, n);
  return EtherType(Be16(p + 12), p + 14, n - 14, depth, out);
}

DecodeDrop Decoder::EtherType(uint16_t type, const uint8_t* p, uint32_t n, int depth,
                              DecodedPacket* out) {
  for (;;) {
    switch (type) {
      case kEthVlan:
      case kEthQinq:
      case kEthQinqOld1:
      case kEthQinqOld2: {
        // IEEE 802.1Q tag: TCI (PCP, DEI, 12-bit VID), then the next EtherType.
        if (n < 4) return DecodeDrop::kTruncatedVlan;
        if (out->vlan_count >= kMaxTags) return DecodeDrop::kTooManyTags;
        if (out->vlan_count < 2) out->vlan[out->vlan_count] = Be16(p) & 0x0fff;
        ++out->vlan_count;
        stats_.Count(type == kEthVlan ? Proto::kVlan : Proto::kQinq, n + 4);
        type = Be16(p + 2);
        p += 4;
        n -= 4;
        continue;
      }
      case kEthIpv4:
        return Ipv4(p, n, depth, false, out);
      case kEthIpv6:
        return Ipv6(p, n, depth, false, out);
      case kEthMpls:
      case kEthMplsMcast:
        return Mpls(p, n, depth, out);
      case kEthPppoeSession:
        return Pppoe(p, n, depth, out);
      case kEthArp:
      case kEthRarp:
        return DecodeDrop::kArp;
      default:
        // Values below 0x0600 are 802.3 lengths: LLC/SNAP frames (STP, CDP, ...).
        return type < 0x0600 ? DecodeDrop::kLlc : DecodeDrop::kUnknownEthertype;
    }
  }
}

DecodeDrop Decoder::Mpls(const uint8_t* p, uint32_t n, int depth, DecodedPacket* out) {
  // RFC 3032 §2.1: 20-bit label, TC, S (bottom of stack), TTL.
  for (;;) {
    if (n < 4) return DecodeDrop::kTruncatedMpls;
    if (out->mpls_labels >= kMaxTags) return DecodeDrop::kTooManyTags;
    ++out->mpls_labels;
    stats_.Count(Proto::kMpls, n);
    const bool bottom = (p[2] & 0x01) != 0;
    p += 4;
    n -= 4;
    if (bottom) break;
  }
  if (n < 1) return DecodeDrop::kTruncatedMpls;
  switch (p[0] >> 4) {
    case 4:
      return Ipv4(p, n, depth, false, out);
    case 6:
      return Ipv6(p, n, depth, false, out);
    case 0:
      // RFC 4385 pseudowire control word (first nibble 0), then an Ethernet frame
      // (RFC 4448).
      if (n < 4) return DecodeDrop::kTruncatedMpls;
      return Ethernet(p + 4, n - 4, depth, out);
    default:
      return DecodeDrop::kMplsNoIp;
  }
}

DecodeDrop Decoder::Pppoe(const uint8_t* p, uint32_t n, int depth, DecodedPacket* out) {
  // RFC 2516 §4: VER/TYPE 0x11, CODE 0x00 (session data), SESSION_ID, LENGTH, then the
  // PPP protocol field (RFC 1661 §2).
  if (n < 8) return DecodeDrop::kTruncatedPppoe;
  if (p[0] != 0x11 || p[1] != 0x00) return DecodeDrop::kBadPppoeHeader;
  const uint32_t len = Be16(p + 4);
  if (len < 2) return DecodeDrop::kBadPppoeHeader;
  if (len > n - 6) return DecodeDrop::kTruncatedPppoe;
  stats_.Count(Proto::kPppoe, len + 6);
  switch (Be16(p + 6)) {
    case 0x0021:
      return Ipv4(p + 8, len - 2, depth, false, out);
    case 0x0057:
      return Ipv6(p + 8, len - 2, depth, false, out);
    default:
      return DecodeDrop::kPppNotIp;
  }
}

DecodeDrop Decoder::IpByVersion(const uint8_t* p, uint32_t n, int depth,
                                DecodedPacket* out) {
  switch (p[0] >> 4) {
    case 4:
      return Ipv4(p, n, depth, false, out);
    case 6:
      return Ipv6(p, n, depth, false, out);
    default:
      return DecodeDrop::kBadIpVersion;
  }
}

// One fragment into the reassembler; a completed datagram is decoded as if it had arrived
// whole (IPv4 or IPv6 by the key's version), at most kMaxNestedReassembly levels deep.
DecodeDrop Decoder::Reassemble(const FragmentInput& in, int depth, DecodedPacket* out) {
  if (reasm_nest_ >= kMaxNestedReassembly) return DecodeDrop::kFragNested;
  std::span<const uint8_t> whole;
  std::span<const Frame> frames;
  DecodeDrop r = reasm_.Add(in, &whole, &frames);
  if (r != DecodeDrop::kOk) return r;
  ++reasm_nest_;
  stats_.Count(Proto::kReassembled, whole.size());
  out->reassembled = true;
  out->fragment_frames = frames;
  const uint32_t n = static_cast<uint32_t>(whole.size());
  return in.key.version == 4 ? Ipv4(whole.data(), n, depth, true, out)
                             : Ipv6(whole.data(), n, depth, true, out);
}

DecodeDrop Decoder::Ipv4(const uint8_t* p, uint32_t n, int depth, bool rebuilt,
                         DecodedPacket* out) {
  // RFC 791 §3.1.
  if (n < 20) return DecodeDrop::kTruncatedIpv4;
  if ((p[0] >> 4) != 4) return DecodeDrop::kBadIpVersion;
  const uint32_t hl = (p[0] & 0x0f) * 4u;
  const uint32_t tl = Be16(p + 2);
  if (hl < 20 || tl < hl) return DecodeDrop::kBadIpv4Header;
  if (tl > n) return DecodeDrop::kTruncatedIpv4;
  n = tl;  // drop Ethernet padding
  if (!rebuilt) {
    stats_.Count(Proto::kIpv4, n);
    if (!ChecksumOk(p, hl)) {
      ++stats_.bad_ipv4_checksum;
      out->bad_checksum = true;
    }
  }
  const uint16_t frag = Be16(p + 6);
  if ((frag & 0x3fff) != 0) {  // MF set or offset non-zero
    stats_.Count(Proto::kFragment, n);
    FragmentInput in;
    in.key.src = IpAddress::FromV4(p + 12);
    in.key.dst = IpAddress::FromV4(p + 16);
    in.key.id = Be16(p + 4);
    in.key.version = 4;
    in.key.proto = p[9];
    in.header = {p, hl};
    in.offset = (frag & 0x1fffu) * 8u;
    in.more = (frag & 0x2000) != 0;
    in.data = {p + hl, n - hl};
    in.ts_ns = now_ns_;
    in.frame = out->frame;
    return Reassemble(in, depth, out);
  }
  out->ip_version = 4;
  out->src.ip = IpAddress::FromV4(p + 12);
  out->dst.ip = IpAddress::FromV4(p + 16);
  out->src.port = 0;
  out->dst.port = 0;
  out->l3 = {p, n};
  out->ip_proto = p[9];
  return Transport(p[9], p, p + hl, n - hl, depth, out);
}

DecodeDrop Decoder::Ipv6(const uint8_t* p, uint32_t n, int depth, bool rebuilt,
                         DecodedPacket* out) {
  // RFC 8200 §3 and §4.
  if (n < 40) return DecodeDrop::kTruncatedIpv6;
  if ((p[0] >> 4) != 6) return DecodeDrop::kBadIpVersion;
  const uint32_t total = 40u + Be16(p + 4);
  if (total > n) return DecodeDrop::kTruncatedIpv6;
  n = total;
  if (!rebuilt) stats_.Count(Proto::kIpv6, n);
  uint8_t nh = p[6];
  uint32_t nh_off = 6;
  uint32_t off = 40;
  for (int ext = 0;; ++ext) {
    uint32_t len;
    switch (nh) {
      case 0:    // hop-by-hop options
      case 43:   // routing
      case 60:   // destination options
      case 135:  // mobility
      case 139:  // HIP
      case 140:  // shim6
        if (off + 8 > n) return DecodeDrop::kTruncatedIpv6Ext;
        len = (p[off + 1] + 1u) * 8u;
        break;
      case 51:  // AH (RFC 4302 §2.2: length in 32-bit words minus 2)
        if (off + 8 > n) return DecodeDrop::kTruncatedIpv6Ext;
        len = (p[off + 1] + 2u) * 4u;
        break;
      case 44: {  // fragment (RFC 8200 §4.5)
        if (off + 8 > n) return DecodeDrop::kTruncatedIpv6Ext;
        const uint16_t fo = Be16(p + off + 2);
        if ((fo & 0xfff9) == 0) {
          // Atomic fragment (RFC 6946): offset 0 and M clear, nothing to reassemble.
          len = 8;
          break;
        }
        stats_.Count(Proto::kFragment, n);
        FragmentInput in;
        in.key.src = IpAddress::FromV6(p + 8);
        in.key.dst = IpAddress::FromV6(p + 24);
        in.key.id = Be32(p + off + 4);
        in.key.version = 6;
        in.header = {p, off};
        in.next_header_offset = static_cast<uint16_t>(nh_off);
        in.next_header = p[off];
        in.offset = fo & 0xfff8u;
        in.more = (fo & 0x0001) != 0;
        in.data = {p + off + 8, n - off - 8};
        in.ts_ns = now_ns_;
        in.frame = out->frame;
        return Reassemble(in, depth, out);
      }
      default:
        out->ip_version = 6;
        out->src.ip = IpAddress::FromV6(p + 8);
        out->dst.ip = IpAddress::FromV6(p + 24);
        out->src.port = 0;
        out->dst.port = 0;
        out->l3 = {p, n};
        out->ip_proto = nh;
        return Transport(nh, p, p + off, n - off, depth, out);
    }
    if (ext >= kMaxIpv6Ext) return DecodeDrop::kIpv6TooManyExt;
    if (off + len > n) return DecodeDrop::kTruncatedIpv6Ext;
    if (!rebuilt) stats_.Count(Proto::kIpv6Ext, n - off);
    nh_off = off;
    nh = p[off];
    off += len;
  }
}

}  // namespace callvault::decode
