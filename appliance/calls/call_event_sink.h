// CallEventSink: the narrow interface through which DialogTracker reports calls.
//
// Producer: DialogTracker, on the signalling thread, synchronously while it consumes a
// SIP message or runs Advance()/Finish(). Consumers: media (MediaSession endpoints),
// storage (call records, the SIP frames of each call as evidence), the CLI's ingest/demo.
// Order for one call: OnCallStarted, then any number of OnMediaChanged / OnCallUpdated /
// OnSipFrame, then exactly one OnCallEnded. Every OnSipFrame of a call comes after its
// OnCallStarted; the frame of the message that ends the call is delivered before
// OnCallEnded. OnCallEnded comes as soon as the call's last dialog terminates (BYE, final
// failure, timeout), so trailing messages — the 200 to the BYE, the ACK of a failure,
// retransmissions — may still follow it as OnSipFrame for up to TrackerOptions::linger_ns
// (evidence of the same call; never a new call). No OnCallUpdated follows OnCallEnded.
// Merged calls: when two started calls turn out to be one (dialog_tracker.h, late merge),
// the later one gets OnCallEnded at once with CallRecord::merged_into = the surviving id,
// its open dialogs get an `ended` MediaSession under its id and are republished under the
// survivor's id with new dialog indexes, and the survivor gets OnCallUpdated (SIP Call-IDs
// of both).
// Ownership: every argument is valid only during the call; the sink copies what it keeps
// (Frame bytes in particular: see appliance/common/frame.h). Implementations must not call
// back into the tracker.
#ifndef CALLVAULT_APPLIANCE_CALLS_CALL_EVENT_SINK_H_
#define CALLVAULT_APPLIANCE_CALLS_CALL_EVENT_SINK_H_

#include "appliance/calls/media_session.h"
#include "appliance/common/call_id.h"
#include "appliance/common/call_record.h"
#include "appliance/common/frame.h"

namespace callvault::calls {

class CallEventSink {
 public:
  virtual ~CallEventSink() = default;
  // A new call: its first INVITE was seen (record has id, start, SIP Call-ID, ANI,
  // dialled, agent as far as known; state kActive).
  virtual void OnCallStarted(const CallRecord& call) = 0;
  // Metadata changed: answered, agent identified, hold/resume, DTMF (SIP INFO), another
  // dialog linked (B2BUA, REFER), codec.
  virtual void OnCallUpdated(const CallRecord& call) = 0;
  // A dialog of the call announced new media (see media_session.h).
  virtual void OnMediaChanged(const MediaSession& session) = 0;
  // A frame carrying SIP of this call (every frame of the message: TCP segments, the
  // first IP fragment's frame...). Retransmissions are delivered too: they are evidence.
  virtual void OnSipFrame(CallId call, const Frame& frame) = 0;
  // Final state: answered / cancelled / failed / timed_out, end time, SIP code.
  virtual void OnCallEnded(const CallRecord& call) = 0;
};

}  // namespace callvault::calls

#endif  // CALLVAULT_APPLIANCE_CALLS_CALL_EVENT_SINK_H_
