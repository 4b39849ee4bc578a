#include "appliance/media/rtp_stats.h"

#include <algorithm>
#include <cstddef>
#include <cstdlib>

namespace callvault::media {

void RtpStats::CloseRun() {
  static_assert(offsetof(RtpStats, base_ext_) == kHotBytes, "hot fields first");
  if (!started_) return;
  uint64_t expected = uint64_t(max_ext_) - base_ext_ + 1;
  if (expected > run_unique_) lost_closed_ += expected - run_unique_;
}

void RtpStats::StartRun(uint32_t ssrc, uint16_t seq) {
  CloseRun();
  started_ = true;
  ssrc_ = ssrc;
  // Start the extended number one cycle up so that earlier packets do not wrap below 0.
  base_ext_ = (1u << 16) | seq;
  max_ext_ = base_ext_;
  run_unique_ = 1;
  if (short_window()) {
    recent_ = 1;  // bit 0: max_ext_ itself
  } else {
    bits_.fill(0);
    bits_[(base_ext_ % kWindow) / 64] |= 1ull << (base_ext_ % 64);
  }
  have_transit_ = false;
}

void RtpStats::Advance(uint32_t ext, uint32_t delta) {
  if (short_window()) {
    // Sequence numbers the register slides over were not seen: shifted in as 0.
    recent_ = (delta >= 64 ? 0 : recent_ << delta) | 1;
    max_ext_ = ext;
    return;
  }
  // Ring: clear the bits the window slides over, then mark.
  if (delta >= kWindow) {
    bits_.fill(0);
  } else {
    for (uint32_t s = max_ext_ + 1; s != ext; ++s) Clear(s);
  }
  Clear(ext);
  max_ext_ = ext;
  Mark(ext);
}

uint64_t RtpStats::lost() const {
  if (!started_) return 0;
  uint64_t expected = uint64_t(max_ext_) - base_ext_ + 1;
  return lost_closed_ + (expected > run_unique_ ? expected - run_unique_ : 0);
}

double RtpStats::jitter_ms() const {
  return jitter_clock_ == 0 ? 0.0 : jitter_ * 1000.0 / jitter_clock_;
}

double RtpStats::max_jitter_ms() const {
  // x -> x * 1000.0 / clock is monotonic in floating point too, so converting the
  // maximum equals the maximum of the converted values (what jitter_ms() reported).
  double current = jitter_clock_ == 0 ? 0.0 : max_jitter_ * 1000.0 / jitter_clock_;
  return std::max(max_jitter_ms_closed_, current);
}

void RtpStats::NewClock(uint32_t clock_rate) {
  // A codec with another clock: restart the estimator in the new units.
  max_jitter_ms_closed_ = max_jitter_ms();
  max_jitter_ = 0;
  jitter_ = 0;
  jitter_clock_ = clock_rate;
  have_transit_ = false;
}

SeqVerdict RtpStats::Update(uint32_t ssrc, uint16_t seq, uint32_t rtp_ts, uint8_t pt,
                            uint32_t clock_rate, uint64_t arrival_ns, bool comfort_noise) {
  // The bit of last_pt_ is set once a packet was seen: only a change touches the set.
  if (pt != last_pt_ || packets_ == 0) pt_seen_[pt >> 6 & 1] |= 1ull << (pt & 63);
  ++packets_;
  if (comfort_noise) ++cn_;
  SeqVerdict verdict;
  if (!started_ || ssrc != ssrc_) {
    if (started_) ++ssrc_changes_;
    StartRun(ssrc, seq);
    verdict = SeqVerdict::kNewRun;
  } else {
    // Nearest extended number to max_ext_ with these low 16 bits (A.1).
    uint16_t max_low = uint16_t(max_ext_);
    int32_t delta = int16_t(uint16_t(seq - max_low));
    int64_t ext = int64_t(max_ext_) + delta;
    if (delta > 0 && delta < kMaxDropout) {
      Advance(uint32_t(ext), uint32_t(delta));
      ++run_unique_;
      verdict = SeqVerdict::kInOrder;
    } else if (delta <= 0 && uint32_t(-delta) < window_ && ext >= int64_t(base_ext_)) {
      uint32_t e = uint32_t(ext);
      if (Seen(e)) {
        ++duplicates_;
        return SeqVerdict::kDuplicate;
      }
      Mark(e);
      ++run_unique_;
      ++reordered_;
      verdict = SeqVerdict::kReordered;
    } else if (delta <= 0 && -delta < kMaxMisorder) {
      // Older than the window: counted as late; it neither fills nor creates a gap.
      ++late_;
      return SeqVerdict::kLate;
    } else {
      // A jump (restarted sender, RFC 3550 A.1 resync): new run, same SSRC.
      ++resyncs_;
      StartRun(ssrc, seq);
      verdict = SeqVerdict::kNewRun;
    }
  }
  // Jitter (A.8) on in-order packets only: a reordered packet's transit is not the
  // successor of the last one.
  if (clock_rate != 0 && verdict != SeqVerdict::kReordered) {
    if (clock_rate != jitter_clock_) NewClock(clock_rate);
    if (arrival_ns < arrival_base_ns_) arrival_base_ns_ = arrival_ns;
    int64_t arrival = int64_t((arrival_ns - arrival_base_ns_) / 1000 * clock_rate / 1000000);
    // 32-bit timestamp wrap: transits and their difference are taken modulo 2^32.
    uint32_t transit = uint32_t(arrival) - rtp_ts;
    if (have_transit_ && pt == last_pt_) {
      int64_t d = int64_t(int32_t(transit - last_transit_));
      jitter_ += (double(std::llabs(d)) - jitter_) / 16.0;
      if (jitter_ > max_jitter_) max_jitter_ = jitter_;
    }
    last_transit_ = transit;
    have_transit_ = true;
  }
  last_pt_ = pt;
  return verdict;
}

}  // namespace callvault::media
