// SDP session descriptions (RFC 8866, formerly RFC 4566) as used by SIP offer/answer
// (RFC 3264).
//
// Input: the SDP text (usually sip::Message::sdp(), a view into the message buffer).
// Output: a SessionDescription that OWNS its data (std::string / std::vector): the dialog
// layer keeps it for the life of a call leg, after the packet buffer is gone. Reusing the
// same SessionDescription object across calls keeps the vectors' capacity, so a steady
// state parse allocates little. Thread: no shared state. No exceptions, no logging.
// Errors: SdpError (the caller counts them). Parsing is lenient: unknown lines and
// attributes are skipped; a=candidate (ICE) is ignored on purpose.
//
// Derived fields: MediaDescription::rtp is the media-level c= address (else the
// session-level one) with the m= port; rtcp is port+1 (RFC 3550 §11) unless a=rtcp
// (RFC 3605) says otherwise, or equal to rtp with a=rtcp-mux (RFC 5761). Formats with a
// static payload type (RFC 3551 §6) are filled in without a=rtpmap.
#ifndef CALLVAULT_APPLIANCE_SIP_SDP_H_
#define CALLVAULT_APPLIANCE_SIP_SDP_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "appliance/common/net_types.h"

namespace callvault::sip {

enum class SdpError : uint8_t {
  kOk = 0,
  kEmpty,         // no SDP lines at all
  kNoVersion,     // does not start with v=0
  kBadMediaLine,  // an m= line that cannot be parsed
  kTooManyMedia,  // more than SessionDescription::kMaxMedia m= lines
  kCount
};
std::string_view SdpErrorName(SdpError error);

// Stream direction attributes (RFC 3264 §5.1, §8.4; RFC 8866 §6.7).
enum class Direction : uint8_t { kSendRecv = 0, kSendOnly, kRecvOnly, kInactive };
std::string_view DirectionName(Direction d);

// Transport protocol of an m= line (RFC 8866 §5.14, RFC 3711, RFC 5124, RFC 5764).
enum class MediaProto : uint8_t {
  kOther = 0,
  kRtpAvp,          // RTP/AVP
  kRtpAvpf,         // RTP/AVPF
  kRtpSavp,         // RTP/SAVP (SRTP)
  kRtpSavpf,        // RTP/SAVPF
  kUdpTlsRtpSavp,   // UDP/TLS/RTP/SAVP (DTLS-SRTP)
  kUdpTlsRtpSavpf,  // UDP/TLS/RTP/SAVPF
  kUdptl,           // udptl (T.38 fax)
};
std::string_view MediaProtoName(MediaProto p);

struct PayloadFormat {
  int pt = -1;              // RTP payload type 0..127; -1 for non-RTP formats (t38 ...)
  std::string encoding;     // "PCMU", "telephone-event"; from rtpmap or the static table
  uint32_t clock_rate = 0;  // Hz
  uint8_t channels = 1;
  std::string fmtp;   // a=fmtp parameters, raw
  std::string token;  // the format token as written on the m= line
};

struct Origin {  // o= (RFC 8866 §5.2)
  std::string username;
  std::string session_id;
  std::string session_version;
  IpAddress address;  // unspecified if not IN IP4/IP6 or not a literal
  std::string address_raw;
};

struct MediaDescription {
  std::string media;        // "audio", "video", "image", ...
  uint16_t port = 0;        // m= port; 0 = rejected/disabled (RFC 3264 §6)
  uint16_t port_count = 1;  // m=audio 49170/2
  MediaProto proto = MediaProto::kOther;
  std::string proto_raw;
  Endpoint rtp;                                // where the sender of this SDP wants to receive RTP
  Endpoint rtcp;                               // where it wants RTCP
  bool rtcp_mux = false;                       // a=rtcp-mux (RFC 5761)
  bool has_connection = false;                 // a c= applied (media or session level)
  Direction direction = Direction::kSendRecv;  // media level, else session level
  bool zero_address_hold = false;              // c=0.0.0.0 (RFC 2543 hold, RFC 3264 §8.4)
  std::vector<PayloadFormat> formats;          // in m= line order (preference)
  uint32_t ptime_ms = 0;                       // a=ptime, 0 = absent
  uint32_t maxptime_ms = 0;                    // a=maxptime
  bool srtp = false;                           // SAVP/SAVPF proto, a=crypto (RFC 4568) or DTLS-SRTP
  std::vector<std::string> crypto_suites;      // a=crypto suite names (keys not kept)
  bool zrtp = false;                           // a=zrtp-hash (RFC 6189)
  std::string label;                           // a=label (RFC 4574)
  std::string mid;                             // a=mid (RFC 5888)

  bool rejected() const { return port == 0; }
  // Sender is holding this stream: sendonly/inactive or the c=0.0.0.0 form.
  bool on_hold() const {
    return direction == Direction::kSendOnly || direction == Direction::kInactive ||
           zero_address_hold;
  }
  // The first format that is not comfort noise or DTMF, nullptr if none.
  const PayloadFormat* PrimaryCodec() const;
};

struct SessionDescription {
  static constexpr std::size_t kMaxMedia = 16;

  Origin origin;
  std::string session_name;                    // s=
  bool has_connection = false;                 // session-level c=
  IpAddress connection;                        // session-level c= address
  Direction direction = Direction::kSendRecv;  // session-level attribute
  std::vector<MediaDescription> media;

  void Clear();  // empties everything, keeps vector capacity
};

// Parses `text` into *out (cleared first). On error, *out holds what was parsed so far.
SdpError ParseSdp(std::string_view text, SessionDescription* out);

// Static RTP payload types of RFC 3551 §6 (0 PCMU, 3 GSM, 4 G723, 8 PCMA, 9 G722,
// 13 CN, 18 G729, ...). Returns false for dynamic or unassigned numbers.
bool StaticPayloadType(int pt, std::string_view* encoding, uint32_t* clock_rate, uint8_t* channels);

}  // namespace callvault::sip

#endif  // CALLVAULT_APPLIANCE_SIP_SDP_H_
