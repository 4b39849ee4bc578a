// sip::Message: a zero-copy parse of one SIP request or response (RFC 3261 §7).
//
// Input: the bytes of exactly one SIP message (a UDP datagram's payload, or one message
// framed out of a TCP/WebSocket stream by MeasureMessage()).
// Output: a Message whose string_views all point INTO THOSE BYTES. Ownership: the caller
// keeps the input buffer alive (and unchanged) for as long as it uses the Message or any
// view taken from it; for packets from the decoder that means until the next Decode() /
// next burst. Anything kept longer (Call-ID, tags, SDP) must be copied by the caller.
// Thread: no shared state; one Message per thread. Per-packet path: ParseMessage never
// allocates (fixed-capacity header array), never throws, never logs.
// Drop reasons: SipDrop below (the parser's error), counted by the caller.
//
// Header values are kept raw: a folded header (§7.3.1) keeps its CRLF+WSP inside the
// value; every typed accessor treats CR, LF, SP and HTAB as linear white space, so the
// folding is invisible to them. Names match case-insensitively and compact forms
// (§7.3.3, RFC 3515, 3892, 4028, 6665, 3841, 4474) resolve to the same HeaderId.
#ifndef CALLVAULT_APPLIANCE_SIP_MESSAGE_H_
#define CALLVAULT_APPLIANCE_SIP_MESSAGE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "appliance/sip/uri.h"

namespace callvault {
struct SipConfig;
}

namespace callvault::sip {

// Why a buffer was not accepted as a SIP message.
enum class SipDrop : uint8_t {
  kNotSip = 0,        // first line is neither a request line nor a status line
  kBadStartLine,      // looks like SIP but the start line is malformed
  kHeaderTooLong,     // one header line (with folding) exceeds Limits::max_header_bytes
  kTooManyHeaders,    // more than Limits::max_headers / Message::kMaxHeaders
  kBadHeader,         // header line without ':' or with an empty name
  kTruncated,         // no CRLFCRLF, or fewer body bytes than Content-Length says
  kBadContentLength,  // Content-Length not a number, or several disagreeing values
  kBodyOverLimit,     // Content-Length larger than max_message_bytes allows
  kMessageTooLarge,   // input larger than max_message_bytes
  kCount
};
std::string_view DropName(SipDrop reason);

// Methods known by name; anything else is kUnknown with Message::method_raw set.
enum class Method : uint8_t {
  kUnknown = 0,
  kInvite,
  kAck,
  kBye,
  kCancel,
  kRegister,
  kOptions,
  kPrack,      // RFC 3262
  kUpdate,     // RFC 3311
  kInfo,       // RFC 6086
  kRefer,      // RFC 3515
  kNotify,     // RFC 6665
  kSubscribe,  // RFC 6665
  kMessage,    // RFC 3428
  kPublish,    // RFC 3903
};
// Method names are case-sensitive (§7.1).
Method ParseMethod(std::string_view token);
std::string_view MethodName(Method method);

// Headers the parser knows by name (full and compact form). kOther = any other name.
enum class HeaderId : uint8_t {
  kOther = 0,
  kCallId,  // i
  kFrom,    // f
  kTo,      // t
  kVia,     // v
  kCSeq,
  kContact,             // m
  kContentType,         // c
  kContentLength,       // l
  kContentEncoding,     // e
  kSupported,           // k
  kSubject,             // s
  kEvent,               // o  (RFC 6665)
  kAllowEvents,         // u  (RFC 6665)
  kReferTo,             // r  (RFC 3515)
  kReferredBy,          // b  (RFC 3892)
  kSessionExpires,      // x  (RFC 4028)
  kAcceptContact,       // a  (RFC 3841)
  kRejectContact,       // j  (RFC 3841)
  kRequestDisposition,  // d  (RFC 3841)
  kIdentity,            // y  (RFC 4474/8224)
  kIdentityInfo,        // n  (RFC 4474)
  kMaxForwards,
  kPAssertedIdentity,   // RFC 3325
  kPPreferredIdentity,  // RFC 3325
  kRemotePartyId,       // draft-ietf-sip-privacy-04 (still sent by many PBXs)
  kReplaces,            // RFC 3891
  kReason,              // RFC 3326
  kUserAgent,
  kServer,
  kRAck,  // RFC 3262
  kRSeq,  // RFC 3262
  kRecordRoute,
  kRoute,
  kRequire,
  kAllow,
  kMinSe,  // RFC 4028
  kExpires,
  kPrivacy,      // RFC 3323
  kDiversion,    // RFC 5806
  kHistoryInfo,  // RFC 7044
  kCount
};
// Maps a header name (full or compact, any case) to its id.
HeaderId LookupHeaderId(std::string_view name);
// The canonical full name ("Call-ID"); "" for kOther.
std::string_view HeaderName(HeaderId id);

struct Header {
  std::string_view name;   // as on the wire (may be compact, any case)
  std::string_view value;  // trimmed of leading/trailing LWS; folding kept inside
  HeaderId id = HeaderId::kOther;
};

// Parse bounds. FromConfig() takes max_message_bytes from SipConfig.
struct Limits {
  uint32_t max_message_bytes = 65536;  // whole message (start line + headers + body)
  uint32_t max_headers = 128;          // capped at Message::kMaxHeaders
  uint32_t max_header_bytes = 8192;    // one header line, folding included

  static Limits FromConfig(const SipConfig& config);
};

// Via (§20.42), the top value of the first Via header.
struct Via {
  std::string_view protocol;   // "SIP/2.0/UDP"
  std::string_view transport;  // "UDP", "TCP", "TLS", "WS", "WSS", "SCTP"
  std::string_view host;       // sent-by host (IPv6 without brackets)
  uint16_t port = 0;           // sent-by port, 0 = absent
  std::string_view branch;     // branch parameter, "" = absent
  std::string_view received;
  std::string_view params;  // everything after the first ';' (raw)
};

// CSeq (§20.16).
struct CSeq {
  uint32_t number = 0;
  Method method = Method::kUnknown;
  std::string_view method_raw;
};

// RAck (RFC 3262 §7.2): response-num CSeq-num Method.
struct RAck {
  uint32_t rseq = 0;
  uint32_t cseq = 0;
  Method method = Method::kUnknown;
  std::string_view method_raw;
};

// Session-Expires (RFC 4028 §4): delta-seconds and the refresher parameter.
struct SessionExpires {
  uint32_t seconds = 0;
  std::string_view refresher;  // "uac", "uas" or ""
};

// Reason (RFC 3326): protocol ("SIP", "Q.850"), cause, text (unquoted).
struct Reason {
  std::string_view protocol;
  uint32_t cause = 0;
  std::string_view text;
};

// Replaces (RFC 3891 §6.1): call-id; to-tag; from-tag; early-only.
struct Replaces {
  std::string_view call_id;
  std::string_view to_tag;
  std::string_view from_tag;
  bool early_only = false;
};

// Splits a header value at top-level commas (not inside "quotes", <angle brackets> or
// (comments)), trims LWS, writes up to out.size() values and returns how many there are
// in total (may exceed out.size(): the extra ones are not written).
std::size_t SplitHeaderValues(std::string_view value, std::span<std::string_view> out);

class Message {
 public:
  static constexpr std::size_t kMaxHeaders = 128;

  // Start line (§7.1 / §7.2).
  bool is_request() const { return is_request_; }
  bool is_response() const { return !is_request_; }
  Method method() const { return method_; }
  std::string_view method_raw() const { return method_raw_; }  // requests
  std::string_view request_uri_raw() const { return request_uri_raw_; }
  const Uri& request_uri() const { return request_uri_; }  // parsed; may be kOther
  int status_code() const { return status_code_; }         // responses
  std::string_view reason_phrase() const { return reason_phrase_; }
  std::string_view start_line() const { return start_line_; }

  // All headers in wire order.
  std::span<const Header> headers() const { return {headers_.data(), header_count_}; }
  // First header with this id / name (name may be compact, any case); nullptr if none.
  const Header* Find(HeaderId id) const;
  const Header* Find(std::string_view name) const;
  // Value of the first such header, "" if absent.
  std::string_view Value(HeaderId id) const;
  std::string_view Value(std::string_view name) const;
  // Every value of every header with this id, split at top-level commas (header lines
  // repeated and comma lists are equivalent, §7.3.1). Returns the total count; writes
  // up to out.size().
  std::size_t Values(HeaderId id, std::span<std::string_view> out) const;
  std::size_t Count(HeaderId id) const;

  // Typed accessors (parsed on demand; nullopt if absent or unparsable).
  std::string_view call_id() const;  // trimmed
  std::optional<NameAddr> from() const;
  std::optional<NameAddr> to() const;
  std::optional<NameAddr> contact() const;              // first Contact value
  std::optional<NameAddr> p_asserted_identity() const;  // first value (sip: preferred)
  std::optional<NameAddr> remote_party_id() const;      // first value
  std::optional<NameAddr> refer_to() const;
  std::optional<NameAddr> referred_by() const;
  std::optional<Via> top_via() const;
  std::optional<CSeq> cseq() const;
  std::optional<RAck> rack() const;
  std::optional<uint32_t> rseq() const;
  std::optional<uint32_t> max_forwards() const;
  std::optional<SessionExpires> session_expires() const;
  std::optional<Reason> reason() const;            // first Reason value
  std::optional<Replaces> replaces() const;        // Replaces header
  std::string_view user_agent() const;             // User-Agent, else Server
  std::string_view content_type() const;           // media type only, no params
  std::optional<uint32_t> content_length() const;  // header value (validated)

  // Body (exactly Content-Length bytes, or everything after the blank line when the
  // header is absent, as allowed for UDP in §18.3).
  std::string_view body() const { return body_; }
  // The SDP offer/answer in the body: the body itself for application/sdp, the first
  // application/sdp part of a multipart/* body (RFC 2046 §5.1; SIP-I puts SDP + ISUP in
  // multipart/mixed), else "".
  std::string_view sdp() const;

  // The bytes this message occupies in the input (start line to end of body).
  std::string_view raw() const { return raw_; }

 private:
  friend struct MessageParser;

  bool is_request_ = false;
  Method method_ = Method::kUnknown;
  std::string_view method_raw_;
  std::string_view request_uri_raw_;
  Uri request_uri_;
  int status_code_ = 0;
  std::string_view reason_phrase_;
  std::string_view start_line_;
  std::string_view body_;
  std::string_view raw_;
  std::size_t header_count_ = 0;
  std::array<Header, kMaxHeaders> headers_{};
};

struct ParseResult {
  std::optional<SipDrop> drop;  // nullopt = success
  std::size_t consumed = 0;     // bytes of the input the message occupies
  bool ok() const { return !drop.has_value(); }
};

// Parses the single message at the start of `bytes` into *out. Trailing bytes after the
// Content-Length body are not part of the message (see ParseResult::consumed). Without
// a Content-Length header, the body is the rest of the input (§18.3, UDP).
ParseResult ParseMessage(std::span<const uint8_t> bytes, const Limits& limits, Message* out);

// Stream framing (§18.3): how long is the message at the start of `bytes`?
enum class FrameStatus : uint8_t { kComplete, kNeedMore, kError };
struct FrameResult {
  FrameStatus status = FrameStatus::kNeedMore;
  std::size_t length = 0;              // kComplete: whole message incl. body
  SipDrop drop = SipDrop::kTruncated;  // kError: why
};
// Looks for the end of headers and the Content-Length value (full or compact name).
// A stream message without Content-Length has an empty body (§18.3 makes it mandatory).
// kNeedMore while the headers are incomplete or the body is short; kError when the
// header block exceeds max_message_bytes or Content-Length is bad / over limit.
FrameResult MeasureMessage(std::span<const uint8_t> bytes, const Limits& limits);

// Cheap test: does `bytes` start with a SIP request line ("INVITE sip:x SIP/2.0") or a
// status line ("SIP/2.0 200 OK")? Looks only at the first line (max ~512 bytes); used to
// detect SIP on any port and to resynchronise a TCP stream picked up mid-way.
bool LooksLikeSip(std::span<const uint8_t> bytes);

}  // namespace callvault::sip

#endif  // CALLVAULT_APPLIANCE_SIP_MESSAGE_H_
