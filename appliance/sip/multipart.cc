// The SDP inside a message body: application/sdp directly, or the application/sdp part
// of a multipart body (RFC 2046 §5.1; RFC 5621 for SIP). SIP-I/SIP-T carriers send
// multipart/mixed with SDP + application/ISUP (RFC 3204).
#include "appliance/sip/message.h"
#include "appliance/sip/text.h"

namespace callvault::sip {
namespace {

constexpr int kMaxDepth = 3;

std::string_view MediaType(std::string_view content_type) {
  return TrimLws(content_type.substr(0, content_type.find(';')));
}

bool IsSdp(std::string_view content_type) {
  return EqualsIgnoreCase(MediaType(content_type), "application/sdp");
}

bool IsMultipart(std::string_view content_type) {
  std::string_view t = MediaType(content_type);
  return t.size() > 10 && EqualsIgnoreCase(t.substr(0, 10), "multipart/");
}

std::string_view Boundary(std::string_view content_type) {
  std::size_t semi = content_type.find(';');
  if (semi == std::string_view::npos) return {};
  auto b = FindParam(content_type.substr(semi), "boundary");
  if (!b) return {};
  std::string_view v = *b;
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  return v;
}

// Finds "--boundary" at the start of a line at or after `from`; npos if none.
std::size_t FindDelimiter(std::string_view body, std::string_view boundary, std::size_t from) {
  std::size_t pos = from;
  while (pos < body.size()) {
    std::size_t d = body.find("--", pos);
    if (d == std::string_view::npos) return d;
    bool line_start = d == 0 || body[d - 1] == '\n';
    if (line_start && body.substr(d + 2, boundary.size()) == boundary) return d;
    pos = d + 1;
  }
  return std::string_view::npos;
}

std::string_view SdpIn(std::string_view body, std::string_view content_type, int depth);

// Splits one body part into its MIME headers' Content-Type and its content.
void SplitPart(std::string_view part, std::string_view* content_type, std::string_view* content) {
  *content_type = {};
  std::size_t pos = 0;
  while (pos < part.size()) {
    std::size_t lf = part.find('\n', pos);
    std::string_view line = part.substr(pos, lf == std::string_view::npos ? part.npos : lf - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = lf == std::string_view::npos ? part.size() : lf + 1;
    if (line.empty()) break;  // end of part headers
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = TrimLws(line.substr(0, colon));
    if (EqualsIgnoreCase(name, "Content-Type") || EqualsIgnoreCase(name, "c")) {
      *content_type = TrimLws(line.substr(colon + 1));
    }
  }
  *content = part.substr(pos);
}

std::string_view SdpInMultipart(std::string_view body, std::string_view boundary, int depth) {
  if (boundary.empty()) return {};
  std::size_t d = FindDelimiter(body, boundary, 0);
  while (d != std::string_view::npos) {
    std::size_t after = d + 2 + boundary.size();
    if (body.substr(after, 2) == "--") return {};  // close-delimiter
    std::size_t lf = body.find('\n', after);
    if (lf == std::string_view::npos) return {};
    std::size_t part_start = lf + 1;
    std::size_t next = FindDelimiter(body, boundary, part_start);
    std::size_t part_end = next == std::string_view::npos ? body.size() : next;
    // The CRLF before a delimiter belongs to the delimiter (RFC 2046 §5.1.1).
    if (next != std::string_view::npos && part_end > part_start && body[part_end - 1] == '\n') {
      --part_end;
      if (part_end > part_start && body[part_end - 1] == '\r') --part_end;
    }
    std::string_view ct, content;
    SplitPart(body.substr(part_start, part_end - part_start), &ct, &content);
    std::string_view sdp = SdpIn(content, ct, depth + 1);
    if (!sdp.empty()) return sdp;
    d = next;
  }
  return {};
}

std::string_view SdpIn(std::string_view body, std::string_view content_type, int depth) {
  if (IsSdp(content_type)) return body;
  if (depth < kMaxDepth && IsMultipart(content_type)) {
    return SdpInMultipart(body, Boundary(content_type), depth);
  }
  return {};
}

}  // namespace

std::string_view Message::sdp() const { return SdpIn(body_, Value(HeaderId::kContentType), 0); }

}  // namespace callvault::sip
