#include "appliance/media/rtp.h"

namespace callvault::media {
namespace {

inline uint16_t Be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
inline uint32_t Be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}

}  // namespace

std::string_view RtpErrorName(RtpError e) {
  switch (e) {
    case RtpError::kOk: return "ok";
    case RtpError::kTooShort: return "too_short";
    case RtpError::kBadVersion: return "bad_version";
    case RtpError::kBadPadding: return "bad_padding";
    case RtpError::kCount: break;
  }
  return "unknown";
}

std::string_view MediaPacketKindName(MediaPacketKind k) {
  switch (k) {
    case MediaPacketKind::kRtp: return "rtp";
    case MediaPacketKind::kRtcp: return "rtcp";
    case MediaPacketKind::kStun: return "stun";
    case MediaPacketKind::kZrtp: return "zrtp";
    case MediaPacketKind::kDtls: return "dtls";
    case MediaPacketKind::kUnknown: return "unknown";
  }
  return "unknown";
}

RtpError ParseRtp(std::span<const uint8_t> d, RtpHeader* out) {
  if (d.size() < 12) return RtpError::kTooShort;
  const uint8_t* p = d.data();
  if ((p[0] >> 6) != 2) return RtpError::kBadVersion;
  out->padding = (p[0] & 0x20) != 0;
  out->extension = (p[0] & 0x10) != 0;
  out->csrc_count = p[0] & 0x0f;
  out->marker = (p[1] & 0x80) != 0;
  out->payload_type = p[1] & 0x7f;
  out->seq = Be16(p + 2);
  out->timestamp = Be32(p + 4);
  out->ssrc = Be32(p + 8);
  std::size_t off = 12 + 4u * out->csrc_count;  // §5.1 CSRC list
  if (off > d.size()) return RtpError::kTooShort;
  out->ext_profile = 0;
  if (out->extension) {  // §5.3.1: 16-bit profile, 16-bit length in 32-bit words
    if (d.size() - off < 4) return RtpError::kTooShort;
    out->ext_profile = Be16(p + off);
    std::size_t words = Be16(p + off + 2);
    off += 4;
    if (d.size() - off < words * 4) return RtpError::kTooShort;
    off += words * 4;
  }
  std::size_t end = d.size();
  out->pad_bytes = 0;
  if (out->padding) {  // §5.1: last octet counts the padding, itself included
    uint8_t pad = p[d.size() - 1];
    if (pad == 0 || pad > end - off) return RtpError::kBadPadding;
    out->pad_bytes = pad;
    end -= pad;
  }
  out->payload = d.subspan(off, end - off);
  return RtpError::kOk;
}

bool IsStun(std::span<const uint8_t> d) {
  if (d.size() < 20 || (d[0] & 0xc0) != 0) return false;
  if (Be32(d.data() + 4) != 0x2112A442u) return false;
  std::size_t len = Be16(d.data() + 2);
  return len % 4 == 0 && len + 20 == d.size();
}

bool IsZrtp(std::span<const uint8_t> d) {
  return d.size() >= 12 && d[0] == 0x10 && Be32(d.data() + 4) == 0x5A525450u;
}

bool ParseRtcp(std::span<const uint8_t> d, RtcpSummary* out) {
  *out = RtcpSummary{};
  std::size_t off = 0;
  while (d.size() - off >= 4) {
    const uint8_t* p = d.data() + off;
    if ((p[0] >> 6) != 2) break;
    uint8_t pt = p[1];
    if (pt < 192 || pt > 223) break;  // RFC 5761 §4 range
    std::size_t len = (std::size_t(Be16(p + 2)) + 1) * 4;
    if (len > d.size() - off) break;
    if (out->packets == 0) {
      // A compound starts with SR or RR (§6.1); RFC 5506 reduced-size allows others.
      if (len >= 8) out->sender_ssrc = Be32(p + 4);
    }
    switch (pt) {
      case 200: out->sr = true; break;
      case 201: out->rr = true; break;
      case 202: out->sdes = true; break;
      case 203: out->bye = true; break;
      case 204: out->app = true; break;
      default: out->other = true; break;
    }
    if (out->packets < 255) ++out->packets;
    off += len;
  }
  if (out->packets == 0) return false;
  out->trailing = off != d.size();
  return true;
}

MediaPacketKind ClassifyMediaPacket(std::span<const uint8_t> d) {
  if (d.empty()) return MediaPacketKind::kUnknown;
  uint8_t b = d[0];
  if (b <= 3) return IsStun(d) ? MediaPacketKind::kStun : MediaPacketKind::kUnknown;
  if (b >= 16 && b <= 19) return IsZrtp(d) ? MediaPacketKind::kZrtp : MediaPacketKind::kUnknown;
  if (b >= 20 && b <= 63) return MediaPacketKind::kDtls;
  if (b >= 128 && b <= 191) {
    if (d.size() < 8) return MediaPacketKind::kUnknown;
    if (d[1] >= 192 && d[1] <= 223) {  // RFC 5761 §4
      RtcpSummary s;
      return ParseRtcp(d, &s) ? MediaPacketKind::kRtcp : MediaPacketKind::kUnknown;
    }
    return d.size() >= 12 ? MediaPacketKind::kRtp : MediaPacketKind::kUnknown;
  }
  return MediaPacketKind::kUnknown;
}

}  // namespace callvault::media
