// MediaActivity: how DialogTracker learns that an answered call still has media, so that
// a call whose RTP flows without any SIP for longer than SipConfig.idle_timeout_s (or a
// Session-Expires interval) is not expired as timed out.
//
// Pull, at deadline time: when an answered dialog's idle/session deadline passes, the
// tracker asks LastMediaNs() once for that dialog; if media was seen since the last SIP
// message, the deadline moves to (last media + timeout) and the tracker asks again only
// when that passes. So the cost is one lookup per dialog per idle period — nothing on the
// per-packet path, no locks, no events from media to signalling.
//
// Implementations: EnginePipeline answers from its own MediaEngine (the session's last
// matched RTP/RTCP/other packet time), on the same thread as the tracker. When the
// workers of the DPDK engine share a MediaBus (appliance/pipeline/media_bus.h), a call's
// RTP may arrive on another worker than its SIP: every non-owning worker reports, about
// once per second of capture time, the last packet time of each of the owner's sessions
// that got packets there since its previous report, and the owner answers with
// max(its own media, the latest report). A report is at most ~1 s of capture time old:
// with any idle timeout above that, a stale answer only moves the next check earlier and
// the report that follows carries the newer time, so a call with media is not expired.
// Thread: called on the tracker's thread, synchronously from Advance()/Finish().
#ifndef CALLVAULT_APPLIANCE_CALLS_MEDIA_ACTIVITY_H_
#define CALLVAULT_APPLIANCE_CALLS_MEDIA_ACTIVITY_H_

#include <cstdint>

#include "appliance/common/call_id.h"

namespace callvault::calls {

class MediaActivity {
 public:
  virtual ~MediaActivity() = default;
  // Capture time (ns) of the last media packet matched to dialog `dialog` of `call`
  // (MediaSession::call_id / dialog), 0 if none or unknown.
  virtual uint64_t LastMediaNs(CallId call, uint16_t dialog) = 0;
};

}  // namespace callvault::calls

#endif  // CALLVAULT_APPLIANCE_CALLS_MEDIA_ACTIVITY_H_
