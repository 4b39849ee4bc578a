#include "storage/index/normalize.h"

namespace callvault {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
char Lower(char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string NormalizeNumberForIndex(std::string_view s) {
  s = Trim(s);
  std::string lower;
  for (char c : s.substr(0, 5)) lower.push_back(Lower(c));
  for (std::string_view p : {"tel:", "sips:", "sip:"}) {
    if (lower.starts_with(p)) {
      s.remove_prefix(p.size());
      break;
    }
  }
  std::size_t cut = s.find_first_of("@;");
  if (cut != std::string_view::npos) s = s.substr(0, cut);
  std::string digits;
  for (char c : s) {
    if (c >= '0' && c <= '9') digits.push_back(c);
  }
  if (!digits.empty()) return digits;
  std::string out;
  for (char c : Trim(s)) out.push_back(Lower(c));
  return out;
}

std::string NormalizeNameForIndex(std::string_view s) {
  s = Trim(s);
  std::string out;
  bool space = false;
  for (char c : s) {
    if (IsSpace(c)) {
      space = true;
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(Lower(c));
  }
  return out;
}

std::string NormalizeExtensionForIndex(std::string_view s) { return std::string(Trim(s)); }

}  // namespace callvault
