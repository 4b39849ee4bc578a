// DpdkSource: one RX queue of one DPDK port as a capture::CaptureSource.
//
// Input: a started port and queue (port.h). Output: bursts of Frames pointing into mbuf
// data. Ownership: the mbufs of a burst are held until the next NextBurst() (or
// Release()), then freed in bulk — the CaptureSource contract "bytes valid until the
// next NextBurst()". Thread: the one worker lcore that polls the queue; Stats() and
// Counters() may be read from the control thread (relaxed atomics).
//
// Per packet: no allocation, no lock, no syscall. A multi-segment mbuf (a jumbo frame
// over scatter RX) or a frame whose VLAN tag the PMD stripped is rebuilt contiguously
// in a per-queue scratch buffer (allocated once, kScratchBytes). Drop reasons
// (SourceDrop): scratch_full (more rebuilt bytes in one burst than the scratch holds),
// too_long (frame over 65535 bytes).
//
// Capture time (Frame::ts_ns): net_pcap stores the pcap record time (microseconds) in
// the mbuf RX timestamp dynfield, so a file replayed through DPDK gets exactly the times
// libpcap reports (at microsecond precision). Other PMDs: the TSC read once per burst,
// mapped to the wall clock taken at construction (NIC hardware timestamps count a
// device clock, not UTC, so they are not used).
//
// End of a replayed file (net_pcap rx_pcap= without infinite_rx, and stop_at_eof): the
// PMD reads the file synchronously inside rte_eth_rx_burst, so an empty burst means
// either end of file or no free mbuf. The rule: kEofPolls consecutive empty bursts while
// the mempool still has at least a burst of free mbufs => end of file; NextBurst() then
// returns OutOfRangeError("end of capture") (and keeps returning it).
#ifndef CALLVAULT_DPDK_APP_DPDK_SOURCE_H_
#define CALLVAULT_DPDK_APP_DPDK_SOURCE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "appliance/capture/source.h"
#include "dpdk_app/engine_counters.h"
#include "dpdk_app/port.h"

struct rte_mbuf;

namespace callvault::dpdk {

// net_pcap's receive timestamp (microseconds) to nanoseconds. The driver computes
// `(uint64_t)tv_sec * 1e6 + tv_usec` from libpcap's signed 32-bit seconds, so from
// 2038-01-19 on the value wraps negative; classic pcap seconds are unsigned (valid to
// 2106), so a negative value is taken as 2^32 s later.
inline uint64_t NetPcapMicrosToNs(uint64_t us) {
  constexpr uint64_t kWrapUs = (uint64_t{1} << 32) * 1'000'000ull;
  if (static_cast<int64_t>(us) < 0) us += kWrapUs;
  return us * 1000ull;
}

class DpdkSource final : public capture::CaptureSource {
 public:
  static constexpr size_t kScratchBytes = 256 * 1024;
  static constexpr uint32_t kEofPolls = 3;

  DpdkSource(const PortSetup& port, const RxQueueSpec& queue, bool stop_at_eof);
  ~DpdkSource() override;
  DpdkSource(const DpdkSource&) = delete;
  DpdkSource& operator=(const DpdkSource&) = delete;

  [[nodiscard]] absl::StatusOr<size_t> NextBurst(std::span<Frame> out) override;
  // Frames and bytes of this queue; drop figures are the port's (rte_eth_stats_get).
  capture::SourceStats Stats() const override;
  std::string Name() const override;  // "dpdk:net_pcap0/q0"

  // Frees the mbufs of the last burst (end of run). Owner thread.
  void Release();
  bool at_eof() const { return eof_.load(std::memory_order_relaxed); }
  bool file_replay() const { return spec_.file_replay; }
  uint16_t port() const { return spec_.port; }
  uint16_t queue() const { return spec_.queue; }
  // This queue's counters (frames, bytes, drops, PMD per-queue stats); control thread.
  void FillCounters(QueueCounters* out) const;
  // Wall-clock ns now, from the TSC (the clock used for frames without a PMD time).
  uint64_t NowNs() const;

 private:
  void Bump(std::atomic<uint64_t>& c, uint64_t n) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }

  RxQueueSpec spec_;
  std::string port_name_;
  ClockSource clock_;
  rte_mempool* pool_;
  bool stop_at_eof_;
  int ts_offset_ = -1;    // mbuf RX timestamp dynfield offset, -1 when absent
  uint64_t ts_flag_ = 0;  // its ol_flags bit
  uint64_t tsc_hz_ = 1;
  uint64_t base_tsc_ = 0;
  uint64_t base_ns_ = 0;

  rte_mbuf* held_[kBurstSize] = {};
  uint16_t n_held_ = 0;
  uint32_t empty_polls_ = 0;
  std::unique_ptr<uint8_t[]> scratch_;

  std::atomic<uint64_t> frames_{0};
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> linearised_{0};
  std::atomic<uint64_t> drops_[static_cast<size_t>(SourceDrop::kCount)] = {};
  std::atomic<bool> eof_{false};
};

}  // namespace callvault::dpdk

#endif  // CALLVAULT_DPDK_APP_DPDK_SOURCE_H_
