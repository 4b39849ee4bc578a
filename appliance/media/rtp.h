// RTP / RTCP / STUN / ZRTP recognition on a media port.
//
// Input: a UDP payload (a view, not owned). Output: parsed header fields in a value
// struct whose spans point into the input. Thread: none shared; pure functions.
// No allocation, no exceptions: errors come back as RtpError values that the caller
// counts (media/media_drop.h).
//
// Demultiplexing follows RFC 7983 §7 on the first byte (0-3 STUN, 16-19 ZRTP, 20-63
// DTLS, 128-191 RTP/RTCP) and then RFC 5761 §4: with rtcp-mux, a packet whose second
// byte (marker bit + PT) is 192..223 — RTP payload type 64..95 — is RTCP.
#ifndef CALLVAULT_APPLIANCE_MEDIA_RTP_H_
#define CALLVAULT_APPLIANCE_MEDIA_RTP_H_

#include <cstdint>
#include <span>
#include <string_view>

namespace callvault::media {

enum class RtpError : uint8_t {
  kOk = 0,
  kTooShort,      // fewer than 12 bytes, or CSRC list / extension runs past the end
  kBadVersion,    // V != 2 (RFC 3550 §5.1)
  kBadPadding,    // P set but the pad count is 0 or larger than the payload
  kCount
};
std::string_view RtpErrorName(RtpError e);

// RFC 3550 §5.1 fixed header plus what follows it.
struct RtpHeader {
  bool padding = false;
  bool extension = false;
  uint8_t csrc_count = 0;
  bool marker = false;
  uint8_t payload_type = 0;
  uint16_t seq = 0;
  uint32_t timestamp = 0;
  uint32_t ssrc = 0;
  uint16_t ext_profile = 0;              // RFC 3550 §5.3.1 (0xBEDE = RFC 8285 one-byte)
  std::span<const uint8_t> payload;      // after CSRCs and extension, before padding
  uint8_t pad_bytes = 0;
};

// Parses an RTP packet. Does not decide whether it is RTCP: call Classify() first.
RtpError ParseRtp(std::span<const uint8_t> data, RtpHeader* out);

// The per-packet shortcut for the common case: a plain RTP packet (first byte 0x80: V=2,
// no padding, extension or CSRC; second byte outside RFC 5761's RTCP range 192..223; at
// least 12 bytes). Returns false for anything else, without touching `out`. When it
// returns true, ClassifyMediaPacket(data) is kRtp and ParseRtp(data) would give `out`.
inline bool ParsePlainRtp(std::span<const uint8_t> data, RtpHeader* out) {
  const uint8_t* p = data.data();
  if (data.size() < 12 || p[0] != 0x80 || (p[1] >= 192 && p[1] <= 223)) return false;
  out->padding = false;
  out->extension = false;
  out->csrc_count = 0;
  out->marker = (p[1] & 0x80) != 0;
  out->payload_type = p[1] & 0x7f;
  out->seq = uint16_t(p[2] << 8 | p[3]);
  out->timestamp = uint32_t(p[4]) << 24 | uint32_t(p[5]) << 16 | uint32_t(p[6]) << 8 | p[7];
  out->ssrc = uint32_t(p[8]) << 24 | uint32_t(p[9]) << 16 | uint32_t(p[10]) << 8 | p[11];
  out->ext_profile = 0;
  out->payload = data.subspan(12);
  out->pad_bytes = 0;
  return true;
}

// What a datagram on a media port is (RFC 7983).
enum class MediaPacketKind : uint8_t {
  kRtp = 0,
  kRtcp,      // RTCP (also on the RTP port under rtcp-mux, RFC 5761 §4)
  kStun,      // STUN / ICE connectivity checks (RFC 5389 §6: magic cookie)
  kZrtp,      // ZRTP (RFC 6189 §5: first byte 0x10, magic cookie "ZRTP")
  kDtls,      // DTLS handshake of DTLS-SRTP (RFC 7983 first byte 20..63)
  kUnknown,   // none of the above
};
std::string_view MediaPacketKindName(MediaPacketKind k);

MediaPacketKind ClassifyMediaPacket(std::span<const uint8_t> data);

// RFC 5389 §6: top two bits 0, magic cookie 0x2112A442 at offset 4, length multiple of 4
// and equal to the remaining bytes.
bool IsStun(std::span<const uint8_t> data);
// RFC 6189 §5: 0x10 first byte, magic cookie 0x5A525450 ("ZRTP") at offset 4.
bool IsZrtp(std::span<const uint8_t> data);

// RTCP compound packet summary (RFC 3550 §6.1: every packet in a compound is V=2, and
// the lengths add up exactly to the datagram; the first is SR or RR unless it is SRTCP
// with a reduced-size packet, which we still accept).
struct RtcpSummary {
  uint8_t packets = 0;
  bool sr = false;    // PT 200 (§6.4.1)
  bool rr = false;    // PT 201 (§6.4.2)
  bool sdes = false;  // PT 202 (§6.5)
  bool bye = false;   // PT 203 (§6.6)
  bool app = false;   // PT 204 (§6.7)
  bool other = false; // 205-207 (RTPFB, PSFB, XR)
  uint32_t sender_ssrc = 0;  // of the first packet
  bool trailing = false;     // bytes left after the last whole packet (SRTCP tag/index)
};
// Returns false when the first packet is not a plausible RTCP header.
bool ParseRtcp(std::span<const uint8_t> data, RtcpSummary* out);

}  // namespace callvault::media

#endif  // CALLVAULT_APPLIANCE_MEDIA_RTP_H_
