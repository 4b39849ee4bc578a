// VdevSpec: what the EAL arguments say about each virtual device (--vdev), read without
// EAL so that the engine knows which RX queues replay a file and which link type the
// file carries.
//
// Input: the eal_args strings of the [dpdk] config section. Output: one VdevSpec per
// --vdev, with its kvargs in order. net_pcap numbers its RX queues in the order of its
// rx_pcap= arguments (or one queue for iface=/rx_iface=/rx_iface_in=), so queue i of
// the port named `name` reads rx_files()[i]. Pure functions; any thread.
#ifndef CALLVAULT_DPDK_APP_VDEV_SPEC_H_
#define CALLVAULT_DPDK_APP_VDEV_SPEC_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace callvault::dpdk {

struct VdevSpec {
  std::string name;    // device name as given: "net_pcap0"
  std::string driver;  // name without its trailing instance digits: "net_pcap"
  std::vector<std::pair<std::string, std::string>> args;  // "rx_pcap" -> "/x.pcap"

  // Values of every argument called `key`, in order.
  std::vector<std::string> Values(std::string_view key) const;
  // True for a net_pcap device whose RX queues replay files (rx_pcap=) once, i.e. runs
  // that end (infinite_rx=1 never ends).
  bool IsFileReplay() const;
};

// Parses "net_pcap0,rx_pcap=a.pcap,infinite_rx=0" (the text after --vdev).
VdevSpec ParseVdev(std::string_view text);

// Every --vdev in an EAL argument list; accepts "--vdev X", "--vdev=X".
std::vector<VdevSpec> VdevsFromEalArgs(const std::vector<std::string>& eal_args);

}  // namespace callvault::dpdk

#endif  // CALLVAULT_DPDK_APP_VDEV_SPEC_H_
