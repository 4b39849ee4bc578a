// DtmfTracker: RFC 4733 telephone-events of one RTP stream -> one event per key press.
//
// Input: the payload of each RTP packet whose payload type maps to telephone-event, with
// its RTP timestamp and capture time. Output: DtmfKey records (at most kMaxEvents per
// stream; more are counted in overflow()). Thread: owned by one worker; no heap after
// construction.
//
// RFC 4733 §2.3: every packet of one event carries the same RTP timestamp (the event's
// start) and a growing duration; the end packet (E bit) is sent three times (§2.5.1.4).
// So an event is keyed by (timestamp, event code): the first end packet closes it and
// the retransmissions are counted in end_retransmissions(), never reported again. An
// event whose end packets were all lost is closed when the next event starts or at
// Finish().
#ifndef CALLVAULT_APPLIANCE_MEDIA_DTMF_H_
#define CALLVAULT_APPLIANCE_MEDIA_DTMF_H_

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace callvault::media {

struct DtmfKey {
  uint64_t start_ns = 0;      // capture time of the first packet of the event
  uint32_t duration_ts = 0;   // RTP timestamp units (§2.5.1.3)
  uint32_t clock_rate = 8000;
  uint8_t event = 0;          // §3.2: 0-9, 10 '*', 11 '#', 12-15 A-D, 16 flash
  bool ended = false;         // an end packet was seen

  uint32_t duration_ms() const {
    return clock_rate ? uint32_t(uint64_t(duration_ts) * 1000 / clock_rate) : 0;
  }
};

// "0".."9", "*", "#", "A".."D", "flash", or "event-N".
std::string DtmfDigitName(uint8_t event);
// What a display shows: the digit, or "X" when masked (callers key in account numbers).
std::string DtmfDisplay(std::string_view digit, bool mask);

class DtmfTracker {
 public:
  static constexpr std::size_t kMaxEvents = 64;

  // Returns false when the payload is not a telephone-event (shorter than 4 bytes).
  bool OnPacket(std::span<const uint8_t> payload, uint32_t rtp_ts, uint32_t clock_rate,
                uint64_t arrival_ns);
  // Closes an event still open (end packets lost).
  void Finish();

  std::span<const DtmfKey> events() const { return {events_.data(), count_}; }
  uint64_t end_retransmissions() const { return end_retx_; }
  uint64_t overflow() const { return overflow_; }

 private:
  void Emit();

  bool active_ = false;
  bool cur_ended_ = false;
  uint32_t cur_ts_ = 0;
  DtmfKey cur_;
  std::array<DtmfKey, kMaxEvents> events_{};
  std::size_t count_ = 0;
  uint64_t end_retx_ = 0;
  uint64_t overflow_ = 0;
};

}  // namespace callvault::media

#endif  // CALLVAULT_APPLIANCE_MEDIA_DTMF_H_
