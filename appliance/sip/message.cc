// SIP message parsing, stream framing and detection (RFC 3261 §7, §18.3).
#include "appliance/sip/message.h"

#include <algorithm>

#include "appliance/config/config.h"
#include "appliance/sip/text.h"

namespace callvault::sip {

std::string_view DropName(SipDrop reason) {
  switch (reason) {
    case SipDrop::kNotSip:
      return "not_sip";
    case SipDrop::kBadStartLine:
      return "bad_start_line";
    case SipDrop::kHeaderTooLong:
      return "header_too_long";
    case SipDrop::kTooManyHeaders:
      return "too_many_headers";
    case SipDrop::kBadHeader:
      return "bad_header";
    case SipDrop::kTruncated:
      return "truncated";
    case SipDrop::kBadContentLength:
      return "bad_content_length";
    case SipDrop::kBodyOverLimit:
      return "body_over_limit";
    case SipDrop::kMessageTooLarge:
      return "message_too_large";
    case SipDrop::kCount:
      break;
  }
  return "unknown";
}

Limits Limits::FromConfig(const SipConfig& config) {
  Limits l;
  l.max_message_bytes = config.max_message_bytes;
  return l;
}

namespace {

struct MethodEntry {
  std::string_view name;
  Method method;
};
constexpr MethodEntry kMethods[] = {
    {"INVITE", Method::kInvite},     {"ACK", Method::kAck},
    {"BYE", Method::kBye},           {"CANCEL", Method::kCancel},
    {"REGISTER", Method::kRegister}, {"OPTIONS", Method::kOptions},
    {"PRACK", Method::kPrack},       {"UPDATE", Method::kUpdate},
    {"INFO", Method::kInfo},         {"REFER", Method::kRefer},
    {"NOTIFY", Method::kNotify},     {"SUBSCRIBE", Method::kSubscribe},
    {"MESSAGE", Method::kMessage},   {"PUBLISH", Method::kPublish},
};

// Token characters of RFC 3261 §25.1 (used for methods and header names).
bool IsTokenChar(char c) {
  if (IsAlnum(c)) return true;
  switch (c) {
    case '-':
    case '.':
    case '!':
    case '%':
    case '*':
    case '_':
    case '+':
    case '`':
    case '\'':
    case '~':
      return true;
    default:
      return false;
  }
}

bool IsSipVersion(std::string_view s) { return EqualsIgnoreCase(s, "SIP/2.0"); }

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

// Finds the end of the line starting at `pos`: returns the index of '\n' or npos.
std::size_t FindLf(std::string_view text, std::size_t pos) { return text.find('\n', pos); }

// The line [pos, lf) without a trailing '\r'.
std::string_view LineAt(std::string_view text, std::size_t pos, std::size_t lf) {
  std::string_view line = text.substr(pos, lf - pos);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// Request-Line = Method SP Request-URI SP SIP-Version (§7.1); Status-Line =
// SIP-Version SP Status-Code SP Reason-Phrase (§7.2). Lenient about repeated spaces.
bool ParseRequestLine(std::string_view line, std::string_view* method, std::string_view* uri) {
  std::size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0 || sp1 > 32) return false;
  *method = line.substr(0, sp1);
  for (char c : *method) {
    if (!IsTokenChar(c)) return false;
  }
  std::size_t sp2 = line.rfind(' ');
  if (sp2 <= sp1) return false;
  if (!IsSipVersion(line.substr(sp2 + 1))) return false;
  *uri = TrimLws(line.substr(sp1 + 1, sp2 - sp1 - 1));
  return !uri->empty() && uri->find(':') != std::string_view::npos;
}

bool ParseStatusLine(std::string_view line, int* code, std::string_view* reason) {
  if (line.size() < 11 || !IsSipVersion(line.substr(0, 7)) || line[7] != ' ') return false;
  if (!IsDigit(line[8]) || !IsDigit(line[9]) || !IsDigit(line[10])) return false;
  if (line.size() > 11 && line[11] != ' ') return false;
  *code = (line[8] - '0') * 100 + (line[9] - '0') * 10 + (line[10] - '0');
  if (*code < 100 || *code > 699) return false;
  *reason = line.size() > 12 ? TrimLws(line.substr(12)) : std::string_view();
  return true;
}

bool IsContentLengthName(std::string_view name) {
  return EqualsIgnoreCase(name, "Content-Length") || EqualsIgnoreCase(name, "l");
}

// Skips the CRLFs that may precede a start line (§7.5, also TCP keep-alives RFC 5626).
std::size_t SkipLeadingNewlines(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size() && (text[i] == '\r' || text[i] == '\n')) ++i;
  return i;
}

}  // namespace

Method ParseMethod(std::string_view token) {
  for (const MethodEntry& e : kMethods) {
    if (e.name == token) return e.method;
  }
  return Method::kUnknown;
}

std::string_view MethodName(Method method) {
  for (const MethodEntry& e : kMethods) {
    if (e.method == method) return e.name;
  }
  return "UNKNOWN";
}

struct MessageParser {
  static ParseResult Parse(std::string_view text, const Limits& limits, Message* m) {
    ParseResult r;
    m->header_count_ = 0;
    if (text.size() > limits.max_message_bytes) return Fail(&r, SipDrop::kMessageTooLarge);
    std::size_t pos = SkipLeadingNewlines(text);
    std::size_t lf = FindLf(text, pos);
    if (lf == std::string_view::npos) {
      return Fail(
          &r, LooksLikeSip({reinterpret_cast<const uint8_t*>(text.data()) + pos, text.size() - pos})
                  ? SipDrop::kTruncated
                  : SipDrop::kNotSip);
    }
    std::string_view line = LineAt(text, pos, lf);
    std::size_t msg_start = pos;
    m->start_line_ = line;
    m->is_request_ = false;
    m->method_ = Method::kUnknown;
    m->method_raw_ = {};
    m->request_uri_raw_ = {};
    m->request_uri_ = Uri();
    m->status_code_ = 0;
    m->reason_phrase_ = {};
    if (line.size() >= 4 && EqualsIgnoreCase(line.substr(0, 4), "SIP/")) {
      if (!ParseStatusLine(line, &m->status_code_, &m->reason_phrase_)) {
        return Fail(&r, SipDrop::kBadStartLine);
      }
    } else if (ParseRequestLine(line, &m->method_raw_, &m->request_uri_raw_)) {
      m->is_request_ = true;
      m->method_ = ParseMethod(m->method_raw_);
      ParseUri(m->request_uri_raw_, &m->request_uri_);
    } else {
      std::size_t sp = line.rfind(' ');
      bool sipish = sp != std::string_view::npos && IsSipVersion(line.substr(sp + 1));
      return Fail(&r, sipish ? SipDrop::kBadStartLine : SipDrop::kNotSip);
    }
    pos = lf + 1;

    // Header lines until the empty line (§7.3). A line starting with SP/HTAB continues
    // the previous header (folding, §7.3.1).
    const uint32_t max_headers =
        std::min<uint32_t>(limits.max_headers, uint32_t(Message::kMaxHeaders));
    std::size_t cur_start = 0;  // start of the current header's first line
    bool ended = false;
    while (pos < text.size()) {
      lf = FindLf(text, pos);
      if (lf == std::string_view::npos) break;
      line = LineAt(text, pos, lf);
      if (line.empty()) {
        pos = lf + 1;
        ended = true;
        break;
      }
      if (IsSpace(line[0])) {
        if (m->header_count_ == 0) return Fail(&r, SipDrop::kBadHeader);
        Header& h = m->headers_[m->header_count_ - 1];
        if (lf - cur_start > limits.max_header_bytes) return Fail(&r, SipDrop::kHeaderTooLong);
        std::string_view cont = TrimLws(line);
        if (!cont.empty()) {
          const char* begin = h.value.empty() ? cont.data() : h.value.data();
          h.value = std::string_view(begin, std::size_t(cont.data() + cont.size() - begin));
        }
      } else {
        if (line.size() > limits.max_header_bytes) return Fail(&r, SipDrop::kHeaderTooLong);
        std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) return Fail(&r, SipDrop::kBadHeader);
        std::string_view name = line.substr(0, colon);
        while (!name.empty() && IsSpace(name.back())) name.remove_suffix(1);
        if (name.empty()) return Fail(&r, SipDrop::kBadHeader);
        for (char c : name) {
          if (!IsTokenChar(c)) return Fail(&r, SipDrop::kBadHeader);
        }
        if (m->header_count_ >= max_headers) return Fail(&r, SipDrop::kTooManyHeaders);
        Header& h = m->headers_[m->header_count_++];
        h.name = name;
        h.value = TrimLws(line.substr(colon + 1));
        if (h.value.empty()) h.value = std::string_view(line.data() + line.size(), 0);
        h.id = LookupHeaderId(name);
        cur_start = pos;
      }
      pos = lf + 1;
    }
    if (!ended) return Fail(&r, SipDrop::kTruncated);

    // Body (§7.4, §18.3, §20.14).
    std::size_t available = text.size() - pos;
    std::size_t body_len = available;
    bool have_cl = false;
    uint32_t cl = 0;
    for (std::size_t i = 0; i < m->header_count_; ++i) {
      const Header& h = m->headers_[i];
      if (h.id != HeaderId::kContentLength) continue;
      uint32_t v;
      if (!ParseU32(h.value, &v)) return Fail(&r, SipDrop::kBadContentLength);
      if (have_cl && v != cl) return Fail(&r, SipDrop::kBadContentLength);
      have_cl = true;
      cl = v;
    }
    if (have_cl) {
      if (cl > limits.max_message_bytes) return Fail(&r, SipDrop::kBodyOverLimit);
      if (cl > available) return Fail(&r, SipDrop::kTruncated);
      body_len = cl;
    }
    m->body_ = text.substr(pos, body_len);
    m->raw_ = text.substr(msg_start, pos + body_len - msg_start);
    r.consumed = pos + body_len;
    return r;
  }

  static ParseResult Fail(ParseResult* r, SipDrop d) {
    r->drop = d;
    r->consumed = 0;
    return *r;
  }
};

ParseResult ParseMessage(std::span<const uint8_t> bytes, const Limits& limits, Message* out) {
  return MessageParser::Parse(AsText(bytes.data(), bytes.size()), limits, out);
}

FrameResult MeasureMessage(std::span<const uint8_t> bytes, const Limits& limits) {
  std::string_view text = AsText(bytes.data(), bytes.size());
  FrameResult r;
  std::size_t pos = SkipLeadingNewlines(text);
  bool have_cl = false;
  uint32_t cl = 0;
  bool first = true;
  while (true) {
    if (pos > limits.max_message_bytes) {  // header block alone is too large
      r.status = FrameStatus::kError;
      r.drop = SipDrop::kMessageTooLarge;
      return r;
    }
    std::size_t lf = FindLf(text, pos);
    if (lf == std::string_view::npos) {
      if (text.size() > limits.max_message_bytes) {
        r.status = FrameStatus::kError;
        r.drop = SipDrop::kMessageTooLarge;
      }
      return r;  // kNeedMore
    }
    std::string_view line = LineAt(text, pos, lf);
    pos = lf + 1;
    if (line.empty()) break;
    if (first) {
      first = false;
      continue;
    }
    if (IsSpace(line[0])) continue;  // folded continuation
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = line.substr(0, colon);
    while (!name.empty() && IsSpace(name.back())) name.remove_suffix(1);
    if (!IsContentLengthName(name)) continue;
    uint32_t v;
    if (!ParseU32(line.substr(colon + 1), &v) || (have_cl && v != cl)) {
      r.status = FrameStatus::kError;
      r.drop = SipDrop::kBadContentLength;
      return r;
    }
    have_cl = true;
    cl = v;
  }
  if (uint64_t(pos) + cl > limits.max_message_bytes) {
    r.status = FrameStatus::kError;
    r.drop = cl > limits.max_message_bytes ? SipDrop::kBodyOverLimit : SipDrop::kMessageTooLarge;
    return r;
  }
  if (text.size() - pos < cl) return r;  // kNeedMore
  r.status = FrameStatus::kComplete;
  r.length = pos + cl;
  return r;
}

bool LooksLikeSip(std::span<const uint8_t> bytes) {
  std::string_view text = AsText(bytes.data(), std::min<std::size_t>(bytes.size(), 512));
  std::size_t pos = SkipLeadingNewlines(text);
  if (pos > 4) return false;
  text.remove_prefix(pos);
  // Both start lines begin with an upper-case letter ("SIP/2.0", a method: see below).
  // This turns away RTP (first byte 0x80-0xbf) and most binary payloads at once, before
  // the search for the end of the line (this runs for every UDP packet off SIP ports).
  if (text.empty() || text[0] < 'A' || text[0] > 'Z') return false;
  if (text.size() >= 11 && text.compare(0, 8, "SIP/2.0 ") == 0) {
    return IsDigit(text[8]) && IsDigit(text[9]) && IsDigit(text[10]) &&
           (text.size() == 11 || text[11] == ' ' || text[11] == '\r' || text[11] == '\n');
  }
  std::size_t lf = text.find('\n');
  if (lf == std::string_view::npos) return false;
  std::string_view line = text.substr(0, lf);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::string_view method, uri;
  if (!ParseRequestLine(line, &method, &uri)) return false;
  // Methods are upper-case in practice; this keeps HTTP-like and random text out.
  for (char c : method) {
    if (!(c >= 'A' && c <= 'Z')) return false;
  }
  return true;
}

}  // namespace callvault::sip
