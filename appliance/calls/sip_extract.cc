#include "appliance/calls/sip_extract.h"

#include <cctype>

#include "appliance/sip/uri.h"

namespace callvault::calls {
namespace {

StreamDirection FromSdp(sip::Direction d) {
  switch (d) {
    case sip::Direction::kSendRecv: return StreamDirection::kSendRecv;
    case sip::Direction::kSendOnly: return StreamDirection::kSendOnly;
    case sip::Direction::kRecvOnly: return StreamDirection::kRecvOnly;
    case sip::Direction::kInactive: return StreamDirection::kInactive;
  }
  return StreamDirection::kSendRecv;
}

MediaKind KindOf(std::string_view media) {
  if (sip::EqualsIgnoreCase(media, "audio")) return MediaKind::kAudio;
  if (sip::EqualsIgnoreCase(media, "video")) return MediaKind::kVideo;
  if (sip::EqualsIgnoreCase(media, "image")) return MediaKind::kImage;
  return MediaKind::kOther;
}

bool RtpBased(sip::MediaProto p) {
  switch (p) {
    case sip::MediaProto::kRtpAvp:
    case sip::MediaProto::kRtpAvpf:
    case sip::MediaProto::kRtpSavp:
    case sip::MediaProto::kRtpSavpf:
    case sip::MediaProto::kUdpTlsRtpSavp:
    case sip::MediaProto::kUdpTlsRtpSavpf:
      return true;
    default:
      return false;
  }
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// "5", "*", "#", "A".."D" (any case), or an RFC 4733 §3.2 event number 0..15.
std::optional<std::string> Digit(std::string_view v) {
  v = Trim(v);
  if (v.size() == 1) {
    char c = v[0];
    if ((c >= '0' && c <= '9') || c == '*' || c == '#') return std::string(1, c);
    if (c >= 'a' && c <= 'd') c = static_cast<char>(c - 'a' + 'A');
    if (c >= 'A' && c <= 'D') return std::string(1, c);
    return std::nullopt;
  }
  if (v.size() == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5') {
    static constexpr const char* kEvents[] = {"*", "#", "A", "B", "C", "D"};
    return std::string(kEvents[v[1] - '0']);
  }
  return std::nullopt;
}

std::optional<uint32_t> Number(std::string_view v) {
  v = Trim(v);
  if (v.empty() || v.size() > 9) return std::nullopt;
  uint32_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + uint32_t(c - '0');
  }
  return n;
}

}  // namespace

void ToSideMedia(const sip::SessionDescription& sdp, SideMedia* out) {
  out->announced = true;
  out->streams.clear();
  uint8_t index = 0;
  for (const sip::MediaDescription& m : sdp.media) {
    MediaStream s;
    s.index = index++;
    s.kind = KindOf(m.media);
    s.rtp_based = RtpBased(m.proto);
    s.rtp = m.rtp;
    s.rtcp = m.rtcp;
    if (m.port == 0) s.rtp.port = 0;
    s.rtcp_mux = m.rtcp_mux;
    s.direction = FromSdp(m.direction);
    s.hold_zero_address = m.zero_address_hold;
    s.srtp = m.srtp;
    s.zrtp = m.zrtp;
    for (const sip::PayloadFormat& f : m.formats) {
      if (f.pt < 0 || f.pt > 127) continue;
      PayloadType p;
      p.pt = static_cast<uint8_t>(f.pt);
      p.encoding = f.encoding;
      p.clock_rate = f.clock_rate;
      p.channels = f.channels;
      s.payload_types.push_back(std::move(p));
    }
    out->streams.push_back(std::move(s));
  }
}

std::optional<SipDtmf> ParseInfoDtmf(std::string_view content_type, std::string_view body) {
  bool relay = sip::EqualsIgnoreCase(Trim(content_type), "application/dtmf-relay");
  bool plain = sip::EqualsIgnoreCase(Trim(content_type), "application/dtmf");
  if (!relay && !plain) return std::nullopt;
  SipDtmf out;
  bool have_digit = false;
  if (plain) {
    // application/dtmf: the body is the digit itself (first line).
    std::string_view first = body.substr(0, body.find_first_of("\r\n"));
    if (first.find('=') == std::string_view::npos) {
      if (auto d = Digit(first)) {
        out.digit = *d;
        have_digit = true;
      }
    }
  }
  // key=value lines (dtmf-relay; some application/dtmf senders use them too).
  while (!body.empty()) {
    size_t nl = body.find('\n');
    std::string_view line = body.substr(0, nl);
    body = nl == std::string_view::npos ? std::string_view() : body.substr(nl + 1);
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = Trim(line.substr(0, eq));
    std::string_view value = line.substr(eq + 1);
    if (sip::EqualsIgnoreCase(key, "Signal") && !have_digit) {
      if (auto d = Digit(value)) {
        out.digit = *d;
        have_digit = true;
      }
    } else if (sip::EqualsIgnoreCase(key, "Duration")) {
      if (auto n = Number(value)) out.duration_ms = *n;
    }
  }
  if (!have_digit) return std::nullopt;
  return out;
}

}  // namespace callvault::calls
