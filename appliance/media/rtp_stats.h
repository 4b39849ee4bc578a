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
#ifndef CALLVAULT_APPLIANCE_MEDIA_RTP_STATS_H_
#define CALLVAULT_APPLIANCE_MEDIA_RTP_STATS_H_

#include <array>
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

  explicit RtpStats(uint32_t reorder_window = 64)
      : window_(reorder_window == 0 ? 1 : (reorder_window > kWindow ? kWindow : reorder_window)) {}

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
  double max_jitter_ms() const { return max_jitter_ms_; }
  bool pt_seen(uint8_t pt) const { return (pt_seen_[pt >> 6 & 1] >> (pt & 63)) & 1; }
  uint32_t ssrc() const { return ssrc_; }
  uint8_t last_pt() const { return last_pt_; }

 private:
  bool Seen(uint32_t ext) const { return (bits_[(ext % kWindow) / 64] >> (ext % 64)) & 1; }
  void Mark(uint32_t ext) { bits_[(ext % kWindow) / 64] |= 1ull << (ext % 64); }
  void Clear(uint32_t ext) { bits_[(ext % kWindow) / 64] &= ~(1ull << (ext % 64)); }
  void CloseRun();
  void StartRun(uint32_t ssrc, uint16_t seq);

  uint32_t window_;
  bool started_ = false;
  uint32_t ssrc_ = 0;
  uint32_t base_ext_ = 0;   // first extended seq of the current run
  uint32_t max_ext_ = 0;    // highest extended seq of the current run
  uint64_t run_unique_ = 0; // unique packets of the current run (reordered included)
  uint64_t lost_closed_ = 0;  // loss of finished runs
  uint64_t packets_ = 0, duplicates_ = 0, reordered_ = 0, late_ = 0;
  uint64_t ssrc_changes_ = 0, resyncs_ = 0, cn_ = 0;
  // Jitter (A.8).
  bool have_transit_ = false;
  uint64_t arrival_base_ns_ = UINT64_MAX;  // first arrival: keeps the A.8 units small
  int64_t last_transit_ = 0;
  uint32_t jitter_clock_ = 0;
  double jitter_ = 0;       // timestamp units
  double max_jitter_ms_ = 0;
  uint8_t last_pt_ = 0;
  std::array<uint64_t, 2> pt_seen_{};
  std::array<uint64_t, kWindow / 64> bits_{};
};

}  // namespace callvault::media

#endif  // CALLVAULT_APPLIANCE_MEDIA_RTP_STATS_H_
