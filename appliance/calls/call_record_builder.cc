// DialogTracker: who is who — builds a new call's record from its first INVITE (ANI,
// dialled number, agent), joins a dialog to a linked call (call_linking.cc), and
// re-decides the agent when the called party answers.
//
// Input: the INVITE (or mid-dialog pick-up request) that opens a dialog set; the 2xx that
// answers it. Output: CallRecord fields; OnCallStarted for a new call, OnCallUpdated for
// a linked one. ANI: P-Asserted-Identity (RFC 3325), then Remote-Party-ID, then From;
// dialled: To (as the caller dialled it), then the Request-URI; both E.164 through
// PhoneNormalizer (libphonenumber), cached (TrackerOptions::e164_cache_entries) because a
// lookup costs ~10 us. Agent: AgentSideRules over both parties (directory, extension
// patterns, agent networks). Thread: the tracker's. Allocation: per new call.
#include <utility>

#include "appliance/calls/dialog_state.h"
#include "appliance/calls/sip_extract.h"

namespace callvault::calls {

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
    // The transfer a REFER announced has come: its end no longer waits for it.
    if (how == CallsDrop::kLinkedByTransfer) linked->refer_expires_ns = 0;
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
  c.dialogs.push_back(&d);
  RegisterCorrelation(d.call, m);
  if (linked) UpdateCall(c);
}

void DialogTracker::IdentifyAnswerer(Dialog& d, const SipEvent& e, const sip::Message& m) {
  // Re-decide the agent with the answering party's identity (PAI, else Contact).
  // Also when the agent so far is only a guess (no directory entry): the answering
  // phone's identity is the best evidence of who took the call.
  Call& c = *d.call;
  if (d.media.agent_side >= 0 && !c.rec.agent.id.empty()) return;
  std::optional<sip::NameAddr> who = m.p_asserted_identity();
  if (!who || who->uri.user.empty()) who = m.contact();
  if (!who || who->uri.user.empty()) return;
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

}  // namespace callvault::calls
