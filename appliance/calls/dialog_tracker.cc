// DialogTracker: message dispatch — the INVITE transaction and dialog state machine
// (RFC 3261 §12-§17), offers and answers (RFC 3264) and their MediaSession publication.
//
// Input: SipEvents (dialog_tracker.h). Output: call events through the sink; terminations
// go to dialog_timers.cc, linking to call_linking.cc, record building to
// call_record_builder.cc, retransmission detection to dialog_transactions.cc.
// Thread: the tracker's. Allocation: per new dialog and per SDP.
#include "appliance/calls/dialog_tracker.h"

#include <algorithm>
#include <utility>

#include "appliance/calls/dialog_state.h"
#include "appliance/calls/sip_extract.h"
#include "appliance/common/call_id.h"
#include "appliance/common/time_util.h"

namespace callvault::calls {
namespace {

constexpr size_t kMaxReferrals = 1024;
constexpr uint64_t kReferralWindowNs = 64ull * kNsPerSec;

bool IsDialogMethod(sip::Method method) {
  switch (method) {
    case sip::Method::kInvite:
    case sip::Method::kAck:
    case sip::Method::kBye:
    case sip::Method::kCancel:
    case sip::Method::kPrack:
    case sip::Method::kUpdate:
    case sip::Method::kInfo:
    case sip::Method::kRefer:
      return true;
    default:
      return false;
  }
}

}  // namespace

DialogTracker::DialogTracker(TrackerOptions options, CallEventSink* sink)
    : opt_(std::move(options)), sink_(sink) {
  dialogs_by_call_id_.reserve(std::min<size_t>(opt_.sip.max_dialogs, 1u << 16));
}

DialogTracker::~DialogTracker() = default;

void DialogTracker::OnMessage(const SipEvent& e) {
  const sip::Message& m = *e.message;
  if (e.ts_ns > now_ns_) now_ns_ = e.ts_ns;
  std::string_view call_id = m.call_id();
  auto cseq = m.cseq();
  if (call_id.empty() || !cseq || !m.from()) {
    counters_.Inc(CallsDrop::kMissingHeaders);
    return;
  }
  auto it = dialogs_by_call_id_.find(std::string(call_id));
  Dialog* d = it == dialogs_by_call_id_.end() ? nullptr : &*it->second;

  if (m.is_request() && m.method() == sip::Method::kInvite && ToTag(m).empty()) {
    OnInvite(e, m);
  } else if (d == nullptr && m.is_request() &&
             (m.method() == sip::Method::kInvite || m.method() == sip::Method::kUpdate) &&
             !m.sdp().empty()) {
    PickUp(e, m);
  } else if (d == nullptr) {
    sip::Method method = m.is_request() ? m.method() : cseq->method;
    counters_.Inc(IsDialogMethod(method) ? CallsDrop::kUnknownDialog
                                         : CallsDrop::kNotCallRelated);
  } else if (m.is_request()) {
    OnRequestInDialog(e, m, *d);
  } else {
    OnResponse(e, m, *d);
  }
  Advance(e.ts_ns);
}

void DialogTracker::Touch(Dialog& d, uint64_t ts_ns) {
  if (ts_ns > d.last_activity_ns) d.last_activity_ns = ts_ns;
  lru_.splice(lru_.end(), lru_, d.self);
}

// Every frame of a tracked dialog is evidence of its call, also the trailing ones (200 to
// BYE, ACK, retransmissions) that arrive after the call's end was delivered.
void DialogTracker::ForwardFrames(Dialog& d, const SipEvent& e) {
  if (!d.call) return;
  for (const Frame& f : e.frames) sink_->OnSipFrame(d.call->rec.call_id, f);
}

void DialogTracker::OnInvite(const SipEvent& e, const sip::Message& m) {
  std::string call_id(m.call_id());
  auto it = dialogs_by_call_id_.find(call_id);
  if (it != dialogs_by_call_id_.end()) {
    Dialog& d = *it->second;
    if (!RememberRequest(d, m)) {
      counters_.Inc(CallsDrop::kRetransmission);
      Touch(d, e.ts_ns);
      ForwardFrames(d, e);
      return;
    }
    if (!d.terminated || d.auth_pending) {
      // Same dialog set: the retry after a 401/407 challenge (new CSeq, §22.2), or a copy
      // forked/forwarded by a proxy. Its SDP is the caller's offer again.
      uint32_t n = m.cseq()->number;
      if (n > d.invite_cseq) d.invite_cseq = n;
      d.auth_pending = false;
      Touch(d, e.ts_ns);
      ForwardFrames(d, e);
      ApplySdp(d, kSideA, e, m);
      return;
    }
    // A new INVITE reusing the Call-ID of a finished dialog set: a new call.
    RemoveDialog(it->second);
  }
  Dialog* d = NewDialog(e, m);
  if (d == nullptr) return;
  RememberRequest(*d, m);
  StartCall(*d, e, m);
  ForwardFrames(*d, e);
  ApplySdp(*d, kSideA, e, m);
}

void DialogTracker::PickUp(const SipEvent& e, const sip::Message& m) {
  // A call already established when we started listening (or whose INVITE was lost):
  // its first in-dialog offer (session refresh, hold...) opens it, answered "now". The
  // sender is taken as side A; ANI/dialled come from this request's From/To.
  Dialog* d = NewDialog(e, m);
  if (d == nullptr) return;
  counters_.Inc(CallsDrop::kPickedUpMidDialog);
  RememberRequest(*d, m);
  d->answered = true;
  d->answered_tag = std::string(ToTag(m));
  d->invite_cseq = 0;
  StartCall(*d, e, m);
  d->call->rec.answer_ns = e.ts_ns;
  UpdateCall(*d->call);
  ForwardFrames(*d, e);
  ApplySdp(*d, kSideA, e, m);
}

DialogTracker::Dialog* DialogTracker::NewDialog(const SipEvent& e, const sip::Message& m) {
  if (opt_.sip.max_dialogs == 0) {
    counters_.Inc(CallsDrop::kDialogTableFull);
    return nullptr;
  }
  while (dialogs_by_call_id_.size() >= opt_.sip.max_dialogs && !lru_.empty()) {
    EvictOne(e.ts_ns);
  }
  lru_.emplace_back();
  Dialog& d = lru_.back();
  d.self = std::prev(lru_.end());
  d.call_id = std::string(m.call_id());
  d.from_tag = std::string(FromTag(m));
  d.invite_cseq = m.cseq()->number;
  d.last_activity_ns = e.ts_ns;
  dialogs_by_call_id_.emplace(d.call_id, d.self);
  return &d;
}

void DialogTracker::ApplySdp(Dialog& d, int side, const SipEvent& e, const sip::Message& m) {
  std::string_view text = m.sdp();
  if (text.empty() || !d.call) return;
  sip::SessionDescription sdp;
  if (sip::ParseSdp(text, &sdp) != sip::SdpError::kOk) {
    counters_.Inc(CallsDrop::kBadSdp);
    return;
  }
  SideMedia& s = d.media.side[side];
  ToSideMedia(sdp, &s);
  s.signalling_ip = e.src.ip;
  s.sdp_ts_ns = e.ts_ns;
  // RFC 3264 §4: an SDP is an answer when the other side has an offer outstanding.
  if (d.pending_offer_side >= 0 && d.pending_offer_side != side) {
    d.media.answer_side = side;
    d.pending_offer_side = -1;
  } else {
    d.pending_offer_side = side;
  }
  // Before indexing (which makes d's call the owner of what it announces): does this
  // offer/answer show that d's call and another one are one call (call_linking.cc)?
  LateLinkByMedia(d, e, s);
  IndexEndpoints(d, e, s);
  PublishMedia(d, e.ts_ns);
}

void DialogTracker::PublishMedia(Dialog& d, uint64_t ts_ns) {
  Call& c = *d.call;
  ++d.media.version;
  d.media.ts_ns = ts_ns;
  sink_->OnMediaChanged(d.media);
  bool changed = false;
  std::string codec = d.media.NegotiatedCodec();
  if (!codec.empty() && (c.rec.codecs.empty() || c.rec.codecs.back() != codec)) {
    c.rec.codecs.push_back(codec);
    changed = true;
  }
  bool hold = d.media.OnHold();
  if (hold != c.rec.on_hold) {
    c.rec.on_hold = hold;
    changed = true;
  }
  if (changed) UpdateCall(c);
}

void DialogTracker::UpdateCall(Call& c) {
  if (!c.delivered) sink_->OnCallUpdated(c.rec);
}

void DialogTracker::OnRequestInDialog(const SipEvent& e, const sip::Message& m, Dialog& d) {
  if (!RememberRequest(d, m)) {
    counters_.Inc(CallsDrop::kRetransmission);
    Touch(d, e.ts_ns);
    ForwardFrames(d, e);
    return;
  }
  Touch(d, e.ts_ns);
  ForwardFrames(d, e);
  if (d.terminated) return;  // trailing ACK / retransmitted BYE via another hop ...
  int side = FromTag(m) == d.from_tag ? kSideA : kSideB;
  // Requests of another fork's dialog (after one 2xx won) do not change this call.
  std::string_view remote_tag = side == kSideA ? ToTag(m) : FromTag(m);
  if (d.answered && !remote_tag.empty() && remote_tag != d.answered_tag) return;
  if (auto se = m.session_expires(); se && se->seconds > 0) {
    d.session_expires_ns = uint64_t(se->seconds) * kNsPerSec;
  }
  LateLinkByCorrelation(d, e, m);
  switch (m.method()) {
    case sip::Method::kBye:
      TerminateDialog(d, e.ts_ns, d.answered ? CallState::kAnswered : CallState::kCancelled,
                      d.final_code);
      return;
    case sip::Method::kCancel:
      d.cancel_seen = true;  // the 487 (or a 2xx that crossed it) decides (§9.1)
      return;
    case sip::Method::kInfo: {
      auto dtmf = ParseInfoDtmf(m.content_type(), m.body());
      if (dtmf) {
        DtmfEvent ev;
        ev.digit = dtmf->digit;
        ev.duration_ms = dtmf->duration_ms;
        ev.offset_s = e.ts_ns > d.call->rec.start_ns
                          ? double(e.ts_ns - d.call->rec.start_ns) / 1e9 : 0.0;
        ev.source = "sip_info";
        d.call->rec.dtmf.push_back(std::move(ev));
        UpdateCall(*d.call);
      }
      break;
    }
    case sip::Method::kRefer: {
      Referral r;
      r.call = d.call;
      if (auto rt = m.refer_to()) r.target_user = std::string(rt->uri.user);
      if (auto rb = m.referred_by(); rb && !rb->uri.user.empty()) {
        r.referrer_user = std::string(rb->uri.user);
      } else {
        r.referrer_user = std::string(m.from()->uri.user);
      }
      r.expires_ns = e.ts_ns + kReferralWindowNs;
      if (!r.target_user.empty()) {
        d.call->refer_expires_ns = std::max(d.call->refer_expires_ns, r.expires_ns);
        if (referrals_.size() >= kMaxReferrals) referrals_.erase(referrals_.begin());
        referrals_.push_back(std::move(r));
      }
      break;
    }
    default:
      break;
  }
  // Offers/answers in re-INVITE, UPDATE (RFC 3311), PRACK (RFC 3262) and ACK (late answer).
  ApplySdp(d, side, e, m);
}

void DialogTracker::OnResponse(const SipEvent& e, const sip::Message& m, Dialog& d) {
  if (!RememberResponse(d, m)) {
    counters_.Inc(CallsDrop::kRetransmission);
    Touch(d, e.ts_ns);
    ForwardFrames(d, e);
    return;
  }
  Touch(d, e.ts_ns);
  ForwardFrames(d, e);
  if (d.terminated) return;
  // The response comes from the side the request was sent to.
  int side = FromTag(m) == d.from_tag ? kSideB : kSideA;
  if (auto se = m.session_expires(); se && se->seconds > 0 && m.status_code() < 300) {
    d.session_expires_ns = uint64_t(se->seconds) * kNsPerSec;
  }
  auto cseq = m.cseq();
  int code = m.status_code();
  if (cseq->method == sip::Method::kInvite) {
    OnInviteResponse(e, m, d, side);
    return;
  }
  if (!d.answered) {
    if (code >= 200 && code < 300) ApplySdp(d, side, e, m);  // PRACK/UPDATE answer
    return;
  }
  if (code >= 200 && code < 300) {
    ApplySdp(d, side, e, m);
  } else if ((code == 481 || code == 408) && cseq->method != sip::Method::kBye &&
             cseq->method != sip::Method::kCancel) {
    // RFC 3261 §12.2.1.2: the dialog no longer exists at the far end.
    TerminateDialog(d, e.ts_ns, CallState::kAnswered, d.final_code);
  }
}

void DialogTracker::OnInviteResponse(const SipEvent& e, const sip::Message& m, Dialog& d,
                                     int side) {
  int code = m.status_code();
  std::string_view tag = ToTag(m);
  Call& c = *d.call;
  if (d.answered) {
    if (code >= 200 && code < 300) {
      if (!tag.empty() && tag != d.answered_tag) {
        counters_.Inc(CallsDrop::kForkedAnswerIgnored);
        return;
      }
      ApplySdp(d, side, e, m);  // re-INVITE answer: hold, resume, codec switch
    } else if (code == 481 || code == 408) {
      TerminateDialog(d, e.ts_ns, CallState::kAnswered, d.final_code);
    }
    return;
  }
  if (code < 200) {
    if (code > 100 && !tag.empty()) {
      auto it = std::find_if(d.early.begin(), d.early.end(),
                             [&](const Dialog::Early& x) { return x.tag == tag; });
      if (it == d.early.end()) {
        d.early.push_back({std::string(tag), {}, false});
        it = std::prev(d.early.end());
      }
      if (!m.sdp().empty()) {
        ApplySdp(d, side, e, m);  // early media (RFC 3960)
        it->media = d.media.side[side];
        it->has_media = true;
      }
    }
    return;
  }
  if (code < 300) {
    d.answered = true;
    d.answered_tag = std::string(tag);
    d.final_code = code;
    d.auth_pending = false;
    if (c.rec.answer_ns == 0) {
      c.rec.answer_ns = e.ts_ns;
      c.rec.sip_code = code;
    }
    IdentifyAnswerer(d, e, m);
    if (!m.sdp().empty()) {
      ApplySdp(d, side, e, m);
    } else {
      for (const Dialog::Early& x : d.early) {
        if (x.tag == tag && x.has_media) {
          d.media.side[side] = x.media;  // the answered fork's early SDP stands (§13.2.2.4)
          d.media.answer_side = side;
          PublishMedia(d, e.ts_ns);
        }
      }
    }
    d.early.clear();
    d.early.shrink_to_fit();
    UpdateCall(*d.call);  // not `c`: ApplySdp may have merged d's call into another
    return;
  }
  // Before the answer every INVITE of the set is an initial one: a 2xx to any of them
  // answers (above), but only the newest one's failure ends the attempt (the older ones
  // were superseded by the retry, or CANCELled).
  if (m.cseq()->number < d.invite_cseq) return;
  d.final_code = code;
  if (code == 401 || code == 407 || code == 422) {
    // A challenge (RFC 3261 §22.2) or "Session Interval Too Small" (RFC 4028 §6): the
    // caller normally retries with a new CSeq in the same Call-ID.
    d.auth_pending = true;
    d.auth_fail_ns = e.ts_ns;
    return;
  }
  CallState state =
      (code == 487 || d.cancel_seen) ? CallState::kCancelled : CallState::kFailed;
  TerminateDialog(d, e.ts_ns, state, code);
}

}  // namespace callvault::calls
