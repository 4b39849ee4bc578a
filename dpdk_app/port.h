// Port set-up: every capture port (a NIC bound to vfio-pci, or a virtual device:
// net_pcap on a file or interface, net_af_packet) configured for passive capture.
//
// Input: PortOptions (from the [capture] and [dpdk] config sections); EAL initialised.
// Output: one PortSetup per port, started, with its RX queues described (which file or
// interface each reads, its link type, whether it ends). Control path, main thread.
//
// Per port: promiscuous + all-multicast; N RX queues with symmetric RSS (the 40-byte
// 0x6d5a key repeated, so both directions of a flow hash to the same queue; IP, UDP and
// TCP hash types the PMD supports). A PMD without RSS (net_pcap: one queue per rx_pcap=,
// net_af_packet: one per qpair, hashed symmetrically by the kernel's fanout) keeps every
// queue it has. No TX queue unless the PMD refuses to configure without one. Mbufs come
// from one pool per NUMA socket, sized from config; scatter RX is enabled when the PMD
// offers it (jumbo frames arrive as mbuf chains, linearised by DpdkSource). VLAN
// stripping stays off: the pipeline must see the tags.
#ifndef CALLVAULT_DPDK_APP_PORT_H_
#define CALLVAULT_DPDK_APP_PORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "appliance/common/frame.h"
#include "dpdk_app/vdev_spec.h"

struct rte_mempool;

namespace callvault {
struct Config;
}

namespace callvault::dpdk {

struct PortOptions {
  std::vector<uint16_t> ports;   // empty = every port EAL probed
  uint32_t rx_queues = 1;        // wanted per port (RSS PMDs)
  uint32_t mbufs = 65535;        // per NUMA socket pool
  uint32_t mbuf_cache = 256;
  uint32_t rx_descriptors = 1024;
  std::vector<VdevSpec> vdevs;   // from the EAL args, to recognise file replays
};
PortOptions PortOptionsFromConfig(const Config& config);

// Where a frame's capture time comes from.
enum class ClockSource : uint8_t {
  kPcapMicros,  // net_pcap: the pcap header time, in the mbuf RX timestamp dynfield (us)
  kTsc,         // everything else: TSC at rte_eth_rx_burst, mapped to the wall clock
};

struct RxQueueSpec {
  uint16_t port = 0;
  uint16_t queue = 0;
  LinkType link = LinkType::kEthernet;  // of the frames (a replayed file's link type)
  bool file_replay = false;             // net_pcap rx_pcap= without infinite_rx: ends
  std::string input;                    // the file or interface read, for messages
};

struct PortSetup {
  uint16_t port = 0;
  std::string name;      // "net_pcap0", "0000:03:00.0"
  std::string driver;    // "net_pcap", "net_ixgbe"
  bool rss = false;
  ClockSource clock = ClockSource::kTsc;
  int socket = 0;
  rte_mempool* pool = nullptr;  // owned by EAL (lives until CleanupEal)
  std::vector<RxQueueSpec> queues;
};

// Configures and starts every port. Errors name the port and the DPDK call.
[[nodiscard]] absl::StatusOr<std::vector<PortSetup>> SetUpPorts(const PortOptions& options);

// Stops and closes the ports (frees the PMD's resources; net_pcap closes its files).
void ClosePorts(const std::vector<PortSetup>& ports);

// Maps a pcap DLT value to the Frame link type; false for link types callvault does not
// decode.
bool LinkTypeFromDlt(int dlt, LinkType* out);

}  // namespace callvault::dpdk

#endif  // CALLVAULT_DPDK_APP_PORT_H_
