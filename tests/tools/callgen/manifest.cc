#include "tests/tools/callgen/manifest.h"

#include <fstream>

#include "appliance/common/time_util.h"
#include "fmt/format.h"

namespace callvault::callgen {
namespace {

using json = nlohmann::ordered_json;

const char* CodecName(Codec c) { return c == Codec::kPcmu ? "PCMU" : "PCMA"; }

std::string Ep(const Host& h, uint16_t port) { return fmt::format("{}:{}", HostUriText(h), port); }

json Direction(const CallPlan& p, const CallResult& r, int d) {
  const StreamCounts& c = r.rtp[d];
  const bool from_caller = d == 0;
  json j = {
      {"src",
       Ep(from_caller ? p.caller_sig : p.agent_sig, from_caller ? p.caller_rtp : p.agent_rtp)},
      {"dst",
       Ep(from_caller ? p.agent_sig : p.caller_sig, from_caller ? p.agent_rtp : p.caller_rtp)},
      {"ssrc", p.ssrc[d]},
      {"first_seq", p.seq0[d]},
      {"first_timestamp", p.ts0[d]},
      {"tone_hz", p.tone_hz[d]},
      {"media_start", FormatRfc3339Ms(p.media_start_ns[d])},
      {"media_start_ns", p.media_start_ns[d]},
      {"media_end_ns", p.media_end_ns[d]},
      {"packets_before_loss", c.generated},
      {"packets_lost", c.lost},
      {"packets_duplicated", c.duplicated},
      {"packets_reordered", c.reordered},
      {"packets_written", c.written},
      {"dtmf_packets", c.dtmf_packets},
      {"rtcp_packets", r.rtcp[d]},
  };
  if (d == 0 && p.has_ssrc_change) {
    j["ssrc_change"] = {{"time", FormatRfc3339Ms(p.ssrc_change_ns)},
                        {"time_ns", p.ssrc_change_ns},
                        {"ssrc", p.ssrc2},
                        {"first_seq", p.seq2},
                        {"first_timestamp", p.ts2},
                        {"packets_before_loss", c.generated_after_change},
                        {"packets_lost", c.lost_after_change},
                        {"packets_written", c.written_after_change}};
  } else {
    j["ssrc_change"] = nullptr;
  }
  return j;
}

// The call state callvault's CLI contract (shared/cli.md) should report for the call.
const char* ExpectedState(Outcome o) {
  switch (o) {
    case Outcome::kAnswered:
      return "answered";
    case Outcome::kCancelled:
      return "cancelled";
    case Outcome::kBusy:
      return "failed";
    case Outcome::kNoBye:
      return "timed_out";
  }
  return "?";
}

int SipCode(Outcome o) {
  switch (o) {
    case Outcome::kCancelled:
      return 487;
    case Outcome::kBusy:
      return 486;
    default:
      return 200;
  }
}

}  // namespace

json BuildManifest(const Options& o, const std::vector<Agent>& agents,
                   const std::vector<CallPlan>& plans, const std::vector<CallResult>& results,
                   const PcapWriter& w) {
  json calls = json::array();
  uint64_t rtp_before = 0, rtp_written = 0, rtp_lost = 0, rtp_dup = 0, sip_frames = 0,
           sip_messages = 0, rtcp = 0;
  for (const CallPlan& p : plans) {
    const CallResult& r = results[static_cast<size_t>(p.index)];
    const Agent& a = agents[static_cast<size_t>(p.agent)];
    json codecs = json::array({CodecName(p.codec)});
    if (p.has_switch) codecs.push_back(CodecName(p.switch_codec));
    json dtmf = json::array();
    for (const DtmfDigit& d : p.dtmf) {
      dtmf.push_back(
          {{"digit", std::string(1, d.digit)},
           {"method", o.dtmf_info ? "sip_info" : "rfc4733"},
           {"event", d.event},
           {"time", FormatRfc3339Ms(d.time_ns)},
           {"time_ns", d.time_ns},
           {"offset_ms", (d.time_ns - p.start_ns) / 1'000'000},
           {"offset_from_answer_ms", (d.time_ns - p.answer_ns) / 1'000'000},
           {"rtp_timestamp", static_cast<uint32_t>(p.ts0[0] + d.first_slot * kFrameSamples)},
           {"duration_samples", 5 * kFrameSamples}});
    }
    json call = {
        {"index", p.index},
        {"sip_call_id", p.call_id},
        {"ani", p.ani},
        {"dialled", p.dialled},
        {"agent", {{"extension", a.extension}, {"name", a.name}, {"employee_id", a.employee_id}}},
        {"codec", CodecName(p.codec)},
        {"codecs", codecs},
        {"codec_switch", p.has_switch ? json(FormatRfc3339Ms(p.switch_ns)) : json(nullptr)},
        {"hold", p.has_hold ? json{{"start", FormatRfc3339Ms(p.hold_ns)},
                                   {"end", FormatRfc3339Ms(p.resume_ns)},
                                   {"start_ns", p.hold_ns},
                                   {"end_ns", p.resume_ns}}
                            : json(nullptr)},
        {"outcome", OutcomeName(p.outcome)},
        {"expected_state", ExpectedState(p.outcome)},
        {"sip_code", SipCode(p.outcome)},
        {"start", FormatRfc3339Ms(p.start_ns)},
        {"answer", p.answered() ? json(FormatRfc3339Ms(p.answer_ns)) : json(nullptr)},
        {"end", FormatRfc3339Ms(p.end_ns)},
        {"start_ns", p.start_ns},
        {"answer_ns", p.answered() ? json(p.answer_ns) : json(nullptr)},
        {"end_ns", p.end_ns},
        {"duration_s", p.answered() ? static_cast<double>(p.end_ns - p.answer_ns) / 1e9 : 0.0},
        {"bye_from", p.outcome != Outcome::kAnswered ? json(nullptr)
                                                     : json(p.bye_from_agent ? "agent" : "caller")},
        {"sip_transport", o.sip_tcp ? "tcp" : "udp"},
        {"caller",
         {{"sip", Ep(p.caller_sig, static_cast<uint16_t>(o.sip_port))},
          {"media", Ep(p.caller_sig, p.caller_rtp)},
          {"tone_hz", p.tone_hz[0]}}},
        {"agent_side",
         {{"sip", Ep(p.agent_sig, p.agent_sip_port)},
          {"media", Ep(p.agent_sig, p.agent_rtp)},
          {"nat", p.agent_nat},
          {"sdp_media", Ep(p.agent_sdp, p.agent_sdp_rtp)},
          {"tone_hz", p.tone_hz[1]}}},
        {"rtp", {{"caller_to_agent", Direction(p, r, 0)}, {"agent_to_caller", Direction(p, r, 1)}}},
        {"dtmf", dtmf},
        {"sip_messages", r.sip_messages},
        {"sip_frames", r.sip_frames},
    };
    calls.push_back(std::move(call));
    for (int d = 0; d < 2; ++d) {
      rtp_before += r.rtp[d].generated;
      rtp_written += r.rtp[d].written;
      rtp_lost += r.rtp[d].lost;
      rtp_dup += r.rtp[d].duplicated;
      rtcp += r.rtcp[d];
    }
    sip_frames += r.sip_frames;
    sip_messages += r.sip_messages;
  }
  json opts = {
      {"calls", o.calls},
      {"concurrency", o.concurrency},
      {"duration_s", {o.duration_min_s, o.duration_max_s}},
      {"ring_s", {o.ring_min_s, o.ring_max_s}},
      {"start", FormatRfc3339Ms(o.start_ns)},
      {"codec", o.codec == CodecChoice::kPcmu   ? "pcmu"
                : o.codec == CodecChoice::kPcma ? "pcma"
                                                : "mixed"},
      {"loss_pct", o.loss_pct},
      {"reorder_pct", o.reorder_pct},
      {"duplicate_pct", o.duplicate_pct},
      {"jitter_us", o.jitter_us},
      {"vlan", o.vlan},
      {"outer_vlan", o.outer_vlan},
      {"ipv6", o.ipv6},
      {"encap", o.encap},
      {"encap_id", o.encap_id},
      {"fragment_sip", o.fragment_sip},
      {"mtu", o.mtu},
      {"sip_tcp", o.sip_tcp},
      {"tcp_split", o.tcp_split},
      {"tcp_coalesce", o.tcp_coalesce},
      {"sip_port", o.sip_port},
      {"dtmf", o.dtmf},
      {"dtmf_info", o.dtmf_info},
      {"rtp_after_bye_ms", o.rtp_after_bye_ms},
      {"codec_switch_at_s", o.codec_switch_at_s},
      {"ssrc_change_at_s", o.ssrc_change_at_s},
      {"cancel_pct", o.cancel_pct},
      {"busy_pct", o.busy_pct},
      {"no_bye_pct", o.no_bye_pct},
      {"nat_pct", o.nat_pct},
      {"hold_at_s", o.hold_at_s},
      {"hold_for_s", o.hold_for_s},
      {"rtcp", o.rtcp},
  };
  return json{
      {"generator",
       {{"tool", "callgen"}, {"version", CALLVAULT_VERSION}, {"seed", o.seed}, {"options", opts}}},
      {"calls", calls},
      {"totals",
       {{"calls", plans.size()},
        {"frames", w.frames()},
        {"bytes", w.frame_bytes()},
        {"file_bytes", w.file_bytes()},
        {"sip_messages", sip_messages},
        {"sip_frames", sip_frames},
        {"rtp_packets_before_loss", rtp_before},
        {"rtp_packets_lost", rtp_lost},
        {"rtp_packets_duplicated", rtp_dup},
        {"rtp_packets_written", rtp_written},
        {"rtcp_packets", rtcp}}},
  };
}

absl::Status WriteJsonFile(const std::string& path, const nlohmann::ordered_json& j) {
  std::ofstream out(path, std::ios::trunc);
  if (!out) return absl::PermissionDeniedError(fmt::format("open {}: cannot write", path));
  out << j.dump(2) << '\n';
  out.close();
  if (!out) return absl::InternalError(fmt::format("write {}: failed", path));
  return absl::OkStatus();
}

}  // namespace callvault::callgen
