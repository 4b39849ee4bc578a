#include "appliance/pipeline/remote_sessions.h"

namespace callvault {

void RemoteSessions::OnSession(unsigned owner, const calls::MediaSession& session) {
  Entry& e = entries_[{session.call_id.value, session.dialog}];
  e.owner = owner;
  e.ended_ns = session.ended ? (session.ts_ns == 0 ? 1 : session.ts_ns) : 0;
}

std::optional<unsigned> RemoteSessions::Owner(CallId call, uint16_t dialog) const {
  auto it = entries_.find(std::pair<uint64_t, uint16_t>{call.value, dialog});
  if (it == entries_.end()) return std::nullopt;
  return it->second.owner;
}

void RemoteSessions::Report(uint64_t now_ns, media::MediaEngine& media, unsigned workers,
                            std::vector<BusActivity>* per_owner) {
  per_owner->clear();
  per_owner->resize(workers);
  for (auto it = entries_.begin(); it != entries_.end();) {
    Entry& e = it->second;
    const CallId call{it->first.first};
    const uint64_t last = media.LastPacketNs(call, it->first.second);
    if (last > e.reported_ns && e.owner < workers) {
      (*per_owner)[e.owner].entries.push_back({call, it->first.second, last});
      e.reported_ns = last;
    }
    if (e.ended_ns != 0 && now_ns > e.ended_ns + keep_ns_) {
      entries_.erase(it++);  // absl: erasing does not move the other elements
    } else {
      ++it;
    }
  }
}

}  // namespace callvault
