// DialogTracker's internal state: the Call and Dialog structs shared by the files that
// implement the tracker (private to appliance/calls; include only from dialog_*.cc and
// call_*.cc of this folder).
//
// dialog_tracker.cc        message dispatch: INVITE / in-dialog requests / responses,
//                          offer/answer (RFC 3264) and media publication
// dialog_transactions.cc   retransmission and proxy-copy detection (RFC 3261 §17)
// call_linking.cc          B2BUA/transfer linking at dialog creation, the endpoint and
//                          correlation indexes, and the late merge of two started calls
// call_record_builder.cc   who is who at call start: ANI, dialled number, agent, E.164
// dialog_timers.cc         dialog termination, call end delivery, idle/early/session
//                          expiry (with media activity), eviction, Finish()
//
// Ownership: a Dialog lives in DialogTracker::lru_ (a std::list: stable addresses) and
// holds a shared_ptr to its Call; the Call lists its dialogs (raw pointers, removed when
// the dialog leaves the table). Indexes hold weak_ptr/shared_ptr to calls and are cleaned
// when the call's end is delivered. Thread: the tracker's (not thread-safe).
#ifndef CALLVAULT_APPLIANCE_CALLS_DIALOG_STATE_H_
#define CALLVAULT_APPLIANCE_CALLS_DIALOG_STATE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "appliance/calls/dialog_tracker.h"

namespace callvault::calls {

// Evidence that a call announced media first announced in another call (call_linking.cc).
struct DialogTracker::MediaEvidence {
  std::weak_ptr<Call> other;
  uint64_t ts_ns = 0;
};

struct DialogTracker::Call {
  CallRecord rec;
  int open_dialogs = 0;   // dialog sets not yet terminated
  int live_dialogs = 0;   // dialog sets still in the table (open or lingering)
  uint16_t next_dialog = 0;
  bool delivered = false;   // OnCallEnded sent
  bool terminated = false;  // every dialog ended
  bool any_answered = false;
  bool clean_end = false;   // an answered dialog ended by BYE
  bool open_at_finish = false;
  bool first_result_set = false;
  CallState first_state = CallState::kTimedOut;
  int first_code = 0;
  int agent_side_hint = -1;
  // A REFER of this call may still bring the transfer's INVITE (RFC 3515): until then
  // the end is delivered only when the last dialog leaves the table (after linger_ns).
  uint64_t refer_expires_ns = 0;
  std::vector<std::string> correlation_keys;
  std::vector<Endpoint> endpoints;
  std::vector<Dialog*> dialogs;  // dialogs in the table that belong to this call
  std::vector<MediaEvidence> evidence;  // media of other calls this call announced
};

struct DialogTracker::Dialog {
  DialogList::iterator self;
  std::string call_id;
  std::string from_tag;  // the caller's (side A) tag
  std::shared_ptr<Call> call;
  uint32_t invite_cseq = 0;
  bool answered = false;
  std::string answered_tag;
  bool terminated = false;
  bool cancel_seen = false;
  bool auth_pending = false;
  uint64_t auth_fail_ns = 0;
  int final_code = 0;
  uint64_t last_activity_ns = 0;  // last SIP message of the dialog
  uint64_t last_media_ns = 0;     // last RTP/RTCP seen by media (asked at deadline time)
  uint64_t terminated_at_ns = 0;
  uint64_t session_expires_ns = 0;
  int pending_offer_side = -1;
  struct Early {
    std::string tag;
    SideMedia media;
    bool has_media = false;
  };
  std::vector<Early> early;
  MediaSession media;
  std::vector<uint64_t> keys;  // remembered request/response keys (ring)
  size_t next_key = 0;
};

inline std::string_view FromTag(const sip::Message& m) {
  auto f = m.from();
  return f ? f->tag : std::string_view();
}
inline std::string_view ToTag(const sip::Message& m) {
  auto t = m.to();
  return t ? t->tag : std::string_view();
}

}  // namespace callvault::calls

#endif  // CALLVAULT_APPLIANCE_CALLS_DIALOG_STATE_H_
