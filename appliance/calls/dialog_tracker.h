// DialogTracker: SIP dialogs (RFC 3261 §12, §13, §17) -> calls -> CallEventSink.
//
// Input: parsed SIP messages (sip::Message, views valid only during OnMessage), each with
// its capture time, the IP/port endpoints it travelled between, and the captured frames
// that carried it (kept by the sink as evidence). Advance(now_ns) runs the timers from
// capture time, so a file replays exactly like live traffic. Optionally a MediaActivity
// (media_activity.h) that tells, at deadline time, when a dialog last had RTP.
// Output: CallEventSink events (call_event_sink.h): started / updated / media / SIP frame /
// ended, in that order for each call (trailing SIP frames may follow the end).
//
// Model. An INVITE without To-tag and with an unknown Call-ID opens a dialog set: one SIP
// Call-ID with its initial INVITE (its retries after 401/407 and the copies a proxy
// forwards with another branch belong to it). Provisional responses with a To-tag create
// early dialogs (forking: several To-tags); the To-tag of the first 2xx wins, others are
// forgotten (RFC 3261 §13.2.2.4). A call is one or more dialog sets: a B2BUA's two sides
// (linked by SipConfig.correlation_headers — the header's value equal to another dialog's
// value or Call-ID — or by an SDP endpoint already announced in another active call), and
// transfers (the INVITE carries Replaces naming a tracked dialog, RFC 3891, or targets
// the Refer-To of a recent REFER with a matching Referred-By, RFC 3515/3892).
// Late merge (call_linking.cc): two calls already started and both answered are merged
// when a later offer/answer shows them sharing media in BOTH directions (each announces,
// from another signalling address, an endpoint the other call's party announced, within
// 32 s: a B2BUA re-INVITEing its legs to direct media) or a later in-dialog request of
// one carries a correlation header naming the other. Hold SDP (inactive/sendonly, c=0.0.0.0) and
// calls that already ended never merge. The earlier call survives (ids stay sortable by
// start) and gets the other's SIP Call-IDs and dialogs (republished to media as new
// dialog indexes of the survivor); the absorbed call ends at once: state answered, end
// time = the merge, CallRecord::merged_into = the survivor's id (counted kMergedCalls).
// A re-INVITE/UPDATE with SDP for an unknown dialog opens a call "picked up mid-dialog"
// (answered at that message; counted kPickedUpMidDialog), so that calls in progress when
// capture starts are still recorded.
// Retransmissions and a proxy's copies on its next hop (same CSeq + method + From-tag for
// requests; same CSeq + method + status + tags for responses) are forwarded as evidence
// and counted, never re-applied.
// Ending: BYE (answered), CANCEL/487 (cancelled), 3xx-6xx final to the initial INVITE
// (failed; 401/407/422 wait for the authenticated retry), no SIP and no media (see
// MediaActivity) for SipConfig.idle_timeout_s after answer, early_timeout_ns before answer,
// or a Session-Expires interval (RFC 4028 §10) without refresh or media + 32 s
// (timed_out). The record's end time is the ending message's time (the last SIP or RTP for
// a timeout). OnCallEnded is delivered as soon as the call's last dialog terminates; the
// dialogs then linger `linger_ns` only to absorb the 200 to BYE, the ACK of a failure and
// retransmissions (forwarded as OnSipFrame evidence of the ended call, never a new call).
// Exception: a call with a REFER whose transfer INVITE may still come is delivered when its
// last dialog leaves the table (after linger_ns), so the transfer can still join it.
// Calls still open at Finish() end with state kActive and end_ns 0 (the capture ended first).
//
// Bounds: at most SipConfig.max_dialogs dialog sets (the least recently active one is
// evicted to make room, counted kEvicted, reported ended as timed_out) and
// SipConfig.max_transactions remembered transactions (beyond that retransmission
// detection of new transactions is skipped, counted kTransactionTableFull).
// Thread: one tracker per signalling thread; not thread-safe. Allocation: per new dialog
// and per SDP (control-rate), not per retransmission or in-dialog message without SDP.
// Implementation files: see dialog_state.h.
#ifndef CALLVAULT_APPLIANCE_CALLS_DIALOG_TRACKER_H_
#define CALLVAULT_APPLIANCE_CALLS_DIALOG_TRACKER_H_

#include <cstdint>
#include <list>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "appliance/calls/agent_directory.h"
#include "appliance/calls/call_event_sink.h"
#include "appliance/calls/calls_drop.h"
#include "appliance/calls/media_activity.h"
#include "appliance/calls/phone_number.h"
#include "appliance/common/counters.h"
#include "appliance/common/frame.h"
#include "appliance/common/net_types.h"
#include "appliance/config/config.h"
#include "appliance/sip/message.h"
#include "appliance/sip/sdp.h"

namespace callvault::calls {

// One SIP message as the tracker consumes it.
struct SipEvent {
  const sip::Message* message = nullptr;
  uint64_t ts_ns = 0;               // capture time (last segment for TCP)
  Endpoint src;                     // IP source address/port of the message
  Endpoint dst;
  std::span<const Frame> frames;    // the frames that carried it (may be empty)
};

struct TrackerOptions {
  SipConfig sip;                    // max_dialogs, max_transactions, idle_timeout_s, ...
  PhoneNormalizer phone;            // default region for ANI / dialled
  AgentSideRules agent_rules;
  const AgentDirectoryHandle* directory = nullptr;  // may be null (no directory)
  uint64_t early_timeout_ns = 180ull * 1000000000;  // unanswered INVITE (RFC 3261 Timer C)
  uint64_t linger_ns = 32ull * 1000000000;          // 64*T1: absorb trailing messages
  uint64_t auth_retry_ns = 32ull * 1000000000;      // wait for the retry after 401/407/422
  size_t e164_cache_entries = 4096;  // E.164 results cached (cleared when full); 0 = none

  // Builds options from the config (phone region, agent rules); errors name the key.
  [[nodiscard]] static absl::StatusOr<TrackerOptions> FromConfig(
      const Config& config, const AgentDirectoryHandle* directory);
};

class DialogTracker {
 public:
  DialogTracker(TrackerOptions options, CallEventSink* sink);
  ~DialogTracker();
  DialogTracker(const DialogTracker&) = delete;
  DialogTracker& operator=(const DialogTracker&) = delete;

  // Optional (may be null): where the tracker asks, when an answered dialog's idle or
  // session deadline passes, whether media kept it alive. Must outlive the tracker.
  void set_media_activity(MediaActivity* activity) { media_activity_ = activity; }

  void OnMessage(const SipEvent& event);
  // Runs timers up to `now_ns` (capture time): ends expired calls, drops lingering dialogs.
  void Advance(uint64_t now_ns);
  // End of input: delivers every pending and open call (see header comment).
  void Finish();

  const DropCounters<CallsDrop>& counters() const { return counters_; }
  size_t dialogs() const { return dialogs_by_call_id_.size(); }
  size_t calls() const { return open_calls_; }  // calls not yet delivered as ended
  size_t transactions() const { return transactions_; }
  uint64_t calls_started() const { return calls_started_; }
  uint64_t calls_ended() const { return calls_ended_; }
  uint64_t linger_ns() const { return opt_.linger_ns; }  // trailing frames may come this late

 private:
  struct Dialog;
  struct Call;
  struct MediaEvidence;
  using DialogList = std::list<Dialog>;

  // dialog_tracker.cc: message handlers, offer/answer, publication.
  void OnInvite(const SipEvent& e, const sip::Message& m);
  void PickUp(const SipEvent& e, const sip::Message& m);
  void OnRequestInDialog(const SipEvent& e, const sip::Message& m, Dialog& d);
  void OnResponse(const SipEvent& e, const sip::Message& m, Dialog& d);
  void OnInviteResponse(const SipEvent& e, const sip::Message& m, Dialog& d, int side);
  Dialog* NewDialog(const SipEvent& e, const sip::Message& m);
  void ApplySdp(Dialog& d, int side, const SipEvent& e, const sip::Message& m);
  void PublishMedia(Dialog& d, uint64_t ts_ns);
  void UpdateCall(Call& c);
  void ForwardFrames(Dialog& d, const SipEvent& e);
  void Touch(Dialog& d, uint64_t ts_ns);
  // call_linking.cc
  std::shared_ptr<Call> FindLinkedCall(const SipEvent& e, const sip::Message& m,
                                       CallsDrop* how);
  void RegisterCorrelation(const std::shared_ptr<Call>& call, const sip::Message& m);
  void IndexEndpoints(Dialog& d, const SipEvent& e, const SideMedia& s);
  void LateLinkByMedia(Dialog& d, const SipEvent& e, const SideMedia& s);
  void LateLinkByCorrelation(Dialog& d, const SipEvent& e, const sip::Message& m);
  void MergeCalls(std::shared_ptr<Call> a, std::shared_ptr<Call> b, uint64_t ts_ns);
  void UnindexCall(Call& c);
  static bool Usable(const std::shared_ptr<Call>& c);
  // call_record_builder.cc
  void StartCall(Dialog& d, const SipEvent& e, const sip::Message& m);
  void IdentifyAnswerer(Dialog& d, const SipEvent& e, const sip::Message& m);
  // ToE164 through a small cache: dialled numbers and extensions repeat from call to call
  // and libphonenumber costs ~10 us per lookup.
  std::optional<std::string> CachedE164(std::string_view uri);
  std::string NormalizeOrRaw(std::string_view uri);
  // dialog_transactions.cc
  bool Remember(Dialog& d, uint64_t key);                   // false = seen before
  bool RememberRequest(Dialog& d, const sip::Message& m);   // false = retransmission
  bool RememberResponse(Dialog& d, const sip::Message& m);  // false = retransmission
  // dialog_timers.cc
  void TerminateDialog(Dialog& d, uint64_t end_ns, CallState state, int code);
  void RemoveDialog(DialogList::iterator it);
  void DeliverEnd(Call& c);
  void EvictOne(uint64_t now_ns);
  uint64_t Deadline(const Dialog& d) const;
  bool MediaKeepsAlive(Dialog& d);  // asks media_activity_; true = deadline moved on
  void DetachDialog(Dialog& d);     // removes d from its call's dialog list

  TrackerOptions opt_;
  CallEventSink* sink_;
  DropCounters<CallsDrop> counters_;

  DialogList lru_;  // least recently active first
  std::unordered_map<std::string, DialogList::iterator> dialogs_by_call_id_;
  std::unordered_map<std::string, std::shared_ptr<Call>> calls_by_correlation_;
  struct EndpointOwner {
    std::weak_ptr<Call> call;
    IpAddress announcer;  // signalling source of the SDP that announced it
  };
  std::unordered_map<Endpoint, EndpointOwner, EndpointHash> calls_by_endpoint_;
  struct Referral {  // a REFER seen recently (RFC 3515 §2.4.1): who should call whom
    std::weak_ptr<Call> call;
    std::string target_user;    // Refer-To user
    std::string referrer_user;  // Referred-By user (else the REFER's From user)
    uint64_t expires_ns = 0;
  };
  std::vector<Referral> referrals_;
  MediaActivity* media_activity_ = nullptr;
  std::unordered_map<std::string, std::optional<std::string>> e164_cache_;
  size_t transactions_ = 0;
  uint64_t now_ns_ = 0;
  uint64_t last_scan_ns_ = 0;
  uint64_t calls_started_ = 0;
  uint64_t calls_ended_ = 0;
  size_t open_calls_ = 0;
};

}  // namespace callvault::calls

#endif  // CALLVAULT_APPLIANCE_CALLS_DIALOG_TRACKER_H_
