#include "dpdk_app/vdev_spec.h"

#include <cctype>

namespace callvault::dpdk {

std::vector<std::string> VdevSpec::Values(std::string_view key) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : args) {
    if (k == key) out.push_back(v);
  }
  return out;
}

bool VdevSpec::IsFileReplay() const {
  if (driver != "net_pcap" && driver != "eth_pcap") return false;
  if (Values("rx_pcap").empty()) return false;
  for (const std::string& v : Values("infinite_rx")) {
    if (v != "0") return false;
  }
  return true;
}

VdevSpec ParseVdev(std::string_view text) {
  VdevSpec spec;
  size_t pos = 0;
  bool first = true;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = text.substr(pos, comma - pos);
    if (first) {
      spec.name = std::string(item);
      first = false;
    } else if (!item.empty()) {
      size_t eq = item.find('=');
      if (eq == std::string_view::npos) {
        spec.args.emplace_back(std::string(item), "");
      } else {
        spec.args.emplace_back(std::string(item.substr(0, eq)), std::string(item.substr(eq + 1)));
      }
    }
    pos = comma + 1;
  }
  size_t end = spec.name.size();
  while (end > 0 && std::isdigit(static_cast<unsigned char>(spec.name[end - 1]))) --end;
  spec.driver = spec.name.substr(0, end);
  return spec;
}

std::vector<VdevSpec> VdevsFromEalArgs(const std::vector<std::string>& eal_args) {
  std::vector<VdevSpec> out;
  for (size_t i = 0; i < eal_args.size(); ++i) {
    const std::string& a = eal_args[i];
    if (a == "--vdev" && i + 1 < eal_args.size()) {
      out.push_back(ParseVdev(eal_args[++i]));
    } else if (a.rfind("--vdev=", 0) == 0) {
      out.push_back(ParseVdev(std::string_view(a).substr(7)));
    }
  }
  return out;
}

}  // namespace callvault::dpdk
