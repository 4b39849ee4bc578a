// DialogTracker: call linking — which dialogs form one call.
//
// At dialog creation (FindLinkedCall): attended transfer (Replaces, RFC 3891 §3), blind
// transfer (Refer-To / Referred-By of a recent REFER, RFC 3515 §2.4.1, RFC 3892), a
// B2BUA's correlation header (SipConfig.correlation_headers: the value equals another
// call's value or SIP Call-ID), or an SDP endpoint another party already announced in an
// active call (B2BUA without media anchoring).
// After creation (late merge): a B2BUA that anchors media at first and re-INVITEs both
// legs to direct media later (Asterisk directmedia) reveals the link only then. Two
// started calls X and Y are merged when
//   - both are still active (no dialog set of theirs ended the call) and both answered;
//   - media evidence in BOTH directions within kLateLinkWindowNs: an offer/answer of X
//     announces, from another signalling address than the announcer, an endpoint first
//     announced in Y, and one of Y announces an endpoint of X. One direction is not enough:
//     a conference bridge or media server that announces the same IP:port in unrelated
//     calls shows up in one direction only. Hold SDP (sendonly/inactive, c=0.0.0.0) and
//     rejected streams are never evidence;
//   - or a later in-dialog request of an answered dialog carries a correlation header
//     naming the other call (explicit: one direction suffices).
// The earlier call (smaller start) survives; MergeCalls() moves the other's dialogs,
// SIP Call-IDs, codecs, DTMF and index entries to it and ends the absorbed call at once
// (state answered, end = merge time, merged_into = survivor).
//
// Indexes: calls_by_endpoint_ (RTP endpoint -> owning call + the signalling IP that first
// announced it) and calls_by_correlation_ (header value -> call), cleaned by UnindexCall()
// when a call's end is delivered. Thread: the tracker's. Allocation: per SDP / per link.
#include <algorithm>
#include <utility>

#include "appliance/calls/dialog_state.h"
#include "appliance/common/time_util.h"

namespace callvault::calls {
namespace {

constexpr uint64_t kLateLinkWindowNs = 32ull * kNsPerSec;  // both directions within 64*T1
constexpr size_t kMaxEvidence = 8;                          // per call

}  // namespace

// A call another dialog may still join: started, not ended.
bool DialogTracker::Usable(const std::shared_ptr<Call>& c) {
  return c && !c->delivered && !c->terminated;
}

std::shared_ptr<DialogTracker::Call> DialogTracker::FindLinkedCall(const SipEvent& e,
                                                                   const sip::Message& m,
                                                                   CallsDrop* how) {
  // Attended transfer: Replaces names a dialog we track (RFC 3891 §3).
  if (auto r = m.replaces()) {
    auto it = dialogs_by_call_id_.find(std::string(r->call_id));
    if (it != dialogs_by_call_id_.end() && it->second->call && !it->second->call->delivered) {
      *how = CallsDrop::kLinkedByTransfer;
      return it->second->call;
    }
  }
  // Blind transfer: the transferee calls the Refer-To target (RFC 3515 §2.4.1), naming
  // the transferor in Referred-By (RFC 3892).
  if (!referrals_.empty()) {
    std::string_view target = m.request_uri().user;
    auto rb = m.referred_by();
    for (const Referral& r : referrals_) {
      if (r.expires_ns < e.ts_ns || target.empty() || r.target_user != target) continue;
      if (rb && !rb->uri.user.empty() && rb->uri.user != r.referrer_user) continue;
      if (auto c = r.call.lock(); c && !c->delivered) {
        *how = CallsDrop::kLinkedByTransfer;
        return c;
      }
    }
  }
  // B2BUA: a correlation header whose value is another call's value or SIP Call-ID.
  for (const std::string& name : opt_.sip.correlation_headers) {
    std::string_view v = m.Value(name);
    if (v.empty()) continue;
    std::string key(v);
    if (auto it = calls_by_correlation_.find(key);
        it != calls_by_correlation_.end() && Usable(it->second)) {
      *how = CallsDrop::kLinkedByCorrelation;
      return it->second;
    }
    if (auto it = dialogs_by_call_id_.find(key);
        it != dialogs_by_call_id_.end() && Usable(it->second->call)) {
      *how = CallsDrop::kLinkedByCorrelation;
      return it->second->call;
    }
  }
  // B2BUA without media anchoring: the offer carries media endpoints that another party
  // already announced in an active call. The same announcer reusing its endpoint (a load
  // generator, a gateway's fixed port) is not a link.
  std::string_view sdp_text = m.sdp();
  if (!sdp_text.empty() && !calls_by_endpoint_.empty()) {
    sip::SessionDescription sdp;
    if (sip::ParseSdp(sdp_text, &sdp) == sip::SdpError::kOk) {
      for (const sip::MediaDescription& md : sdp.media) {
        if (md.port == 0 || md.rtp.ip.is_unspecified()) continue;
        auto it = calls_by_endpoint_.find(md.rtp);
        if (it == calls_by_endpoint_.end() || it->second.announcer == e.src.ip) continue;
        if (auto c = it->second.call.lock(); Usable(c)) {
          *how = CallsDrop::kLinkedByMedia;
          return c;
        }
      }
    }
  }
  return nullptr;
}

void DialogTracker::RegisterCorrelation(const std::shared_ptr<Call>& call,
                                        const sip::Message& m) {
  for (const std::string& name : opt_.sip.correlation_headers) {
    std::string_view v = m.Value(name);
    if (v.empty()) continue;
    std::string key(v);
    if (calls_by_correlation_.emplace(key, call).second) call->correlation_keys.push_back(key);
  }
}

void DialogTracker::IndexEndpoints(Dialog& d, const SipEvent& e, const SideMedia& s) {
  for (const MediaStream& st : s.streams) {
    if (st.rejected() || st.rtp.ip.is_unspecified()) continue;
    auto [it, inserted] = calls_by_endpoint_.try_emplace(st.rtp);
    if (inserted || it->second.call.lock() != d.call) {
      it->second.call = d.call;
      it->second.announcer = e.src.ip;
      d.call->endpoints.push_back(st.rtp);
    }  // else: the same call re-announces it; the first announcer stays the owner
  }
}

void DialogTracker::LateLinkByMedia(Dialog& d, const SipEvent& e, const SideMedia& s) {
  if (!Usable(d.call) || d.call->rec.answer_ns == 0 || calls_by_endpoint_.empty()) return;
  for (const MediaStream& st : s.streams) {
    // Hold (RFC 3264 §8.4: sendonly/inactive, or c=0.0.0.0) and rejected streams say
    // nothing about where the call's audio flows.
    if (st.rejected() || st.rtp.ip.is_unspecified() || st.on_hold()) continue;
    auto it = calls_by_endpoint_.find(st.rtp);
    if (it == calls_by_endpoint_.end() || it->second.announcer == e.src.ip) continue;
    std::shared_ptr<Call> other = it->second.call.lock();
    if (other == d.call || !Usable(other) || other->rec.answer_ns == 0) continue;
    // This direction: d's call now carries media `other`'s party announced.
    Call& c = *d.call;
    auto mine = std::find_if(c.evidence.begin(), c.evidence.end(), [&](const MediaEvidence& x) {
      return x.other.lock() == other;
    });
    if (mine != c.evidence.end()) {
      mine->ts_ns = e.ts_ns;
    } else {
      if (c.evidence.size() >= kMaxEvidence) c.evidence.erase(c.evidence.begin());
      c.evidence.push_back({other, e.ts_ns});
    }
    // The other direction, recently?
    for (const MediaEvidence& x : other->evidence) {
      if (x.other.lock() == d.call && x.ts_ns + kLateLinkWindowNs >= e.ts_ns) {
        counters_.Inc(CallsDrop::kLinkedByMedia);
        MergeCalls(d.call, other, e.ts_ns);
        return;
      }
    }
  }
}

void DialogTracker::LateLinkByCorrelation(Dialog& d, const SipEvent& e, const sip::Message& m) {
  if (opt_.sip.correlation_headers.empty() || !Usable(d.call) || !d.answered) return;
  for (const std::string& name : opt_.sip.correlation_headers) {
    std::string_view v = m.Value(name);
    if (v.empty()) continue;
    std::string key(v);
    std::shared_ptr<Call> other;
    if (auto it = calls_by_correlation_.find(key); it != calls_by_correlation_.end()) {
      other = it->second;
    } else if (auto dt = dialogs_by_call_id_.find(key); dt != dialogs_by_call_id_.end()) {
      other = dt->second->call;
    }
    if (other && other != d.call && Usable(other) && other->rec.answer_ns != 0) {
      counters_.Inc(CallsDrop::kLinkedByCorrelation);
      MergeCalls(d.call, other, e.ts_ns);
      return;
    }
    if (!other) RegisterCorrelation(d.call, m);
  }
}

void DialogTracker::MergeCalls(std::shared_ptr<Call> a, std::shared_ptr<Call> b,
                               uint64_t ts_ns) {
  // The earlier call survives: call ids stay sortable by start.
  if (b->rec.start_ns < a->rec.start_ns ||
      (b->rec.start_ns == a->rec.start_ns && b->rec.call_id < a->rec.call_id)) {
    std::swap(a, b);
  }
  Call& keep = *a;
  Call& gone = *b;
  counters_.Inc(CallsDrop::kMergedCalls);
  // Dialogs: media of an open dialog ends under the absorbed id and is republished as a
  // new dialog index of the survivor (leg numbers stay unique within a call).
  std::vector<Dialog*> moved = std::move(gone.dialogs);
  gone.dialogs.clear();
  for (Dialog* d : moved) {
    bool open = !d->terminated;
    if (open) {
      d->media.ended = true;
      ++d->media.version;
      d->media.ts_ns = ts_ns;
      sink_->OnMediaChanged(d->media);
      d->media.ended = false;
      ++keep.open_dialogs;
      --gone.open_dialogs;
    }
    d->call = a;
    d->media.call_id = keep.rec.call_id;
    d->media.dialog = keep.next_dialog++;
    ++keep.live_dialogs;
    --gone.live_dialogs;
    keep.dialogs.push_back(d);
    if (open && (d->media.side[kSideA].announced || d->media.side[kSideB].announced)) {
      PublishMedia(*d, ts_ns);
    }
  }
  // Record: the call as a whole.
  for (const std::string& id : gone.rec.sip_call_ids) keep.rec.sip_call_ids.push_back(id);
  if (gone.rec.answer_ns != 0 &&
      (keep.rec.answer_ns == 0 || gone.rec.answer_ns < keep.rec.answer_ns)) {
    keep.rec.answer_ns = gone.rec.answer_ns;
    keep.rec.sip_code = gone.rec.sip_code;
  }
  if (keep.rec.agent.name.empty() || (keep.rec.agent.id.empty() && !gone.rec.agent.id.empty())) {
    if (!gone.rec.agent.name.empty()) keep.rec.agent = gone.rec.agent;
  }
  for (const std::string& codec : gone.rec.codecs) {
    if (std::find(keep.rec.codecs.begin(), keep.rec.codecs.end(), codec) ==
        keep.rec.codecs.end()) {
      keep.rec.codecs.push_back(codec);
    }
  }
  double shift = double(gone.rec.start_ns - keep.rec.start_ns) / 1e9;
  for (DtmfEvent ev : gone.rec.dtmf) {
    ev.offset_s += shift;
    keep.rec.dtmf.push_back(std::move(ev));
  }
  std::stable_sort(keep.rec.dtmf.begin(), keep.rec.dtmf.end(),
                   [](const DtmfEvent& x, const DtmfEvent& y) { return x.offset_s < y.offset_s; });
  keep.any_answered = keep.any_answered || gone.any_answered;
  keep.clean_end = keep.clean_end || gone.clean_end;
  keep.refer_expires_ns = std::max(keep.refer_expires_ns, gone.refer_expires_ns);
  // Indexes follow the survivor.
  for (const std::string& k : gone.correlation_keys) {
    auto it = calls_by_correlation_.find(k);
    if (it != calls_by_correlation_.end() && it->second.get() == &gone) {
      it->second = a;
      keep.correlation_keys.push_back(k);
    }
  }
  for (const Endpoint& ep : gone.endpoints) {
    auto it = calls_by_endpoint_.find(ep);
    if (it != calls_by_endpoint_.end() && it->second.call.lock() == b) {
      it->second.call = a;
      keep.endpoints.push_back(ep);
    }
  }
  for (Referral& r : referrals_) {
    if (r.call.lock() == b) r.call = a;
  }
  std::erase_if(keep.evidence, [&](const MediaEvidence& x) { return x.other.lock() == b; });
  // The absorbed call ends now, pointing at the survivor.
  gone.rec.state = gone.rec.answer_ns != 0 ? CallState::kAnswered : CallState::kCancelled;
  gone.rec.end_ns = ts_ns;
  gone.rec.merged_into = keep.rec.call_id;
  gone.terminated = true;
  gone.open_dialogs = 0;
  gone.live_dialogs = 0;
  DeliverEnd(gone);
  UpdateCall(keep);
}

void DialogTracker::UnindexCall(Call& c) {
  for (const std::string& k : c.correlation_keys) {
    auto it = calls_by_correlation_.find(k);
    if (it != calls_by_correlation_.end() && it->second.get() == &c) {
      calls_by_correlation_.erase(it);
    }
  }
  for (const Endpoint& ep : c.endpoints) {
    auto it = calls_by_endpoint_.find(ep);
    if (it != calls_by_endpoint_.end()) {
      auto owner = it->second.call.lock();
      if (!owner || owner.get() == &c) calls_by_endpoint_.erase(it);
    }
  }
  c.evidence.clear();
}

}  // namespace callvault::calls
