// RemoteSessions: the sessions one worker replicates for the calls other workers own —
// (call, dialog) -> owning worker — and the media activity it reports to those owners
// (MediaBus, media_bus.h).
//
// Input: every BusSession a worker receives (OnSession), the worker's MediaEngine when a
// report is due (Report). Output: the owner of a (call, dialog), so that a leg closing
// here reaches its call's owner; per owner, the last packet time of each of its sessions
// that got packets here since the previous report. An entry lives until `keep_ns` of
// capture time after its session's ended publication (the legs close grace_ms after it),
// or until Clear() (the last finish step). Memory: one hash entry (~32 B) per remote
// session. Cost: Report() looks up every entry once (one MediaEngine::LastPacketNs each):
// the pipeline calls it about once per second of capture time, never per packet.
// Thread: the owning worker's only; not thread-safe.
#ifndef CALLVAULT_APPLIANCE_PIPELINE_REMOTE_SESSIONS_H_
#define CALLVAULT_APPLIANCE_PIPELINE_REMOTE_SESSIONS_H_

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "appliance/calls/media_session.h"
#include "appliance/media/media_engine.h"
#include "appliance/pipeline/media_bus.h"

namespace callvault {

class RemoteSessions {
 public:
  explicit RemoteSessions(uint64_t keep_ns) : keep_ns_(keep_ns) {}

  // A session published by worker `owner` (re-publications update the entry).
  void OnSession(unsigned owner, const calls::MediaSession& session);
  // The worker that owns (call, dialog), if this worker replicates it.
  std::optional<unsigned> Owner(CallId call, uint16_t dialog) const;
  // Fills (*per_owner)[w] with the activity to report to worker w (resized to `workers`,
  // empty entries = nothing to send) and forgets sessions ended more than keep_ns ago.
  void Report(uint64_t now_ns, media::MediaEngine& media, unsigned workers,
              std::vector<BusActivity>* per_owner);
  void Clear() { entries_.clear(); }
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    unsigned owner = 0;
    uint64_t reported_ns = 0;  // last packet time already reported
    uint64_t ended_ns = 0;     // capture time of the ended publication, 0 = live
  };

  uint64_t keep_ns_;
  absl::flat_hash_map<std::pair<uint64_t, uint16_t>, Entry> entries_;  // (call, dialog)
};

}  // namespace callvault

#endif  // CALLVAULT_APPLIANCE_PIPELINE_REMOTE_SESSIONS_H_
