#include "cli/commands/call_json.h"

#include "appliance/common/time_util.h"

namespace callvault::cli {
namespace {

nlohmann::json TimeOrNull(uint64_t ns) {
  return ns == 0 ? nlohmann::json() : nlohmann::json(FormatRfc3339Ms(ns));
}

nlohmann::json StringOrNull(const std::string& s) {
  return s.empty() ? nlohmann::json() : nlohmann::json(s);
}

}  // namespace

nlohmann::json CallSummaryJson(const CallSummary& call) {
  const CallRecord& r = call.record;
  nlohmann::json legs = nlohmann::json::array();
  for (const MediaLeg& l : r.legs) {
    legs.push_back({{"leg", l.leg},
                    {"direction", std::string(LegDirectionName(l.direction))},
                    {"src", l.src.ToString()},
                    {"dst", l.dst.ToString()},
                    {"codec", l.codec},
                    {"packets", l.packets},
                    {"lost", l.lost},
                    {"duplicates", l.duplicates},
                    {"jitter_ms", l.jitter_ms},
                    {"encrypted_media", l.encrypted_media}});
  }
  nlohmann::json dtmf = nlohmann::json::array();
  for (const DtmfEvent& d : r.dtmf) {
    dtmf.push_back({{"offset_s", d.offset_s},
                    {"digit", d.digit},
                    {"duration_ms", d.duration_ms},
                    {"source", d.source}});
  }
  return {{"call_id", r.call_id.ToString()},
          {"sip_call_ids", r.sip_call_ids},
          {"start", TimeOrNull(r.start_ns)},
          {"answer", TimeOrNull(r.answer_ns)},
          {"end", TimeOrNull(r.end_ns)},
          {"duration_s", r.duration_s()},
          {"state", std::string(CallStateName(r.state))},
          {"sip_code", r.sip_code},
          {"ani", StringOrNull(r.ani)},
          {"dialled", StringOrNull(r.dialled)},
          {"agent",
           {{"name", StringOrNull(r.agent.name)},
            {"extension", StringOrNull(r.agent.extension)},
            {"id", StringOrNull(r.agent.id)}}},
          {"held", call.held},
          // Codecs signalling negotiated (SDP answers), in order of first use; legs[].codec
          // is what media carried. Stored since record v2 (empty for v1 records).
          {"codecs", r.codecs},
          // A B2BUA leg recognised late is absorbed into the earlier call: its own record
          // ends at the merge and names the call that carries on (record v2).
          {"merged_into", r.merged_into.valid() ? nlohmann::json(r.merged_into.ToString())
                                                : nlohmann::json()},
          {"legs", std::move(legs)},
          {"dtmf", std::move(dtmf)}};
}

nlohmann::json HoldJson(const HoldInfo& h) {
  return {{"call_id", h.call_id.ToString()},
          {"case", h.case_id},
          {"reason", h.reason},
          {"who", h.who},
          {"when", TimeOrNull(h.when_ns)}};
}

nlohmann::json CallDetailJson(const CallSummary& call, const std::optional<HoldInfo>& hold) {
  nlohmann::json j = CallSummaryJson(call);
  j["media_on_hold"] = call.record.on_hold;
  j["stored_bytes"] = call.stored_bytes;
  j["blocks"] = call.blocks;
  j["hold"] = hold ? HoldJson(*hold) : nlohmann::json();
  return j;
}

}  // namespace callvault::cli
