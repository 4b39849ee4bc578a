#include "appliance/calls/dialog_tracker.h"

#include <algorithm>
#include <utility>

#include "appliance/calls/sip_extract.h"
#include "appliance/common/call_id.h"
#include "appliance/common/time_util.h"

namespace callvault::calls {
namespace {

constexpr size_t kMaxKeysPerDialog = 32;     // remembered transactions per dialog set
constexpr size_t kMaxReferrals = 1024;
constexpr uint64_t kReferralWindowNs = 64ull * kNsPerSec;
constexpr uint64_t kSessionTimerGraceNs = 32ull * kNsPerSec;  // RFC 4028 §10 margin
constexpr uint64_t kScanIntervalNs = kNsPerSec;

uint64_t Mix(uint64_t h, std::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  h ^= 0xff;  // field separator
  return h * 0x100000001b3ull;
}
uint64_t Mix(uint64_t h, uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    h ^= (v >> (i * 8)) & 0xff;
    h *= 0x100000001b3ull;
  }
  return h;
}

std::string_view FromTag(const sip::Message& m) {
  auto f = m.from();
  return f ? f->tag : std::string_view();
}
std::string_view ToTag(const sip::Message& m) {
  auto t = m.to();
  return t ? t->tag : std::string_view();
}

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

struct DialogTracker::Call {
  CallRecord rec;
  int open_dialogs = 0;   // dialog sets not yet terminated
  int live_dialogs = 0;   // dialog sets still in the table (open or lingering)
  uint16_t next_dialog = 0;
  bool delivered = false;
  bool terminated = false;  // every dialog ended (lingering until delivery)
  bool any_answered = false;
  bool clean_end = false;   // an answered dialog ended by BYE
  bool open_at_finish = false;
  bool first_result_set = false;
  CallState first_state = CallState::kTimedOut;
  int first_code = 0;
  int agent_side_hint = -1;
  std::vector<std::string> correlation_keys;
  std::vector<Endpoint> endpoints;
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
  uint64_t last_activity_ns = 0;
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

absl::StatusOr<TrackerOptions> TrackerOptions::FromConfig(
    const Config& config, const AgentDirectoryHandle* directory) {
  auto phone = PhoneNormalizer::Create(config.agents.default_country);
  if (!phone.ok()) {
    return absl::InvalidArgumentError(
        "agents.default_country: " + std::string(phone.status().message()));
  }
  auto rules = AgentSideRules::Create(config.agents);
  if (!rules.ok()) return rules.status();
  TrackerOptions o{config.sip, *std::move(phone), *std::move(rules), directory};
  return o;
}

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

bool DialogTracker::Remember(Dialog& d, uint64_t key) {
  if (std::find(d.keys.begin(), d.keys.end(), key) != d.keys.end()) return false;
  if (d.keys.size() < kMaxKeysPerDialog) {
    if (transactions_ >= opt_.sip.max_transactions) {
      counters_.Inc(CallsDrop::kTransactionTableFull);
      return true;  // cannot remember it: treated as new
    }
    d.keys.push_back(key);
    ++transactions_;
  } else {
    d.keys[d.next_key++ % kMaxKeysPerDialog] = key;
  }
  return true;
}

bool DialogTracker::RememberRequest(Dialog& d, const sip::Message& m) {
  // Retransmissions and the copies a proxy forwards on its next hop share CSeq, method
  // and From-tag (RFC 3261 §8.1.1.5, §17.1.1.3); two different requests of one sender
  // never do (CSeq grows, §12.2.1.1).
  auto cseq = m.cseq();
  uint64_t k = Mix(Mix(0xcbf29ce484222325ull, 1), uint64_t(cseq->number));
  k = Mix(Mix(k, cseq->method_raw), FromTag(m));
  return Remember(d, k);
}

bool DialogTracker::RememberResponse(Dialog& d, const sip::Message& m) {
  // A response is repeated (retransmitted, or seen on both hops of a proxy) with the
  // same CSeq, status and tags.
  auto cseq = m.cseq();
  uint64_t k = Mix(Mix(0xcbf29ce484222325ull, 2), uint64_t(cseq->number));
  k = Mix(Mix(k, cseq->method_raw), uint64_t(m.status_code()));
  k = Mix(Mix(k, ToTag(m)), FromTag(m));
  return Remember(d, k);
}

void DialogTracker::Touch(Dialog& d, uint64_t ts_ns) {
  if (ts_ns > d.last_activity_ns) d.last_activity_ns = ts_ns;
  lru_.splice(lru_.end(), lru_, d.self);
}

void DialogTracker::ForwardFrames(Dialog& d, const SipEvent& e) {
  if (!d.call || d.call->delivered) return;
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

std::shared_ptr<DialogTracker::Call> DialogTracker::FindLinkedCall(const SipEvent& e,
                                                                   const sip::Message& m,
                                                                   CallsDrop* how) {
  auto usable = [](const std::shared_ptr<Call>& c) {
    return c && !c->delivered && !c->terminated;
  };
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
        it != calls_by_correlation_.end() && usable(it->second)) {
      *how = CallsDrop::kLinkedByCorrelation;
      return it->second;
    }
    if (auto it = dialogs_by_call_id_.find(key);
        it != dialogs_by_call_id_.end() && usable(it->second->call)) {
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
        if (auto c = it->second.call.lock(); usable(c)) {
          *how = CallsDrop::kLinkedByMedia;
          return c;
        }
      }
    }
  }
  return nullptr;
}

void DialogTracker::StartCall(Dialog& d, const SipEvent& e, const sip::Message& m) {
  // Who is who: side A sent the INVITE (From), side B is the callee (To / Request-URI).
  auto from = m.from();
  auto to = m.to();
  std::string_view b_user = to && !to->uri.user.empty() ? to->uri.user : m.request_uri().user;
  std::shared_ptr<const AgentDirectory> dir =
      opt_.directory ? opt_.directory->Get() : std::shared_ptr<const AgentDirectory>();
  // A PBX or ACD routes the call to the agent by rewriting the Request-URI (the To header
  // keeps the number the caller dialled): the Request-URI user names the agent when it is
  // in the directory or matches the extension patterns.
  std::string_view ruri_user = m.request_uri().user;
  if (!ruri_user.empty() && ruri_user != b_user &&
      ((dir && dir->Find(ruri_user) != nullptr) || opt_.agent_rules.MatchesPattern(ruri_user))) {
    b_user = ruri_user;
  }
  PartyId a{from->uri.user, from->display_name, e.src.ip};
  PartyId b{b_user, to ? to->display_name : std::string_view(), e.dst.ip};
  int agent = opt_.agent_rules.AgentParty(dir.get(), a, b);
  d.media.agent_side = agent;

  CallsDrop how = CallsDrop::kCount;
  std::shared_ptr<Call> linked = FindLinkedCall(e, m, &how);
  if (linked) {
    counters_.Inc(how);
    d.call = linked;
  }
  if (d.call) {
    Call& c = *d.call;
    c.rec.sip_call_ids.push_back(d.call_id);
    if (agent >= 0 && c.rec.agent.name.empty()) {
      c.rec.agent = AgentSideRules::Identify(dir.get(), agent == kSideA ? a : b);
    }
  } else {
    d.call = std::make_shared<Call>();
    Call& c = *d.call;
    c.rec.call_id = CallId::Make(e.ts_ns, d.call_id);
    c.rec.sip_call_ids.push_back(d.call_id);
    c.rec.start_ns = e.ts_ns;
    // ANI: P-Asserted-Identity (RFC 3325), then Remote-Party-ID, then From.
    std::string_view ani_uri;
    if (auto pai = m.p_asserted_identity(); pai && !pai->uri.user.empty()) {
      ani_uri = pai->uri.raw;
    } else if (auto rpid = m.remote_party_id(); rpid && !rpid->uri.user.empty()) {
      ani_uri = rpid->uri.raw;
    } else {
      ani_uri = from->uri.raw;
    }
    c.rec.ani = NormalizeOrRaw(ani_uri);
    // Dialled: the To user as the caller dialled it, else the Request-URI user.
    std::string_view to_uri = to ? to->uri.raw : std::string_view();
    if (auto n = CachedE164(to_uri)) {
      c.rec.dialled = *n;
    } else if (auto r = CachedE164(m.request_uri_raw())) {
      c.rec.dialled = *r;
    } else {
      c.rec.dialled = std::string(b_user);
    }
    if (agent >= 0) c.rec.agent = AgentSideRules::Identify(dir.get(), agent == kSideA ? a : b);
    ++calls_started_;
    ++open_calls_;
    sink_->OnCallStarted(c.rec);
  }
  Call& c = *d.call;
  d.media.call_id = c.rec.call_id;
  d.media.dialog = c.next_dialog++;
  ++c.open_dialogs;
  ++c.live_dialogs;
  for (const std::string& name : opt_.sip.correlation_headers) {
    std::string_view v = m.Value(name);
    if (v.empty()) continue;
    std::string key(v);
    if (calls_by_correlation_.emplace(key, d.call).second) c.correlation_keys.push_back(key);
  }
  if (linked) UpdateCall(c);
}

std::optional<std::string> DialogTracker::CachedE164(std::string_view uri) {
  std::string user(UriUserPart(uri));
  auto it = e164_cache_.find(user);
  if (it != e164_cache_.end()) return it->second;
  std::optional<std::string> n = opt_.phone.ToE164(user);
  if (opt_.e164_cache_entries == 0) return n;
  if (e164_cache_.size() >= opt_.e164_cache_entries) e164_cache_.clear();
  e164_cache_.emplace(std::move(user), n);
  return n;
}

std::string DialogTracker::NormalizeOrRaw(std::string_view uri) {
  if (auto n = CachedE164(uri)) return *std::move(n);
  return std::string(UriUserPart(uri));
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
  for (const MediaStream& st : s.streams) {
    if (st.rejected() || st.rtp.ip.is_unspecified()) continue;
    auto [it, inserted] = calls_by_endpoint_.try_emplace(st.rtp);
    if (inserted || it->second.call.lock() != d.call) {
      it->second.call = d.call;
      it->second.announcer = e.src.ip;
      d.call->endpoints.push_back(st.rtp);
    }  // else: the same call re-announces it; the first announcer stays the owner
  }
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
    // Re-decide the agent with the answering party's identity (PAI, else Contact).
    // Also when the agent so far is only a guess (no directory entry): the answering
    // phone's identity is the best evidence of who took the call.
    if (d.media.agent_side < 0 || c.rec.agent.id.empty()) {
      std::optional<sip::NameAddr> who = m.p_asserted_identity();
      if (!who || who->uri.user.empty()) who = m.contact();
      if (who && !who->uri.user.empty()) {
        std::shared_ptr<const AgentDirectory> dir =
            opt_.directory ? opt_.directory->Get() : std::shared_ptr<const AgentDirectory>();
        // Side A as at call start is not re-derivable from a response; use the recorded
        // caller user from the call's first view (ANI is normalised; use the raw side A
        // signalling address only).
        PartyId b{who->uri.user, who->display_name, e.src.ip};
        PartyId a{std::string_view(), std::string_view(), d.media.side[kSideA].signalling_ip};
        int agent = opt_.agent_rules.AgentParty(dir.get(), a, b);
        if (agent == kSideB) {
          d.media.agent_side = kSideB;
          AgentInfo answered = AgentSideRules::Identify(dir.get(), b);
          if (c.rec.agent.name.empty() || !answered.id.empty()) c.rec.agent = answered;
        }
      }
    }
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
    UpdateCall(c);
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
  }
}

void DialogTracker::RemoveDialog(DialogList::iterator it) {
  Dialog& d = *it;
  if (!d.terminated) TerminateDialog(d, d.last_activity_ns, CallState::kTimedOut, d.final_code);
  transactions_ -= std::min(transactions_, d.keys.size());
  dialogs_by_call_id_.erase(d.call_id);
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
  uint64_t idle = d.last_activity_ns + uint64_t(opt_.sip.idle_timeout_s) * kNsPerSec;
  if (d.session_expires_ns > 0) {
    idle = std::min(idle, d.last_activity_ns + d.session_expires_ns + kSessionTimerGraceNs);
  }
  return idle;
}

void DialogTracker::Advance(uint64_t now_ns) {
  if (now_ns > now_ns_) now_ns_ = now_ns;
  if (now_ns_ < last_scan_ns_ + kScanIntervalNs) return;
  last_scan_ns_ = now_ns_;
  for (auto it = lru_.begin(); it != lru_.end();) {
    auto next = std::next(it);
    Dialog& d = *it;
    if (Deadline(d) <= now_ns_) {
      if (d.auth_pending) {
        TerminateDialog(d, d.auth_fail_ns,
                        d.cancel_seen ? CallState::kCancelled : CallState::kFailed,
                        d.final_code);
      } else if (!d.terminated) {
        counters_.Inc(CallsDrop::kExpired);
        TerminateDialog(d, d.last_activity_ns,
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
