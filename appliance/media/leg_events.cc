#include "appliance/media/leg_events.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace callvault::media {
namespace {

std::string EpString(const Endpoint& e) { return e.port ? e.ToString() : std::string(); }

bool ParseEp(const std::string& text, Endpoint* out) {
  if (text.empty()) return true;
  auto colon = text.rfind(':');
  if (colon == std::string::npos) return false;
  auto ip = IpAddress::Parse(std::string_view(text).substr(0, colon));
  if (!ip) return false;
  out->ip = *ip;
  out->port = uint16_t(std::stoul(text.substr(colon + 1)));
  return true;
}

}  // namespace

std::vector<uint8_t> EncodeLegSummary(const LegSummary& s) {
  nlohmann::json j;
  j["v"] = 1;
  j["leg"] = s.leg.leg;
  j["direction"] = std::string(LegDirectionName(s.leg.direction));
  j["direction_id"] = int(s.leg.direction);
  j["src"] = EpString(s.leg.src);
  j["dst"] = EpString(s.leg.dst);
  j["codec"] = s.leg.codec;
  j["packets"] = s.leg.packets;
  j["lost"] = s.leg.lost;
  j["duplicates"] = s.leg.duplicates;
  j["jitter_ms"] = s.leg.jitter_ms;
  j["encrypted_media"] = s.leg.encrypted_media;
  j["first_ns"] = s.first_ns;
  j["last_ns"] = s.last_ns;
  j["reordered"] = s.reordered;
  j["late"] = s.late;
  j["ssrc_changes"] = s.ssrc_changes;
  j["comfort_noise"] = s.comfort_noise;
  j["rtcp_packets"] = s.rtcp_packets;
  j["other_packets"] = s.other_packets;
  j["max_jitter_ms"] = s.max_jitter_ms;
  j["payload_types"] = s.payload_types;
  nlohmann::json names = nlohmann::json::object();
  for (const auto& [pt, name] : s.payload_names) names[std::to_string(pt)] = name;
  j["payload_names"] = names;
  nlohmann::json dtmf = nlohmann::json::array();
  for (const DtmfEvent& d : s.dtmf) {
    dtmf.push_back({{"offset_s", d.offset_s},
                    {"digit", d.digit},
                    {"duration_ms", d.duration_ms},
                    {"source", d.source}});
  }
  j["dtmf"] = dtmf;
  std::string text = j.dump();
  return std::vector<uint8_t>(text.begin(), text.end());
}

absl::StatusOr<LegSummary> DecodeLegSummary(std::span<const uint8_t> payload) {
  nlohmann::json j = nlohmann::json::parse(payload.begin(), payload.end(), nullptr,
                                           /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::DataLossError("leg summary: not a JSON object");
  }
  if (j.value("v", 0) != 1) {
    return absl::DataLossError(fmt::format("leg summary: unsupported version {}",
                                           j.value("v", 0)));
  }
  try {
    LegSummary s;
    s.leg.leg = j.at("leg").get<uint16_t>();
    int dir = j.at("direction_id").get<int>();
    if (dir < 0 || dir > 3) return absl::DataLossError("leg summary: bad direction");
    s.leg.direction = static_cast<LegDirection>(dir);
    if (!ParseEp(j.value("src", ""), &s.leg.src) || !ParseEp(j.value("dst", ""), &s.leg.dst)) {
      return absl::DataLossError("leg summary: bad endpoint");
    }
    s.leg.codec = j.value("codec", "");
    s.leg.packets = j.value("packets", uint64_t{0});
    s.leg.lost = j.value("lost", uint64_t{0});
    s.leg.duplicates = j.value("duplicates", uint64_t{0});
    s.leg.jitter_ms = j.value("jitter_ms", 0.0);
    s.leg.encrypted_media = j.value("encrypted_media", false);
    s.first_ns = j.value("first_ns", uint64_t{0});
    s.last_ns = j.value("last_ns", uint64_t{0});
    s.reordered = j.value("reordered", uint64_t{0});
    s.late = j.value("late", uint64_t{0});
    s.ssrc_changes = j.value("ssrc_changes", uint64_t{0});
    s.comfort_noise = j.value("comfort_noise", uint64_t{0});
    s.rtcp_packets = j.value("rtcp_packets", uint64_t{0});
    s.other_packets = j.value("other_packets", uint64_t{0});
    s.max_jitter_ms = j.value("max_jitter_ms", 0.0);
    s.payload_types = j.value("payload_types", std::vector<uint8_t>{});
    if (j.contains("payload_names")) {
      for (auto& [k, v] : j["payload_names"].items()) {
        s.payload_names.emplace_back(uint8_t(std::stoul(k)), v.get<std::string>());
      }
    }
    for (const auto& d : j.value("dtmf", nlohmann::json::array())) {
      s.dtmf.push_back(DtmfEvent{d.value("offset_s", 0.0), d.value("digit", ""),
                                 d.value("duration_ms", uint32_t{0}), d.value("source", "")});
    }
    return s;
  } catch (const std::exception& e) {
    return absl::DataLossError(fmt::format("leg summary: {}", e.what()));
  }
}

}  // namespace callvault::media
