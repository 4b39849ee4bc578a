// DialogTracker: the end of dialogs and calls — termination, end delivery, timers,
// eviction and Finish().
//
// Input: terminations decided by the message handlers (BYE, CANCEL/487, failures,
// 481/408), capture time through Advance(), media activity through MediaActivity.
// Output: the final MediaSession publication (ended) of each dialog and, once every
// dialog of the call has terminated, OnCallEnded — at once, not after the linger time;
// the terminated dialog stays in the table for TrackerOptions::linger_ns only to absorb
// trailing messages (200 to BYE, ACK of a failure, retransmissions: evidence, never a new
// call). Exception: a call with an outstanding REFER (its transfer INVITE may still join
// it) is delivered when its last dialog leaves the table.
// Timers (checked once per second of capture time, kScanIntervalNs): unanswered dialogs
// expire early_timeout_ns after their last message (RFC 3261 Timer C), answered ones
// SipConfig.idle_timeout_s after their last SIP message or media packet, or a
// Session-Expires interval + 32 s (RFC 4028 §10) after them; challenged INVITEs
// (401/407/422) fail auth_retry_ns after the challenge. Expiry and eviction count
// kExpired / kEvicted. Thread: the tracker's. Allocation: none.
#include <algorithm>

#include "appliance/calls/dialog_state.h"
#include "appliance/common/time_util.h"

namespace callvault::calls {
namespace {

constexpr uint64_t kSessionTimerGraceNs = 32ull * kNsPerSec;  // RFC 4028 §10 margin
constexpr uint64_t kScanIntervalNs = kNsPerSec;

}  // namespace

void DialogTracker::TerminateDialog(Dialog& d, uint64_t end_ns, CallState state, int code) {
  if (d.terminated) return;
  d.terminated = true;
  d.auth_pending = false;
  d.terminated_at_ns = now_ns_ > end_ns ? now_ns_ : end_ns;
  Call& c = *d.call;
  if (d.answered) {
    c.any_answered = true;
    if (state == CallState::kAnswered) c.clean_end = true;
  } else if (!c.first_result_set) {
    c.first_result_set = true;
    c.first_state = state;
    c.first_code = code;
  }
  if (state == CallState::kActive) c.open_at_finish = true;
  if (end_ns > c.rec.end_ns) c.rec.end_ns = end_ns;
  d.media.ended = true;
  ++d.media.version;
  d.media.ts_ns = end_ns;
  sink_->OnMediaChanged(d.media);
  if (--c.open_dialogs == 0) {
    c.terminated = true;
    if (c.open_at_finish) {
      c.rec.state = CallState::kActive;
      c.rec.end_ns = 0;
    } else if (c.any_answered) {
      c.rec.state = c.clean_end ? CallState::kAnswered : CallState::kTimedOut;
    } else {
      c.rec.state = c.first_state;
      c.rec.sip_code = c.first_code;
    }
    // Deliver now unless a REFER's transfer may still join the call.
    if (c.refer_expires_ns < now_ns_) DeliverEnd(c);
  }
}

void DialogTracker::DetachDialog(Dialog& d) {
  if (!d.call) return;
  auto& v = d.call->dialogs;
  auto it = std::find(v.begin(), v.end(), &d);
  if (it != v.end()) v.erase(it);
}

void DialogTracker::RemoveDialog(DialogList::iterator it) {
  Dialog& d = *it;
  if (!d.terminated) TerminateDialog(d, d.last_activity_ns, CallState::kTimedOut, d.final_code);
  transactions_ -= std::min(transactions_, d.keys.size());
  dialogs_by_call_id_.erase(d.call_id);
  DetachDialog(d);
  std::shared_ptr<Call> call = std::move(d.call);
  lru_.erase(it);
  if (call && --call->live_dialogs == 0) DeliverEnd(*call);
}

void DialogTracker::DeliverEnd(Call& c) {
  if (c.delivered) return;
  c.delivered = true;
  ++calls_ended_;
  --open_calls_;
  sink_->OnCallEnded(c.rec);
  UnindexCall(c);
}

void DialogTracker::EvictOne(uint64_t /*now_ns*/) {
  auto it = lru_.begin();
  if (!it->terminated) {
    counters_.Inc(CallsDrop::kEvicted);
    TerminateDialog(*it, it->last_activity_ns, CallState::kTimedOut, it->final_code);
  }
  RemoveDialog(it);
}

uint64_t DialogTracker::Deadline(const Dialog& d) const {
  if (d.terminated) return d.terminated_at_ns + opt_.linger_ns;
  if (d.auth_pending) return d.auth_fail_ns + opt_.auth_retry_ns;
  if (!d.answered) return d.last_activity_ns + opt_.early_timeout_ns;
  // Answered: SIP or media activity keeps the call alive.
  uint64_t last = std::max(d.last_activity_ns, d.last_media_ns);
  uint64_t idle = last + uint64_t(opt_.sip.idle_timeout_s) * kNsPerSec;
  if (d.session_expires_ns > 0) {
    idle = std::min(idle, last + d.session_expires_ns + kSessionTimerGraceNs);
  }
  return idle;
}

bool DialogTracker::MediaKeepsAlive(Dialog& d) {
  if (media_activity_ == nullptr || d.terminated || !d.answered || d.auth_pending) return false;
  uint64_t last = media_activity_->LastMediaNs(d.media.call_id, d.media.dialog);
  if (last <= d.last_media_ns) return false;
  d.last_media_ns = last;
  return Deadline(d) > now_ns_;
}

void DialogTracker::Advance(uint64_t now_ns) {
  if (now_ns > now_ns_) now_ns_ = now_ns;
  if (now_ns_ < last_scan_ns_ + kScanIntervalNs) return;
  last_scan_ns_ = now_ns_;
  for (auto it = lru_.begin(); it != lru_.end();) {
    auto next = std::next(it);
    Dialog& d = *it;
    if (Deadline(d) <= now_ns_ && !MediaKeepsAlive(d)) {
      if (d.auth_pending) {
        TerminateDialog(d, d.auth_fail_ns,
                        d.cancel_seen ? CallState::kCancelled : CallState::kFailed,
                        d.final_code);
      } else if (!d.terminated) {
        counters_.Inc(CallsDrop::kExpired);
        TerminateDialog(d, std::max(d.last_activity_ns, d.last_media_ns),
                        (!d.answered && d.cancel_seen) ? CallState::kCancelled
                                                       : CallState::kTimedOut,
                        d.final_code);
      }
      RemoveDialog(it);
    }
    it = next;
  }
  std::erase_if(referrals_, [&](const Referral& r) { return r.expires_ns < now_ns_; });
}

void DialogTracker::Finish() {
  for (auto it = lru_.begin(); it != lru_.end(); it = lru_.begin()) {
    Dialog& d = *it;
    if (d.auth_pending) {
      TerminateDialog(d, d.auth_fail_ns,
                      d.cancel_seen ? CallState::kCancelled : CallState::kFailed,
                      d.final_code);
    } else if (!d.terminated) {
      TerminateDialog(d, 0, CallState::kActive, d.final_code);
    }
    RemoveDialog(it);
  }
  referrals_.clear();
}

}  // namespace callvault::calls
