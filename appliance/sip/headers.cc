// Header names, header lookup, typed header accessors and multipart bodies.
#include <algorithm>
#include <array>

#include "appliance/sip/message.h"
#include "appliance/sip/text.h"

namespace callvault::sip {
namespace {

struct HeaderEntry {
  std::string_view name;
  char compact;  // 0 = none
  HeaderId id;
};

// Compact forms: RFC 3261 §7.3.3 (c e f i k l m s t v), RFC 3515 (r), RFC 3892 (b),
// RFC 4028 (x), RFC 6665 (o u), RFC 3841 (a j d), RFC 4474 (y n).
constexpr HeaderEntry kHeaders[] = {
    {"Call-ID", 'i', HeaderId::kCallId},
    {"From", 'f', HeaderId::kFrom},
    {"To", 't', HeaderId::kTo},
    {"Via", 'v', HeaderId::kVia},
    {"CSeq", 0, HeaderId::kCSeq},
    {"Contact", 'm', HeaderId::kContact},
    {"Content-Type", 'c', HeaderId::kContentType},
    {"Content-Length", 'l', HeaderId::kContentLength},
    {"Content-Encoding", 'e', HeaderId::kContentEncoding},
    {"Supported", 'k', HeaderId::kSupported},
    {"Subject", 's', HeaderId::kSubject},
    {"Event", 'o', HeaderId::kEvent},
    {"Allow-Events", 'u', HeaderId::kAllowEvents},
    {"Refer-To", 'r', HeaderId::kReferTo},
    {"Referred-By", 'b', HeaderId::kReferredBy},
    {"Session-Expires", 'x', HeaderId::kSessionExpires},
    {"Accept-Contact", 'a', HeaderId::kAcceptContact},
    {"Reject-Contact", 'j', HeaderId::kRejectContact},
    {"Request-Disposition", 'd', HeaderId::kRequestDisposition},
    {"Identity", 'y', HeaderId::kIdentity},
    {"Identity-Info", 'n', HeaderId::kIdentityInfo},
    {"Max-Forwards", 0, HeaderId::kMaxForwards},
    {"P-Asserted-Identity", 0, HeaderId::kPAssertedIdentity},
    {"P-Preferred-Identity", 0, HeaderId::kPPreferredIdentity},
    {"Remote-Party-ID", 0, HeaderId::kRemotePartyId},
    {"Replaces", 0, HeaderId::kReplaces},
    {"Reason", 0, HeaderId::kReason},
    {"User-Agent", 0, HeaderId::kUserAgent},
    {"Server", 0, HeaderId::kServer},
    {"RAck", 0, HeaderId::kRAck},
    {"RSeq", 0, HeaderId::kRSeq},
    {"Record-Route", 0, HeaderId::kRecordRoute},
    {"Route", 0, HeaderId::kRoute},
    {"Require", 0, HeaderId::kRequire},
    {"Allow", 0, HeaderId::kAllow},
    {"Min-SE", 0, HeaderId::kMinSe},
    {"Expires", 0, HeaderId::kExpires},
    {"Privacy", 0, HeaderId::kPrivacy},
    {"Diversion", 0, HeaderId::kDiversion},
    {"History-Info", 0, HeaderId::kHistoryInfo},
};

// Parses "<number> <Method>" pairs for CSeq and RAck.
bool ParseNumber(std::string_view* s, uint32_t* out) {
  std::string_view tok = NextToken(s);
  return ParseU32(tok, out);
}

}  // namespace

HeaderId LookupHeaderId(std::string_view name) {
  if (name.size() == 1) {
    char c = ToLower(name[0]);
    for (const HeaderEntry& e : kHeaders) {
      if (e.compact == c) return e.id;
    }
    return HeaderId::kOther;
  }
  for (const HeaderEntry& e : kHeaders) {
    if (e.name.size() == name.size() && EqualsIgnoreCase(e.name, name)) return e.id;
  }
  return HeaderId::kOther;
}

std::string_view HeaderName(HeaderId id) {
  for (const HeaderEntry& e : kHeaders) {
    if (e.id == id) return e.name;
  }
  return "";
}

std::size_t SplitHeaderValues(std::string_view value, std::span<std::string_view> out) {
  std::size_t count = 0;
  std::size_t start = 0;
  bool in_quotes = false;
  int angle = 0;
  int paren = 0;
  auto emit = [&](std::size_t end) {
    std::string_view v = TrimLws(value.substr(start, end - start));
    if (!v.empty()) {
      if (count < out.size()) out[count] = v;
      ++count;
    }
  };
  for (std::size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (in_quotes) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_quotes = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_quotes = true;
        break;
      case '<':
        ++angle;
        break;
      case '>':
        if (angle > 0) --angle;
        break;
      case '(':
        ++paren;
        break;
      case ')':
        if (paren > 0) --paren;
        break;
      case ',':
        if (angle == 0 && paren == 0) {
          emit(i);
          start = i + 1;
        }
        break;
      default:
        break;
    }
  }
  emit(value.size());
  return count;
}

const Header* Message::Find(HeaderId id) const {
  for (std::size_t i = 0; i < header_count_; ++i) {
    if (headers_[i].id == id) return &headers_[i];
  }
  return nullptr;
}

const Header* Message::Find(std::string_view name) const {
  HeaderId id = LookupHeaderId(name);
  if (id != HeaderId::kOther) return Find(id);
  for (std::size_t i = 0; i < header_count_; ++i) {
    if (headers_[i].id == HeaderId::kOther && EqualsIgnoreCase(headers_[i].name, name)) {
      return &headers_[i];
    }
  }
  return nullptr;
}

std::string_view Message::Value(HeaderId id) const {
  const Header* h = Find(id);
  return h ? h->value : std::string_view();
}

std::string_view Message::Value(std::string_view name) const {
  const Header* h = Find(name);
  return h ? h->value : std::string_view();
}

std::size_t Message::Values(HeaderId id, std::span<std::string_view> out) const {
  std::size_t total = 0;
  for (std::size_t i = 0; i < header_count_; ++i) {
    if (headers_[i].id != id) continue;
    std::size_t room = total < out.size() ? out.size() - total : 0;
    total += SplitHeaderValues(headers_[i].value, out.subspan(out.size() - room));
  }
  return total;
}

std::size_t Message::Count(HeaderId id) const {
  std::size_t n = 0;
  for (std::size_t i = 0; i < header_count_; ++i) n += headers_[i].id == id;
  return n;
}

namespace {

std::optional<NameAddr> FirstNameAddr(const Message& m, HeaderId id, bool prefer_sip) {
  std::array<std::string_view, 8> values;
  std::size_t n = std::min(m.Values(id, values), values.size());
  std::optional<NameAddr> first;
  for (std::size_t i = 0; i < n; ++i) {
    NameAddr na;
    if (!ParseNameAddr(values[i], &na)) continue;
    if (!prefer_sip) return na;
    if (na.uri.scheme == UriScheme::kSip || na.uri.scheme == UriScheme::kSips) return na;
    if (!first) first = na;
  }
  return first;
}

}  // namespace

std::string_view Message::call_id() const { return TrimLws(Value(HeaderId::kCallId)); }

std::optional<NameAddr> Message::from() const {
  return FirstNameAddr(*this, HeaderId::kFrom, false);
}
std::optional<NameAddr> Message::to() const { return FirstNameAddr(*this, HeaderId::kTo, false); }
std::optional<NameAddr> Message::contact() const {
  return FirstNameAddr(*this, HeaderId::kContact, false);
}
std::optional<NameAddr> Message::p_asserted_identity() const {
  return FirstNameAddr(*this, HeaderId::kPAssertedIdentity, true);
}
std::optional<NameAddr> Message::remote_party_id() const {
  return FirstNameAddr(*this, HeaderId::kRemotePartyId, false);
}
std::optional<NameAddr> Message::refer_to() const {
  return FirstNameAddr(*this, HeaderId::kReferTo, false);
}
std::optional<NameAddr> Message::referred_by() const {
  return FirstNameAddr(*this, HeaderId::kReferredBy, false);
}

std::optional<Via> Message::top_via() const {
  const Header* h = Find(HeaderId::kVia);
  if (!h) return std::nullopt;
  std::array<std::string_view, 1> first;
  if (SplitHeaderValues(h->value, first) == 0) return std::nullopt;
  std::string_view v = first[0];
  // sent-protocol = name LWS? "/" LWS? version LWS? "/" LWS? transport (§20.42).
  Via via;
  std::size_t slash1 = v.find('/');
  if (slash1 == std::string_view::npos) return std::nullopt;
  std::size_t slash2 = v.find('/', slash1 + 1);
  if (slash2 == std::string_view::npos) return std::nullopt;
  std::size_t t = slash2 + 1;
  while (t < v.size() && IsLws(v[t])) ++t;
  std::size_t te = t;
  while (te < v.size() && !IsLws(v[te]) && v[te] != ';') ++te;
  via.transport = v.substr(t, te - t);
  via.protocol = v.substr(0, te);
  std::string_view rest = v.substr(te);
  std::size_t semi = rest.find(';');
  std::string_view sent_by = TrimLws(rest.substr(0, semi));
  if (semi != std::string_view::npos) via.params = rest.substr(semi);
  if (!sent_by.empty() && sent_by.front() == '[') {
    std::size_t close = sent_by.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    via.host = sent_by.substr(1, close - 1);
    std::string_view p = sent_by.substr(close + 1);
    if (!p.empty() && p.front() == ':') ParseU16(p.substr(1), &via.port);
  } else {
    std::size_t colon = sent_by.find(':');
    via.host = TrimLws(sent_by.substr(0, colon));
    if (colon != std::string_view::npos) ParseU16(sent_by.substr(colon + 1), &via.port);
  }
  if (via.host.empty()) return std::nullopt;
  if (auto b = FindParam(via.params, "branch")) via.branch = *b;
  if (auto r = FindParam(via.params, "received")) via.received = *r;
  return via;
}

std::optional<CSeq> Message::cseq() const {
  const Header* h = Find(HeaderId::kCSeq);
  if (!h) return std::nullopt;
  std::string_view s = h->value;
  CSeq c;
  if (!ParseNumber(&s, &c.number)) return std::nullopt;
  c.method_raw = NextToken(&s);
  if (c.method_raw.empty()) return std::nullopt;
  c.method = ParseMethod(c.method_raw);
  return c;
}

std::optional<RAck> Message::rack() const {
  const Header* h = Find(HeaderId::kRAck);
  if (!h) return std::nullopt;
  std::string_view s = h->value;
  RAck r;
  if (!ParseNumber(&s, &r.rseq) || !ParseNumber(&s, &r.cseq)) return std::nullopt;
  r.method_raw = NextToken(&s);
  if (r.method_raw.empty()) return std::nullopt;
  r.method = ParseMethod(r.method_raw);
  return r;
}

std::optional<uint32_t> Message::rseq() const {
  uint32_t v;
  const Header* h = Find(HeaderId::kRSeq);
  if (!h || !ParseU32(h->value, &v)) return std::nullopt;
  return v;
}

std::optional<uint32_t> Message::max_forwards() const {
  uint32_t v;
  const Header* h = Find(HeaderId::kMaxForwards);
  if (!h || !ParseU32(h->value, &v)) return std::nullopt;
  return v;
}

std::optional<SessionExpires> Message::session_expires() const {
  const Header* h = Find(HeaderId::kSessionExpires);
  if (!h) return std::nullopt;
  std::size_t semi = h->value.find(';');
  SessionExpires se;
  if (!ParseU32(h->value.substr(0, semi), &se.seconds)) return std::nullopt;
  if (semi != std::string_view::npos) {
    if (auto r = FindParam(h->value.substr(semi), "refresher")) se.refresher = *r;
  }
  return se;
}

std::optional<Reason> Message::reason() const {
  const Header* h = Find(HeaderId::kReason);
  if (!h) return std::nullopt;
  std::array<std::string_view, 1> first;
  if (SplitHeaderValues(h->value, first) == 0) return std::nullopt;
  std::size_t semi = first[0].find(';');
  Reason r;
  r.protocol = TrimLws(first[0].substr(0, semi));
  if (semi != std::string_view::npos) {
    std::string_view params = first[0].substr(semi);
    if (auto c = FindParam(params, "cause")) ParseU32(*c, &r.cause);
    if (auto t = FindParam(params, "text")) {
      std::string_view text = *t;
      if (text.size() >= 2 && text.front() == '"' && text.back() == '"') {
        text = text.substr(1, text.size() - 2);
      }
      r.text = text;
    }
  }
  if (r.protocol.empty()) return std::nullopt;
  return r;
}

std::optional<Replaces> Message::replaces() const {
  const Header* h = Find(HeaderId::kReplaces);
  if (!h) return std::nullopt;
  std::size_t semi = h->value.find(';');
  Replaces r;
  r.call_id = TrimLws(h->value.substr(0, semi));
  if (r.call_id.empty()) return std::nullopt;
  if (semi != std::string_view::npos) {
    std::string_view params = h->value.substr(semi);
    if (auto t = FindParam(params, "to-tag")) r.to_tag = *t;
    if (auto f = FindParam(params, "from-tag")) r.from_tag = *f;
    r.early_only = FindParam(params, "early-only").has_value();
  }
  return r;
}

std::string_view Message::user_agent() const {
  std::string_view ua = Value(HeaderId::kUserAgent);
  return ua.empty() ? Value(HeaderId::kServer) : ua;
}

std::string_view Message::content_type() const {
  std::string_view v = Value(HeaderId::kContentType);
  return TrimLws(v.substr(0, v.find(';')));
}

std::optional<uint32_t> Message::content_length() const {
  uint32_t v;
  const Header* h = Find(HeaderId::kContentLength);
  if (!h || !ParseU32(h->value, &v)) return std::nullopt;
  return v;
}

}  // namespace callvault::sip
