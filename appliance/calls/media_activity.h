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
// matched RTP/RTCP/other packet time), on the same thread as the tracker. On the DPDK path
// each worker runs its own EnginePipeline, and a call's SIP and RTP arrive on the same
// queue today (docs/ARCHITECTURE.md, threading), so the same same-thread answer holds. When
// signalling and media are split across lcores (the lock-free endpoint table), the media
// worker will store the session's last packet time with a relaxed atomic store into the
// published table entry and this call will read it (a stale value only delays expiry).
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
