#include "appliance/media/dtmf.h"

#include <fmt/format.h>

namespace callvault::media {

std::string DtmfDigitName(uint8_t event) {
  if (event <= 9) return std::string(1, char('0' + event));
  if (event == 10) return "*";
  if (event == 11) return "#";
  if (event >= 12 && event <= 15) return std::string(1, char('A' + event - 12));
  if (event == 16) return "flash";
  return fmt::format("event-{}", event);
}

std::string DtmfDisplay(std::string_view digit, bool mask) {
  return mask ? std::string("X") : std::string(digit);
}

void DtmfTracker::Emit() {
  if (count_ < kMaxEvents) {
    events_[count_++] = cur_;
  } else {
    ++overflow_;
  }
}

bool DtmfTracker::OnPacket(std::span<const uint8_t> p, uint32_t rtp_ts, uint32_t clock_rate,
                           uint64_t arrival_ns) {
  if (p.size() < 4) return false;
  uint8_t event = p[0];
  bool end = (p[1] & 0x80) != 0;
  uint32_t duration = uint32_t(p[2]) << 8 | p[3];
  if (active_ && rtp_ts == cur_ts_ && event == cur_.event) {
    if (cur_ended_) {
      if (end) ++end_retx_;  // §2.5.1.4 retransmitted end packet
      return true;
    }
    if (duration > cur_.duration_ts) cur_.duration_ts = duration;
    if (end) {
      cur_ended_ = true;
      cur_.ended = true;
      Emit();
    }
    return true;
  }
  // A new event: close the previous one if its end packets never arrived.
  if (active_ && !cur_ended_) Emit();
  active_ = true;
  cur_ts_ = rtp_ts;
  cur_ = DtmfKey{arrival_ns, duration, clock_rate ? clock_rate : 8000, event, end};
  cur_ended_ = end;
  if (end) Emit();
  return true;
}

void DtmfTracker::Finish() {
  if (active_ && !cur_ended_) {
    Emit();
    cur_ended_ = true;
  }
}

}  // namespace callvault::media
