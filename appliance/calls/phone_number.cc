#include "appliance/calls/phone_number.h"

#include <phonenumbers/logger.h>
#include <phonenumbers/phonenumberutil.h>

#include <cctype>
#include <set>
#include <fmt/format.h>

namespace callvault::calls {
namespace {

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

// The singleton, with libphonenumber's own stderr logging replaced by a NullLogger so
// that the CLI's output stays one line per error (SetLogger takes ownership).
const PhoneNumberUtil& Util() {
  static const PhoneNumberUtil* util = [] {
    PhoneNumberUtil* u = PhoneNumberUtil::GetInstance();
    u->SetLogger(new i18n::phonenumbers::NullLogger());
    return u;
  }();
  return *util;
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// A dialable number: digits with an optional leading '+' and the visual separators of
// RFC 3966 §5.1.1 (and spaces, parentheses, '/', as people write them).
bool LooksDialable(std::string_view s) {
  int digits = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c >= '0' && c <= '9') {
      ++digits;
    } else if (c == '+' && i == 0) {
      continue;
    } else if (c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '/') {
      continue;
    } else {
      return false;
    }
  }
  return digits > 0;
}

}  // namespace

std::string_view UriUserPart(std::string_view text) {
  std::string_view s = Trim(text);
  // name-addr: take what is inside <...> (RFC 3261 §20.10).
  if (size_t lt = s.find('<'); lt != std::string_view::npos) {
    size_t gt = s.find('>', lt);
    s = s.substr(lt + 1, gt == std::string_view::npos ? std::string_view::npos : gt - lt - 1);
    s = Trim(s);
  }
  bool is_sip = false;
  if (StartsWithNoCase(s, "sips:")) {
    s.remove_prefix(5);
    is_sip = true;
  } else if (StartsWithNoCase(s, "sip:")) {
    s.remove_prefix(4);
    is_sip = true;
  } else if (StartsWithNoCase(s, "tel:")) {
    s.remove_prefix(4);
  }
  if (is_sip) {
    size_t at = s.find('@');
    if (at == std::string_view::npos) {
      // "sip:host" has no user part; "sip:+1202;user=phone" is tolerated as a user.
      size_t end = s.find_first_of(";?:");
      std::string_view u = s.substr(0, end);
      return LooksDialable(u) ? u : std::string_view();
    }
    s = s.substr(0, at);
    // user may carry parameters only in the user=phone form ("+1202;isub=1"), §19.1.6.
    s = s.substr(0, s.find(';'));
    // A password (user:password@host) is not part of the user.
    s = s.substr(0, s.find(':'));
    return s;
  }
  // tel: URI or a bare number: parameters start with ';' (RFC 3966 §3).
  return Trim(s.substr(0, s.find(';')));
}

absl::StatusOr<PhoneNormalizer> PhoneNormalizer::Create(std::string_view default_region) {
  std::string region(default_region);
  for (char& c : region) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::set<std::string> regions;
  Util().GetSupportedRegions(&regions);
  if (regions.count(region) == 0) {
    return absl::InvalidArgumentError(fmt::format(
        "unknown phone region \"{}\" (want an ISO 3166-1 alpha-2 code such as US or GB)",
        std::string(default_region)));
  }
  return PhoneNormalizer(std::move(region));
}

std::optional<std::string> PhoneNormalizer::ToE164(std::string_view text) const {
  std::string_view user = UriUserPart(text);
  // Percent-encoded '+' appears in some SIP users ("%2B1202...").
  // Strings are built with append(): GCC 12 at -O3 reports a false -Wrestrict for
  // "+" + str and for replace() (a known libstdc++ false positive).
  std::string candidate;
  if (StartsWithNoCase(user, "%2b")) {
    candidate = "+";
    candidate.append(user.substr(3));
  } else {
    candidate.assign(user);
  }
  if (!LooksDialable(candidate)) return std::nullopt;

  const PhoneNumberUtil& util = Util();
  auto try_parse = [&](const std::string& s) -> std::optional<std::string> {
    PhoneNumber number;
    if (util.Parse(s, region_, &number) != PhoneNumberUtil::NO_PARSING_ERROR) {
      return std::nullopt;
    }
    if (!util.IsValidNumber(number)) return std::nullopt;
    std::string out;
    util.Format(number, PhoneNumberUtil::E164, &out);
    return out;
  };
  if (auto e164 = try_parse(candidate)) return e164;
  // "00" is the international prefix of most of the world (ITU-T E.164 Annex A); accept
  // it whatever the default region's own prefix is (the US one is 011).
  size_t first = candidate.find_first_not_of(" ");
  if (first != std::string::npos && candidate.compare(first, 2, "00") == 0) {
    std::string intl = "+";
    intl.append(candidate, first + 2);
    return try_parse(intl);
  }
  return std::nullopt;
}

std::string PhoneNormalizer::NormalizeOrRaw(std::string_view text) const {
  if (auto e164 = ToE164(text)) return *std::move(e164);
  return std::string(UriUserPart(text));
}

}  // namespace callvault::calls
