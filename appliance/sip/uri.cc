#include "appliance/sip/uri.h"

#include "appliance/sip/text.h"

namespace callvault::sip {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ToLower(a[i]) != ToLower(b[i])) return false;
  }
  return true;
}

std::optional<std::string_view> FindParam(std::string_view params, std::string_view name) {
  // params: ";a=b;c;d=e" (leading ';' optional). Quoted values may contain ';'.
  std::size_t i = 0;
  while (i < params.size()) {
    while (i < params.size() && (params[i] == ';' || IsLws(params[i]))) ++i;
    std::size_t start = i;
    bool in_quotes = false;
    while (i < params.size()) {
      char c = params[i];
      if (c == '"') in_quotes = !in_quotes;
      if (c == '\\' && in_quotes && i + 1 < params.size()) {
        i += 2;
        continue;
      }
      if (c == ';' && !in_quotes) break;
      ++i;
    }
    std::string_view item = params.substr(start, i - start);
    std::size_t eq = item.find('=');
    std::string_view key = TrimLws(item.substr(0, eq));
    if (!key.empty() && EqualsIgnoreCase(key, name)) {
      if (eq == std::string_view::npos) return std::string_view();
      return TrimLws(item.substr(eq + 1));
    }
  }
  return std::nullopt;
}

std::optional<std::string_view> Uri::Param(std::string_view name) const {
  return FindParam(params, name);
}

std::optional<std::string_view> NameAddr::Param(std::string_view name) const {
  return FindParam(params, name);
}

namespace {

// Parses "host[:port]" (host may be "[v6]"); false on a bad port.
bool ParseHostPort(std::string_view hp, std::string_view* host, uint16_t* port) {
  *port = 0;
  if (!hp.empty() && hp.front() == '[') {
    std::size_t close = hp.find(']');
    if (close == std::string_view::npos) {
      *host = hp.substr(1);
      return false;
    }
    *host = hp.substr(1, close - 1);
    hp.remove_prefix(close + 1);
    if (hp.empty()) return true;
    if (hp.front() != ':') return false;
    return ParseU16(hp.substr(1), port);
  }
  std::size_t colon = hp.find(':');
  *host = hp.substr(0, colon);
  if (colon == std::string_view::npos) return true;
  return ParseU16(hp.substr(colon + 1), port);
}

}  // namespace

bool ParseUri(std::string_view text, Uri* out) {
  *out = Uri();
  text = TrimLws(text);
  out->raw = text;
  std::size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view scheme = text.substr(0, colon);
  for (char c : scheme) {
    if (!IsAlnum(c) && c != '+' && c != '-' && c != '.') return false;
  }
  std::string_view rest = text.substr(colon + 1);
  if (EqualsIgnoreCase(scheme, "sip")) {
    out->scheme = UriScheme::kSip;
  } else if (EqualsIgnoreCase(scheme, "sips")) {
    out->scheme = UriScheme::kSips;
  } else if (EqualsIgnoreCase(scheme, "tel")) {
    out->scheme = UriScheme::kTel;
  } else {
    out->scheme = UriScheme::kOther;
    return true;
  }
  // Headers "?..." (§19.1.1) come last.
  std::size_t q = rest.find('?');
  if (q != std::string_view::npos) {
    out->headers = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  if (out->scheme == UriScheme::kTel) {
    // RFC 3966: telephone-subscriber = number *(";" par).
    std::size_t semi = rest.find(';');
    out->user = rest.substr(0, semi);
    if (semi != std::string_view::npos) out->params = rest.substr(semi);
    return true;
  }
  // userinfo: up to the LAST '@' before params (a user may contain escaped chars but
  // not an unescaped '@'; some UAs still send one, so take the last).
  std::size_t semi_all = rest.find(';');
  std::string_view before_params = rest.substr(0, semi_all);
  std::size_t at = before_params.rfind('@');
  std::string_view hostpart = rest;
  if (at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    std::size_t pw = userinfo.find(':');
    out->user = userinfo.substr(0, pw);
    if (pw != std::string_view::npos) out->password = userinfo.substr(pw + 1);
    hostpart = rest.substr(at + 1);
  }
  // Params start at the first ';' after the host (not inside [v6]).
  std::size_t semi = std::string_view::npos;
  std::size_t scan = 0;
  if (!hostpart.empty() && hostpart.front() == '[') {
    std::size_t close = hostpart.find(']');
    scan = close == std::string_view::npos ? hostpart.size() : close;
  }
  semi = hostpart.find(';', scan);
  if (semi != std::string_view::npos) out->params = hostpart.substr(semi);
  std::string_view hp = hostpart.substr(0, semi);
  ParseHostPort(hp, &out->host, &out->port);  // a bad port leaves port 0, host kept
  if (auto user = out->Param("user"); user && EqualsIgnoreCase(*user, "phone")) {
    out->user_phone = true;
  }
  return true;
}

bool ParseNameAddr(std::string_view value, NameAddr* out) {
  *out = NameAddr();
  value = TrimLws(value);
  if (value.empty()) return false;
  std::size_t i = 0;
  std::string_view display;
  // Display name: quoted-string or tokens up to '<'.
  if (value[0] == '"') {
    std::size_t j = 1;
    while (j < value.size() && value[j] != '"') {
      if (value[j] == '\\' && j + 1 < value.size()) ++j;
      ++j;
    }
    if (j >= value.size()) return false;  // unterminated quote
    display = value.substr(1, j - 1);
    i = j + 1;
  }
  std::size_t lt = value.find('<', i);
  std::string_view uri_text;
  std::string_view params;
  if (lt != std::string_view::npos) {
    if (display.empty()) display = TrimLws(value.substr(i, lt - i));
    std::size_t gt = value.find('>', lt);
    if (gt == std::string_view::npos) return false;
    uri_text = value.substr(lt + 1, gt - lt - 1);
    params = value.substr(gt + 1);
  } else {
    // addr-spec: params after the URI belong to the header (§20.10).
    std::string_view rest = TrimLws(value.substr(i));
    std::size_t semi = rest.find(';');
    uri_text = rest.substr(0, semi);
    if (semi != std::string_view::npos) params = rest.substr(semi);
  }
  out->display_name = TrimLws(display);
  out->params = TrimLws(params);
  if (!ParseUri(uri_text, &out->uri)) return false;
  if (auto tag = out->Param("tag")) out->tag = *tag;
  return true;
}

}  // namespace callvault::sip
