#include "appliance/common/net_types.h"

#include <arpa/inet.h>

#include <fmt/format.h>

namespace callvault {

std::optional<IpAddress> IpAddress::Parse(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  if (text.empty() || text.size() > 45) return std::nullopt;
  char buf[46];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  uint8_t raw[16];
  if (inet_pton(AF_INET, buf, raw) == 1) return FromV4(raw);
  if (inet_pton(AF_INET6, buf, raw) == 1) return FromV6(raw);
  return std::nullopt;
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN];
  if (is_v4()) {
    inet_ntop(AF_INET, &bytes[12], buf, sizeof(buf));
  } else {
    inet_ntop(AF_INET6, bytes.data(), buf, sizeof(buf));
  }
  return buf;
}

std::string Endpoint::ToString() const {
  if (ip.is_v4()) return fmt::format("{}:{}", ip.ToString(), port);
  return fmt::format("[{}]:{}", ip.ToString(), port);
}

}  // namespace callvault
