// Small ASCII text helpers shared by the SIP and SDP parsers (internal to appliance/sip).
// All inline, allocation-free, locale-free.
#ifndef CALLVAULT_APPLIANCE_SIP_TEXT_H_
#define CALLVAULT_APPLIANCE_SIP_TEXT_H_

#include <cstdint>
#include <string_view>

namespace callvault::sip {

inline char ToLower(char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; }
inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
inline bool IsAlnum(char c) { return IsDigit(c) || IsAlpha(c); }
// Linear white space as it appears in raw (possibly folded) header values.
inline bool IsLws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

inline std::string_view TrimLws(std::string_view s) {
  while (!s.empty() && IsLws(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsLws(s.back())) s.remove_suffix(1);
  return s;
}

// Parses an unsigned decimal of at most `max_digits` digits (after trimming LWS);
// false if empty, not all digits, or larger than `max_value`.
inline bool ParseUnsigned(std::string_view s, uint64_t max_value, uint64_t* out) {
  s = TrimLws(s);
  if (s.empty() || s.size() > 19) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (!IsDigit(c)) return false;
    v = v * 10 + uint64_t(c - '0');
  }
  if (v > max_value) return false;
  *out = v;
  return true;
}

inline bool ParseU16(std::string_view s, uint16_t* out) {
  uint64_t v;
  if (!ParseUnsigned(s, 65535, &v)) return false;
  *out = uint16_t(v);
  return true;
}

inline bool ParseU32(std::string_view s, uint32_t* out) {
  uint64_t v;
  if (!ParseUnsigned(s, 0xffffffffull, &v)) return false;
  *out = uint32_t(v);
  return true;
}

// Splits off the first LWS-separated token of *s (and removes it from *s).
inline std::string_view NextToken(std::string_view* s) {
  std::string_view t = *s;
  while (!t.empty() && IsLws(t.front())) t.remove_prefix(1);
  std::size_t n = 0;
  while (n < t.size() && !IsLws(t[n])) ++n;
  std::string_view tok = t.substr(0, n);
  *s = t.substr(n);
  return tok;
}

inline std::string_view AsText(const uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace callvault::sip

#endif  // CALLVAULT_APPLIANCE_SIP_TEXT_H_
