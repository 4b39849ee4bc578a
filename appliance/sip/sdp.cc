// SDP parsing (RFC 8866) for SIP offer/answer (RFC 3264).
#include "appliance/sip/sdp.h"

#include <array>

#include "appliance/sip/text.h"
#include "appliance/sip/uri.h"

namespace callvault::sip {

std::string_view SdpErrorName(SdpError error) {
  switch (error) {
    case SdpError::kOk:
      return "ok";
    case SdpError::kEmpty:
      return "empty";
    case SdpError::kNoVersion:
      return "no_version";
    case SdpError::kBadMediaLine:
      return "bad_media_line";
    case SdpError::kTooManyMedia:
      return "too_many_media";
    case SdpError::kCount:
      break;
  }
  return "unknown";
}

std::string_view DirectionName(Direction d) {
  switch (d) {
    case Direction::kSendRecv:
      return "sendrecv";
    case Direction::kSendOnly:
      return "sendonly";
    case Direction::kRecvOnly:
      return "recvonly";
    case Direction::kInactive:
      return "inactive";
  }
  return "sendrecv";
}

namespace {

struct ProtoEntry {
  std::string_view name;
  MediaProto proto;
};
constexpr ProtoEntry kProtos[] = {
    {"RTP/AVP", MediaProto::kRtpAvp},
    {"RTP/AVPF", MediaProto::kRtpAvpf},
    {"RTP/SAVP", MediaProto::kRtpSavp},
    {"RTP/SAVPF", MediaProto::kRtpSavpf},
    {"UDP/TLS/RTP/SAVP", MediaProto::kUdpTlsRtpSavp},
    {"UDP/TLS/RTP/SAVPF", MediaProto::kUdpTlsRtpSavpf},
    {"udptl", MediaProto::kUdptl},
};

struct StaticPt {
  int pt;
  std::string_view encoding;
  uint32_t clock_rate;
  uint8_t channels;
};
// RFC 3551 §6, tables 4 and 5.
constexpr StaticPt kStaticPts[] = {
    {0, "PCMU", 8000, 1},   {3, "GSM", 8000, 1},    {4, "G723", 8000, 1},   {5, "DVI4", 8000, 1},
    {6, "DVI4", 16000, 1},  {7, "LPC", 8000, 1},    {8, "PCMA", 8000, 1},   {9, "G722", 8000, 1},
    {10, "L16", 44100, 2},  {11, "L16", 44100, 1},  {12, "QCELP", 8000, 1}, {13, "CN", 8000, 1},
    {14, "MPA", 90000, 1},  {15, "G728", 8000, 1},  {16, "DVI4", 11025, 1}, {17, "DVI4", 22050, 1},
    {18, "G729", 8000, 1},  {25, "CelB", 90000, 1}, {26, "JPEG", 90000, 1}, {28, "nv", 90000, 1},
    {31, "H261", 90000, 1}, {32, "MPV", 90000, 1},  {33, "MP2T", 90000, 1}, {34, "H263", 90000, 1},
};

MediaProto LookupProto(std::string_view s) {
  for (const ProtoEntry& e : kProtos) {
    if (EqualsIgnoreCase(e.name, s)) return e.proto;
  }
  return MediaProto::kOther;
}

bool IsRtpProto(std::string_view proto_raw) {
  for (std::size_t i = 0; i + 3 <= proto_raw.size(); ++i) {
    if (EqualsIgnoreCase(proto_raw.substr(i, 3), "RTP")) return true;
  }
  return false;
}

bool ParseDirection(std::string_view attr, Direction* d) {
  if (attr == "sendrecv")
    *d = Direction::kSendRecv;
  else if (attr == "sendonly")
    *d = Direction::kSendOnly;
  else if (attr == "recvonly")
    *d = Direction::kRecvOnly;
  else if (attr == "inactive")
    *d = Direction::kInactive;
  else
    return false;
  return true;
}

// "IN IP4 192.0.2.1[/ttl[/n]]" (RFC 8866 §5.7). Returns false if not a literal address;
// *raw gets the address text either way.
bool ParseConnectionAddress(std::string_view value, IpAddress* ip, std::string_view* raw) {
  std::string_view nettype = NextToken(&value);
  std::string_view addrtype = NextToken(&value);
  std::string_view addr = NextToken(&value);
  *raw = addr;
  if (!EqualsIgnoreCase(nettype, "IN")) return false;
  bool v4 = EqualsIgnoreCase(addrtype, "IP4");
  if (v4) addr = addr.substr(0, addr.find('/'));  // strip multicast /ttl
  auto parsed = IpAddress::Parse(addr);
  if (!parsed) return false;
  *ip = *parsed;
  return true;
}

bool IsHoldAddress(const IpAddress& ip) {
  // c=0.0.0.0 (RFC 3264 §8.4, from RFC 2543) and its IPv6 equivalent "::".
  if (ip.is_unspecified()) return true;
  return ip.is_v4() && ip.bytes[12] == 0 && ip.bytes[13] == 0 && ip.bytes[14] == 0 &&
         ip.bytes[15] == 0;
}

// Per-m-line state that does not belong in the public struct.
struct MediaState {
  bool has_direction = false;
  bool has_connection = false;
  IpAddress connection;
  bool has_rtcp = false;
  uint16_t rtcp_port = 0;
  bool has_rtcp_addr = false;
  IpAddress rtcp_addr;
};

PayloadFormat* FindFormat(MediaDescription& m, std::string_view token) {
  for (PayloadFormat& f : m.formats) {
    if (f.token == token) return &f;
  }
  return nullptr;
}

bool ParseMediaLine(std::string_view value, MediaDescription* m) {
  // m=<media> <port>[/<number of ports>] <proto> <fmt> ... (RFC 8866 §5.14)
  std::string_view media = NextToken(&value);
  std::string_view port = NextToken(&value);
  std::string_view proto = NextToken(&value);
  if (media.empty() || port.empty() || proto.empty()) return false;
  m->media.assign(media);
  std::size_t slash = port.find('/');
  if (!ParseU16(port.substr(0, slash), &m->port)) return false;
  if (slash != std::string_view::npos && !ParseU16(port.substr(slash + 1), &m->port_count)) {
    return false;
  }
  m->proto_raw.assign(proto);
  m->proto = LookupProto(proto);
  bool rtp = IsRtpProto(proto);
  m->srtp = m->proto == MediaProto::kRtpSavp || m->proto == MediaProto::kRtpSavpf ||
            m->proto == MediaProto::kUdpTlsRtpSavp || m->proto == MediaProto::kUdpTlsRtpSavpf;
  while (true) {
    std::string_view tok = NextToken(&value);
    if (tok.empty()) break;
    PayloadFormat f;
    f.token.assign(tok);
    uint32_t pt;
    if (rtp && ParseU32(tok, &pt) && pt <= 127) {
      f.pt = int(pt);
      std::string_view enc;
      if (StaticPayloadType(f.pt, &enc, &f.clock_rate, &f.channels)) f.encoding.assign(enc);
    } else {
      f.encoding.assign(tok);
    }
    m->formats.push_back(std::move(f));
  }
  return true;
}

void ParseMediaAttribute(std::string_view name, std::string_view value, MediaDescription* m,
                         MediaState* st) {
  if (name == "rtpmap") {
    // a=rtpmap:<payload type> <encoding name>/<clock rate>[/<channels>] (§6.6)
    std::string_view pt = NextToken(&value);
    std::string_view spec = NextToken(&value);
    PayloadFormat* f = FindFormat(*m, pt);
    if (!f || spec.empty()) return;
    std::size_t s1 = spec.find('/');
    f->encoding.assign(spec.substr(0, s1));
    if (s1 == std::string_view::npos) return;
    std::string_view rest = spec.substr(s1 + 1);
    std::size_t s2 = rest.find('/');
    uint32_t rate = 0;
    if (ParseU32(rest.substr(0, s2), &rate)) f->clock_rate = rate;
    uint32_t ch = 1;
    if (s2 != std::string_view::npos && ParseU32(rest.substr(s2 + 1), &ch) && ch <= 255) {
      f->channels = uint8_t(ch);
    } else {
      f->channels = 1;
    }
  } else if (name == "fmtp") {
    std::string_view fmt = NextToken(&value);
    if (PayloadFormat* f = FindFormat(*m, fmt)) f->fmtp.assign(TrimLws(value));
  } else if (name == "ptime") {
    ParseU32(value, &m->ptime_ms);
  } else if (name == "maxptime") {
    ParseU32(value, &m->maxptime_ms);
  } else if (name == "rtcp") {
    // a=rtcp:<port> [IN IP4 <addr>] (RFC 3605 §2.1)
    std::string_view port = NextToken(&value);
    if (ParseU16(port, &st->rtcp_port)) {
      st->has_rtcp = true;
      std::string_view raw;
      st->has_rtcp_addr = ParseConnectionAddress(value, &st->rtcp_addr, &raw);
    }
  } else if (name == "rtcp-mux") {
    m->rtcp_mux = true;
  } else if (name == "crypto") {
    // a=crypto:<tag> <crypto-suite> <key-params> (RFC 4568 §9.1); keys are not kept.
    NextToken(&value);
    std::string_view suite = NextToken(&value);
    m->srtp = true;
    if (!suite.empty() && m->crypto_suites.size() < 8) m->crypto_suites.emplace_back(suite);
  } else if (name == "zrtp-hash") {
    m->zrtp = true;
  } else if (name == "label") {
    m->label.assign(TrimLws(value));
  } else if (name == "mid") {
    m->mid.assign(TrimLws(value));
  } else if (ParseDirection(name, &m->direction)) {
    st->has_direction = true;
  }
  // a=candidate (ICE) and everything else: ignored on purpose.
}

}  // namespace

std::string_view MediaProtoName(MediaProto p) {
  for (const ProtoEntry& e : kProtos) {
    if (e.proto == p) return e.name;
  }
  return "other";
}

bool StaticPayloadType(int pt, std::string_view* encoding, uint32_t* clock_rate,
                       uint8_t* channels) {
  for (const StaticPt& s : kStaticPts) {
    if (s.pt == pt) {
      *encoding = s.encoding;
      *clock_rate = s.clock_rate;
      *channels = s.channels;
      return true;
    }
  }
  return false;
}

const PayloadFormat* MediaDescription::PrimaryCodec() const {
  for (const PayloadFormat& f : formats) {
    if (EqualsIgnoreCase(f.encoding, "CN") || EqualsIgnoreCase(f.encoding, "telephone-event")) {
      continue;
    }
    return &f;
  }
  return nullptr;
}

void SessionDescription::Clear() {
  origin = Origin();
  session_name.clear();
  has_connection = false;
  connection = IpAddress();
  direction = Direction::kSendRecv;
  media.clear();
}

SdpError ParseSdp(std::string_view text, SessionDescription* out) {
  out->Clear();
  std::array<MediaState, SessionDescription::kMaxMedia> states{};
  bool seen_any = false;
  SdpError error = SdpError::kOk;
  std::size_t pos = 0;
  while (pos < text.size() && error == SdpError::kOk) {
    std::size_t lf = text.find('\n', pos);
    std::string_view line = text.substr(pos, lf == std::string_view::npos ? text.npos : lf - pos);
    pos = lf == std::string_view::npos ? text.size() : lf + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    line = TrimLws(line);
    if (line.size() < 2 || line[1] != '=') continue;  // blank or garbage: skip
    char type = line[0];
    std::string_view value = line.substr(2);
    if (!seen_any) {
      seen_any = true;
      if (type != 'v' || TrimLws(value) != "0") return SdpError::kNoVersion;
      continue;
    }
    bool session_level = out->media.empty();
    MediaDescription* m = session_level ? nullptr : &out->media.back();
    MediaState* st = session_level ? nullptr : &states[out->media.size() - 1];
    switch (type) {
      case 'o': {
        if (!session_level) break;
        out->origin.username.assign(NextToken(&value));
        out->origin.session_id.assign(NextToken(&value));
        out->origin.session_version.assign(NextToken(&value));
        std::string_view raw;
        ParseConnectionAddress(value, &out->origin.address, &raw);
        out->origin.address_raw.assign(raw);
        break;
      }
      case 's':
        if (session_level) out->session_name.assign(value);
        break;
      case 'c': {
        IpAddress ip;
        std::string_view raw;
        bool literal = ParseConnectionAddress(value, &ip, &raw);
        if (session_level) {
          out->has_connection = true;
          out->connection = literal ? ip : IpAddress();
        } else {
          st->has_connection = true;
          st->connection = literal ? ip : IpAddress();
        }
        break;
      }
      case 'm': {
        if (out->media.size() >= SessionDescription::kMaxMedia) {
          error = SdpError::kTooManyMedia;
          break;
        }
        out->media.emplace_back();
        if (!ParseMediaLine(value, &out->media.back())) {
          out->media.pop_back();
          error = SdpError::kBadMediaLine;
        }
        break;
      }
      case 'a': {
        std::size_t colon = value.find(':');
        std::string_view name = value.substr(0, colon);
        std::string_view attr_value =
            colon == std::string_view::npos ? std::string_view() : value.substr(colon + 1);
        if (session_level) {
          ParseDirection(name, &out->direction);
        } else {
          ParseMediaAttribute(name, attr_value, m, st);
        }
        break;
      }
      default:
        break;
    }
  }
  if (!seen_any) return SdpError::kEmpty;

  // Resolve inherited session-level values (RFC 8866 §5.7, §6.7) and RTCP defaults.
  for (std::size_t i = 0; i < out->media.size(); ++i) {
    MediaDescription& m = out->media[i];
    const MediaState& st = states[i];
    if (!st.has_direction) m.direction = out->direction;
    m.has_connection = st.has_connection || out->has_connection;
    IpAddress ip = st.has_connection ? st.connection : out->connection;
    m.zero_address_hold = m.has_connection && IsHoldAddress(ip);
    m.rtp = Endpoint{ip, m.port};
    if (m.rtcp_mux) {
      m.rtcp = m.rtp;
    } else if (st.has_rtcp) {
      m.rtcp = Endpoint{st.has_rtcp_addr ? st.rtcp_addr : ip, st.rtcp_port};
    } else {
      // RFC 3550 §11: RTCP on the next higher (odd) port.
      m.rtcp = Endpoint{ip, m.port == 0 ? uint16_t(0) : uint16_t(m.port + 1)};
    }
  }
  return error;
}

}  // namespace callvault::sip
