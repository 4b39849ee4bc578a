#include "dpdk_app/dpdk_source.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_mempool.h>

#include <cstring>
#include <ctime>

#include <fmt/format.h>

namespace callvault::dpdk {

namespace {

uint64_t RealtimeNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

constexpr uint16_t kTpidVlan = 0x8100;

}  // namespace

DpdkSource::DpdkSource(const PortSetup& port, const RxQueueSpec& queue, bool stop_at_eof)
    : spec_(queue),
      port_name_(port.name),
      clock_(port.clock),
      pool_(port.pool),
      stop_at_eof_(stop_at_eof),
      scratch_(new uint8_t[kScratchBytes]) {
  ts_offset_ = rte_mbuf_dynfield_lookup(RTE_MBUF_DYNFIELD_TIMESTAMP_NAME, nullptr);
  int bit = rte_mbuf_dynflag_lookup(RTE_MBUF_DYNFLAG_RX_TIMESTAMP_NAME, nullptr);
  ts_flag_ = bit >= 0 ? (1ull << bit) : 0;
  tsc_hz_ = rte_get_tsc_hz();
  if (tsc_hz_ == 0) tsc_hz_ = 1;
  base_tsc_ = rte_rdtsc();
  base_ns_ = RealtimeNs();
}

DpdkSource::~DpdkSource() { Release(); }

void DpdkSource::Release() {
  if (n_held_ > 0) {
    rte_pktmbuf_free_bulk(held_, n_held_);
    n_held_ = 0;
  }
}

uint64_t DpdkSource::NowNs() const {
  uint64_t delta = rte_rdtsc() - base_tsc_;
  uint64_t sec = delta / tsc_hz_;
  uint64_t rem = delta % tsc_hz_;  // < hz (a few 1e9): rem * 1e9 fits in 64 bits
  return base_ns_ + sec * 1000000000ull + rem * 1000000000ull / tsc_hz_;
}

absl::StatusOr<size_t> DpdkSource::NextBurst(std::span<Frame> out) {
  if (eof_.load(std::memory_order_relaxed) && stop_at_eof_) {
    return absl::OutOfRangeError("end of capture");
  }
  Release();
  uint16_t want = static_cast<uint16_t>(std::min(out.size(), kBurstSize));
  uint16_t n = rte_eth_rx_burst(spec_.port, spec_.queue, held_, want);
  n_held_ = n;
  if (n == 0) {
    if (spec_.file_replay && ++empty_polls_ >= kEofPolls &&
        rte_mempool_avail_count(pool_) >= kBurstSize) {
      eof_.store(true, std::memory_order_relaxed);
      if (stop_at_eof_) return absl::OutOfRangeError("end of capture");
    }
    return 0;
  }
  empty_polls_ = 0;
  const bool pmd_time = clock_ == ClockSource::kPcapMicros && ts_offset_ >= 0 && ts_flag_ != 0;
  const uint64_t burst_ns = pmd_time ? 0 : NowNs();
  size_t scratch_used = 0;
  size_t delivered = 0;
  uint64_t bytes = 0;
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = held_[i];
    const bool vlan_stripped = (m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED) != 0;
    const uint32_t len = m->pkt_len;
    const uint32_t out_len = len + (vlan_stripped ? 4 : 0);
    if (out_len > 65535) {
      Bump(drops_[static_cast<size_t>(SourceDrop::kTooLong)], 1);
      continue;
    }
    Frame& f = out[delivered];
    if (m->nb_segs == 1 && !vlan_stripped) {
      f.data = rte_pktmbuf_mtod(m, const uint8_t*);
    } else {
      if (scratch_used + out_len > kScratchBytes) {
        Bump(drops_[static_cast<size_t>(SourceDrop::kScratchFull)], 1);
        continue;
      }
      uint8_t* dst = scratch_.get() + scratch_used;
      if (vlan_stripped && len >= 12) {
        // Re-insert the 802.1Q tag the PMD stripped: dst MAC, src MAC, TPID, TCI, rest.
        const uint8_t* macs = static_cast<const uint8_t*>(rte_pktmbuf_read(m, 0, 12, dst));
        if (macs != dst) std::memcpy(dst, macs, 12);
        dst[12] = kTpidVlan >> 8;
        dst[13] = kTpidVlan & 0xff;
        dst[14] = static_cast<uint8_t>(m->vlan_tci >> 8);
        dst[15] = static_cast<uint8_t>(m->vlan_tci & 0xff);
        const void* rest = rte_pktmbuf_read(m, 12, len - 12, dst + 16);
        if (rest != dst + 16) std::memcpy(dst + 16, rest, len - 12);
      } else {
        const void* p = rte_pktmbuf_read(m, 0, len, dst);
        if (p != dst) std::memcpy(dst, p, len);
      }
      f.data = dst;
      scratch_used += out_len;
      Bump(linearised_, 1);
    }
    f.caplen = out_len;
    f.wirelen = out_len;
    if (pmd_time && (m->ol_flags & ts_flag_)) {
      f.ts_ns = NetPcapMicrosToNs(*RTE_MBUF_DYNFIELD(m, ts_offset_, const uint64_t*));
    } else {
      f.ts_ns = burst_ns != 0 ? burst_ns : NowNs();
    }
    f.port = spec_.port;
    f.queue = spec_.queue;
    f.link = spec_.link;
    bytes += out_len;
    ++delivered;
  }
  Bump(frames_, delivered);
  Bump(bytes_, bytes);
  return delivered;
}

capture::SourceStats DpdkSource::Stats() const {
  capture::SourceStats s;
  s.frames = frames_.load(std::memory_order_relaxed);
  s.bytes = bytes_.load(std::memory_order_relaxed);
  rte_eth_stats st{};
  if (rte_eth_stats_get(spec_.port, &st) == 0) {
    s.kernel_drops = st.imissed;
    s.if_drops = st.ierrors;
    s.no_buffer = st.rx_nombuf;
  }
  return s;
}

std::string DpdkSource::Name() const {
  return fmt::format("dpdk:{}/q{}", port_name_, spec_.queue);
}

void DpdkSource::FillCounters(QueueCounters* out) const {
  out->port = spec_.port;
  out->queue = spec_.queue;
  out->frames = frames_.load(std::memory_order_relaxed);
  out->bytes = bytes_.load(std::memory_order_relaxed);
  out->linearised = linearised_.load(std::memory_order_relaxed);
  for (size_t i = 0; i < static_cast<size_t>(SourceDrop::kCount); ++i) {
    out->drops[i] = drops_[i].load(std::memory_order_relaxed);
  }
  out->at_eof = eof_.load(std::memory_order_relaxed);
  rte_eth_stats st{};
  if (rte_eth_stats_get(spec_.port, &st) == 0 && spec_.queue < RTE_ETHDEV_QUEUE_STAT_CNTRS) {
    out->q_ipackets = st.q_ipackets[spec_.queue];
    out->q_errors = st.q_errors[spec_.queue];
  }
}

}  // namespace callvault::dpdk
