// RtpStats: the quality of one RTP stream (one leg direction), per RFC 3550.
//
// Input: each RTP header of the stream with its capture time, in arrival order.
// Output: counts (received, unique, duplicates, late, lost), interarrival jitter,
// payload types seen, SSRC changes, comfort-noise packets. Thread: owned by one worker.
// No heap: the duplicate window is a fixed bitmap of kWindow sequence numbers.
//
// Rules:
// - Sequence numbers are extended to 32 bits as in RFC 3550 Appendix A.1; a jump larger
//   than `reorder_window` (config) in either direction, or a new SSRC, starts a new
//   sequence run (counted in `resyncs`/`ssrc_changes`), like A.1's "bad sequence" resync.
// - A packet whose extended sequence number was already seen within the window is a
//   duplicate (a SPAN port often delivers a packet twice). Duplicates are counted and
//   flagged but never removed from the recording; they do not enter loss or jitter.
// - A packet older than the highest seen but within the window and not seen yet is
//   reordered (counted) and fills its gap; older than the window is `late`.
// - Loss is RFC 3550 §6.4.1 "cumulative number of packets lost" = expected - received
//   (unique), summed over every sequence run; never negative.
// - Jitter is RFC 3550 §6.4.1 / A.8: J += (|D| - J)/16 in RTP timestamp units, for
//   in-order unique packets with the same clock; reported in ms with the stream clock.
//
// Layout (the per-packet cost, issue 8): the fields an in-order packet reads and writes
// come first (72 B); counters of rare events, the closed runs' loss and the 1,024-bit
// window follow. With a reorder window of at most 64 packets (the default) the window is
// a 64-bit shift register among the hot fields (bit i = max_ext - i seen) and the
// 1,024-bit ring is never touched; larger windows use the ring. The maximum jitter is
// kept in timestamp units and converted at read time, so Update() does no division.
#ifndef CALLVAULT_APPLIANCE_MEDIA_RTP_STATS_H_
#define CALLVAULT_APPLIANCE_MEDIA_RTP_STATS_H_

#include <array>
#include <cstddef>
#include <cstdint>

namespace callvault::media {

enum class SeqVerdict : uint8_t {
  kInOrder = 0,   // the next (or a later) sequence number
  kReordered,     // earlier than the highest, not yet seen, within the window
  kDuplicate,     // already seen within the window
  kLate,          // older than the window
  kNewRun,        // first packet, SSRC change or a jump: starts a new run
};

class RtpStats {
 public:
  static constexpr uint32_t kWindow = 1024;  // bitmap size; the config window is <= this
  static constexpr int32_t kMaxDropout = 3000;   // RFC 3550 A.1 MAX_DROPOUT
  static constexpr int32_t kMaxMisorder = 3000;  // older than this: a restart, not late

  static constexpr uint32_t kShortWindow = 64;  // windows up to this: the shift register
  // Bytes at the start of the object that an in-order packet touches (for prefetching).
  static constexpr std::size_t kHotBytes = 72;

  explicit RtpStats(uint32_t reorder_window = 64)
      : window_(uint16_t(reorder_window == 0   ? 1
                         : reorder_window > kWindow ? kWindow
                                                    : reorder_window)) {}

  // clock_rate: RTP clock of this packet's payload type (0 = unknown: no jitter).
  SeqVerdict Update(uint32_t ssrc, uint16_t seq, uint32_t rtp_ts, uint8_t pt,
                    uint32_t clock_rate, uint64_t arrival_ns, bool comfort_noise);

  uint64_t packets() const { return packets_; }          // every packet, duplicates too
  uint64_t duplicates() const { return duplicates_; }
  uint64_t reordered() const { return reordered_; }
  uint64_t late() const { return late_; }
  uint64_t unique() const { return packets_ - duplicates_; }
  uint64_t lost() const;                                  // RFC 3550 §6.4.1
  uint64_t ssrc_changes() const { return ssrc_changes_; }
  uint64_t resyncs() const { return resyncs_; }
  uint64_t comfort_noise() const { return cn_; }
  double jitter_ms() const;                               // current RFC 3550 A.8 value
  double max_jitter_ms() const;
  bool pt_seen(uint8_t pt) const { return (pt_seen_[pt >> 6 & 1] >> (pt & 63)) & 1; }
  uint32_t ssrc() const { return ssrc_; }
  bool started() const { return started_; }  // a packet was seen (ssrc() is valid)
  uint8_t last_pt() const { return last_pt_; }

 private:
  bool short_window() const { return window_ <= kShortWindow; }
  // Seen-set of the current run within the window: the shift register for short windows
  // (bit max_ext_ - ext), else the ring (bit ext % kWindow).
  bool Seen(uint32_t ext) const {
    if (short_window()) return (recent_ >> (max_ext_ - ext)) & 1;
    return (bits_[(ext % kWindow) / 64] >> (ext % 64)) & 1;
  }
  void Mark(uint32_t ext) {
    if (short_window()) {
      recent_ |= 1ull << (max_ext_ - ext);
    } else {
      bits_[(ext % kWindow) / 64] |= 1ull << (ext % 64);
    }
  }
  void Clear(uint32_t ext) { bits_[(ext % kWindow) / 64] &= ~(1ull << (ext % 64)); }
  void Advance(uint32_t ext, uint32_t delta);  // max_ext_ moves forward by delta to ext
  void CloseRun();
  void StartRun(uint32_t ssrc, uint16_t seq);
  void NewClock(uint32_t clock_rate);

  // Hot: read or written by every in-order packet (kHotBytes).
  uint32_t ssrc_ = 0;
  uint32_t max_ext_ = 0;    // highest extended seq of the current run
  uint32_t jitter_clock_ = 0;
  // Transit (A.8) of the last in-order packet, modulo 2^32: only its difference modulo
  // 2^32 is ever used.
  uint32_t last_transit_ = 0;
  uint16_t window_;         // <= kWindow
  bool started_ = false;
  bool have_transit_ = false;
  uint8_t last_pt_ = 0;
  uint64_t packets_ = 0;
  uint64_t run_unique_ = 0; // unique packets of the current run (reordered included)
  uint64_t recent_ = 0;     // short window: bit i = max_ext_ - i seen
  uint64_t arrival_base_ns_ = UINT64_MAX;  // first arrival: keeps the A.8 units small
  double jitter_ = 0;       // timestamp units (A.8)
  double max_jitter_ = 0;   // maximum of jitter_ since jitter_clock_ was set, same units
  // Cold: rare events, loss of closed runs, payload types (updated on a PT change only).
  uint32_t base_ext_ = 0;   // first extended seq of the current run
  uint64_t lost_closed_ = 0;  // loss of finished runs
  uint64_t duplicates_ = 0, reordered_ = 0, late_ = 0;
  uint64_t ssrc_changes_ = 0, resyncs_ = 0, cn_ = 0;
  double max_jitter_ms_closed_ = 0;  // maximum jitter (ms) under earlier clocks
  std::array<uint64_t, 2> pt_seen_{};
  std::array<uint64_t, kWindow / 64> bits_{};  // long windows only
};

}  // namespace callvault::media

#endif  // CALLVAULT_APPLIANCE_MEDIA_RTP_STATS_H_
