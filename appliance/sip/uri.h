// SIP/SIPS/tel URIs (RFC 3261 §19.1, RFC 3966) and name-addr values (§20.10, §25.1).
//
// Input: text views (usually into a sip::Message's buffer). Output: views into the same
// text — the caller keeps that text alive. No allocation, no exceptions. Parsing is
// lenient the way real PBXs need: unknown schemes are kept as kOther with `raw` set.
#ifndef CALLVAULT_APPLIANCE_SIP_URI_H_
#define CALLVAULT_APPLIANCE_SIP_URI_H_

#include <cstdint>
#include <optional>
#include <string_view>

namespace callvault::sip {

enum class UriScheme : uint8_t { kNone = 0, kSip, kSips, kTel, kOther };

struct Uri {
  UriScheme scheme = UriScheme::kNone;
  std::string_view raw;       // the whole URI text
  std::string_view user;      // sip(s): userinfo before '@' (no password); tel: number
  std::string_view password;  // sip(s): after ':' in userinfo (rare)
  std::string_view host;      // hostname, IPv4, or IPv6 without brackets; "" for tel:
  uint16_t port = 0;          // 0 = absent
  std::string_view params;    // ";a=b;c" after host[:port] (tel: after the number), raw
  std::string_view headers;   // "?a=b&c=d" part without '?'
  bool user_phone = false;    // ;user=phone (§19.1.1): the user part is a telephone number

  // Value of URI parameter `name` (case-insensitive); "" if present without value;
  // nullopt if absent.
  std::optional<std::string_view> Param(std::string_view name) const;
};

// Parses a URI (no angle brackets). Returns false if the text has no scheme at all.
bool ParseUri(std::string_view text, Uri* out);

// name-addr / addr-spec with header parameters: From, To, Contact, P-Asserted-Identity,
// Remote-Party-ID, Refer-To, Referred-By (§20.10, §25.1).
struct NameAddr {
  std::string_view display_name;  // without quotes (escapes left as-is); "" if absent
  Uri uri;
  std::string_view params;  // header params after the URI (";tag=x;party=calling")
  std::string_view tag;     // the tag parameter, "" if absent

  std::optional<std::string_view> Param(std::string_view name) const;
};

// Parses one name-addr/addr-spec value (one element of a comma list). For addr-spec
// without <>, parameters after the URI are header parameters (§20.10).
bool ParseNameAddr(std::string_view value, NameAddr* out);

// Looks up `name` in a ";a=b;c;d=e" parameter list (case-insensitive names).
std::optional<std::string_view> FindParam(std::string_view params, std::string_view name);

// Case-insensitive ASCII equality.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace callvault::sip

#endif  // CALLVAULT_APPLIANCE_SIP_URI_H_
