// The unit every capture source hands to the pipeline: a view of one captured frame.
//
// Contract: a Frame does not own its bytes. They stay valid until the source's next
// NextBurst() call (libpcap) or until the burst is released (DPDK mbufs). A stage that
// needs the bytes later (media blocks, SIP messages kept as evidence) copies them.
// Sources deliver bursts of at most kBurstSize frames; nothing above capture knows
// whether the frames came from DPDK or libpcap.
#ifndef CALLVAULT_APPLIANCE_COMMON_FRAME_H_
#define CALLVAULT_APPLIANCE_COMMON_FRAME_H_

#include <cstddef>
#include <cstdint>
#include <span>

namespace callvault {

inline constexpr std::size_t kBurstSize = 32;

// Link-layer type of the captured bytes, numbered as pcap's LINKTYPE_* values so that
// sources can pass the capture file's value straight through.
enum class LinkType : uint16_t {
  kNull = 0,         // BSD loopback: 4-byte host-order address family
  kEthernet = 1,
  kRaw = 101,        // raw IPv4/IPv6, version nibble decides
  kLoop = 108,       // OpenBSD loopback: 4-byte network-order address family
  kLinuxSll = 113,
  kIpv4 = 228,
  kIpv6 = 229,
  kLinuxSll2 = 276,
};

struct Frame {
  const uint8_t* data = nullptr;
  uint32_t caplen = 0;    // bytes available at `data`
  uint32_t wirelen = 0;   // length on the wire (>= caplen when the capture was snapped)
  uint64_t ts_ns = 0;     // capture time, ns since the Unix epoch (UTC)
  uint16_t port = 0;      // capture port (DPDK port id or libpcap source index)
  uint16_t queue = 0;     // RX queue
  LinkType link = LinkType::kEthernet;

  std::span<const uint8_t> bytes() const { return {data, caplen}; }
};

using Burst = std::span<const Frame>;

}  // namespace callvault

#endif  // CALLVAULT_APPLIANCE_COMMON_FRAME_H_
