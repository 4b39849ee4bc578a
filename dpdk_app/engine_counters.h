// EngineCounters: every counter of the DPDK capture engine in one plain snapshot, and
// its two renderings: a flat ("name", value) list (callvault status, DPDK telemetry)
// and Prometheus text exposition format (served by callvaultd).
//
// Input: a snapshot taken by DpdkEngine::Counters() on the control thread. No DPDK
// types here, so rendering is unit-tested without EAL. Names are stable: scripts and
// dashboards depend on them (docs/DPDK.md lists what each one means).
#ifndef CALLVAULT_DPDK_APP_ENGINE_COUNTERS_H_
#define CALLVAULT_DPDK_APP_ENGINE_COUNTERS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace callvault::dpdk {

// Per-packet reasons the DPDK source itself does not deliver a frame.
enum class SourceDrop : uint8_t {
  kScratchFull = 0,  // multi-segment / VLAN-stripped frame did not fit the queue's scratch
  kTooLong,          // frame longer than 65535 bytes (cannot be a Frame)
  kCount
};
std::string_view SourceDropName(SourceDrop d);  // "scratch_full", "too_long"

struct PortCounters {
  uint16_t port = 0;
  std::string name;       // device name ("0000:03:00.0", "net_pcap0")
  std::string driver;     // "net_ixgbe", "net_pcap", ...
  uint64_t ipackets = 0;  // rte_eth_stats: received by the NIC/PMD
  uint64_t ibytes = 0;
  uint64_t imissed = 0;   // dropped by the NIC: RX ring full (we polled too slowly)
  uint64_t ierrors = 0;   // bad frames (CRC, length)
  uint64_t rx_nombuf = 0; // no mbuf to receive into (mempool too small)
};

struct QueueCounters {
  uint16_t port = 0;
  uint16_t queue = 0;
  unsigned lcore = 0;         // worker lcore polling it
  uint64_t q_ipackets = 0;    // rte_eth_stats per queue (0 when the PMD has none)
  uint64_t q_errors = 0;
  uint64_t frames = 0;        // delivered to the pipeline
  uint64_t bytes = 0;
  uint64_t linearised = 0;    // multi-segment frames copied into scratch (not a drop)
  uint64_t drops[static_cast<size_t>(SourceDrop::kCount)] = {};
  bool at_eof = false;
};

struct RingCounters {
  std::string name;        // "w1.writer": worker lcore 1 -> writer
  uint64_t enqueued = 0;
  uint64_t full_drops = 0; // ring_full:<name>: items the writer never saw
  uint64_t in_use = 0;     // entries waiting now
  uint64_t bytes_peak = 0; // most block payload capacity ever in flight (<= ring_bytes)
};

struct EngineCounters {
  std::vector<PortCounters> ports;
  std::vector<QueueCounters> queues;
  std::vector<RingCounters> rings;
  // Sum over workers of Pipeline::Counters() ("layer.reason", value).
  std::vector<std::pair<std::string, uint64_t>> pipeline;
  uint64_t active_calls = 0;
  uint64_t workers = 0;
  uint64_t workers_finished = 0;
};

// ("port.0.imissed", 3), ("queue.0.1.frames", 10), ("ring.w1.writer.full_drops", 0),
// ("pipeline.decode.truncated", 2), ("engine.active_calls", 5), ...
std::vector<std::pair<std::string, uint64_t>> Flatten(const EngineCounters& c);

// Only the counters that mean "something was not recorded": NIC imissed/ierrors/
// rx_nombuf, source drops, ring-full drops, and pipeline counters whose name contains
// "drop" — zero ones included, so a script can prove a zero.
std::vector<std::pair<std::string, uint64_t>> Drops(const EngineCounters& c);

// Prometheus text exposition format 0.0.4: # HELP / # TYPE lines and one sample per line,
// e.g. callvault_port_imissed_total{port="0",name="net_pcap0"} 0.
std::string RenderPrometheus(const EngineCounters& c);

}  // namespace callvault::dpdk

#endif  // CALLVAULT_DPDK_APP_ENGINE_COUNTERS_H_
