#include "cli/output/render.h"

#include <algorithm>

#include <fmt/format.h>

namespace callvault::cli {
namespace {

std::string S(const nlohmann::json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_number_float()) return fmt::format("{:.2f}", v.get<double>());
  return v.dump();
}

std::string Pairs(const nlohmann::json& obj, const std::string& indent = "") {
  std::string out;
  if (!obj.is_object()) return S(obj) + "\n";
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (it.value().is_object()) {
      out += fmt::format("{}{}:\n{}", indent, it.key(), Pairs(it.value(), indent + "  "));
    } else if (it.value().is_array() && !it.value().empty() && it.value()[0].is_object()) {
      out += fmt::format("{}{}:\n", indent, it.key());
      for (const auto& e : it.value()) out += Pairs(e, indent + "  - ");
    } else {
      out += fmt::format("{}{}: {}\n", indent, it.key(), S(it.value()));
    }
  }
  return out;
}

std::string Agent(const nlohmann::json& a) {
  if (!a.is_object()) return "-";
  std::string name = S(a.value("name", nlohmann::json()));
  std::string ext = S(a.value("extension", nlohmann::json()));
  if (ext == "-") return name;
  return fmt::format("{} ({})", name, ext);
}

std::string Legs(const nlohmann::json& call) {
  std::string out;
  std::vector<std::vector<std::string>> rows;
  for (const auto& l : call["legs"]) {
    rows.push_back({S(l["direction"]), S(l["src"]), S(l["dst"]), S(l["codec"]),
                    S(l["packets"]), S(l["lost"]), S(l["duplicates"]), S(l["jitter_ms"]),
                    S(l["encrypted_media"])});
  }
  if (!rows.empty()) {
    out += "legs:\n" + RenderTable({"DIRECTION", "SRC", "DST", "CODEC", "PACKETS", "LOST",
                                    "DUPS", "JITTER_MS", "ENCRYPTED"},
                                   rows);
  }
  rows.clear();
  for (const auto& d : call["dtmf"]) {
    rows.push_back({S(d["offset_s"]), S(d["digit"]), S(d["duration_ms"]), S(d["source"])});
  }
  if (!rows.empty()) {
    out += "dtmf:\n" + RenderTable({"OFFSET_S", "DIGIT", "DURATION_MS", "SOURCE"}, rows);
  }
  return out;
}

}  // namespace

std::string RenderTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> w(header.size());
  for (std::size_t i = 0; i < header.size(); ++i) w[i] = header[i].size();
  for (const auto& r : rows) {
    for (std::size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], r[i].size());
  }
  auto line = [&](const std::vector<std::string>& r) {
    std::string out;
    for (std::size_t i = 0; i < w.size(); ++i) {
      std::string cell = i < r.size() ? r[i] : "";
      out += i + 1 == w.size() ? cell : fmt::format("{:<{}}  ", cell, w[i]);
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::string out = line(header);
  for (const auto& r : rows) out += line(r);
  return out;
}

std::string RenderHuman(const std::string& cmd, const std::string& sub,
                        const nlohmann::json& result) {
  if (result.is_null()) return "";
  if (cmd == "metrics") return result.value("text", std::string());  // verbatim
  if (cmd == "search") {
    if (result.empty()) return "";
    std::vector<std::vector<std::string>> rows;
    for (const auto& c : result) {
      // A B2BUA leg absorbed into another call keeps its own record (evidence of its SIP
      // and media) but is not a call of its own: the table says where the call is.
      const nlohmann::json merged = c.value("merged_into", nlohmann::json());
      std::string state = merged.is_string() ? "merged:" + merged.get<std::string>() : S(c["state"]);
      rows.push_back({S(c["call_id"]), S(c["start"]), fmt::format("{:.1f}", c.value("duration_s", 0.0)),
                      state, S(c["ani"]), S(c["dialled"]), Agent(c["agent"]),
                      std::to_string(c["legs"].size()), S(c["held"])});
    }
    return RenderTable({"CALL_ID", "START", "DUR_S", "STATE", "ANI", "DIALLED", "AGENT",
                        "LEGS", "HELD"},
                       rows);
  }
  if (cmd == "show") {
    nlohmann::json head = result;
    head.erase("legs");
    head.erase("dtmf");
    head["agent"] = Agent(result["agent"]);
    std::string ids;
    for (const auto& s : result["sip_call_ids"]) ids += (ids.empty() ? "" : ", ") + S(s);
    head["sip_call_ids"] = ids;
    if (result.contains("codecs")) {
      std::string codecs;
      for (const auto& c : result["codecs"]) codecs += (codecs.empty() ? "" : ", ") + S(c);
      head["codecs"] = codecs.empty() ? nlohmann::json() : nlohmann::json(codecs);
    }
    return Pairs(head) + Legs(result);
  }
  if (cmd == "hold" && sub == "list") {
    std::vector<std::vector<std::string>> rows;
    for (const auto& h : result) {
      rows.push_back({S(h["call_id"]), S(h["case"]), S(h["who"]), S(h["when"]), S(h["reason"])});
    }
    return RenderTable({"CALL_ID", "CASE", "BY", "SINCE", "REASON"}, rows);
  }
  if (cmd == "hold") {
    std::string out;
    for (const auto& h : result) {
      out += fmt::format("{} {}\n", S(h["call_id"]), h["held"].get<bool>() ? "held" : "released");
    }
    return out;
  }
  if (cmd == "audit" && sub == "list") {
    std::vector<std::vector<std::string>> rows;
    for (const auto& r : result) {
      std::string ids;
      for (const auto& s : r["call_ids"]) ids += (ids.empty() ? "" : ",") + S(s);
      if (ids.size() > 40) ids = ids.substr(0, 37) + "...";
      rows.push_back({S(r["seq"]), S(r["time"]), fmt::format("{}({})", S(r["user"]), S(r["uid"])),
                      S(r["role"]), S(r["action"]), S(r["mode"]), S(r["result"]), ids});
    }
    return RenderTable({"SEQ", "TIME", "USER", "ROLE", "ACTION", "MODE", "RESULT", "CALLS"},
                       rows);
  }
  if (cmd == "audit" && sub == "verify") {
    if (result.value("ok", false)) {
      return fmt::format("audit log OK: {} records, chain and head verified\n", S(result["records"]));
    }
    return fmt::format("audit log BAD at record {}: {}\n", S(result["first_bad"]),
                       S(result["problem"]));
  }
  if (cmd == "verify") {
    std::string out = fmt::format(
        "store {}: {} calls, {} blocks ({} bytes), {} wrapped keys, {} index entries, {} "
        "segments\n",
        result.value("ok", false) ? "OK" : "BAD", S(result["calls"]), S(result["blocks"]),
        S(result["block_bytes"]), S(result["wrapped_keys"]), S(result["index_entries"]),
        S(result["segments"]));
    for (const auto& p : result["problems"]) out += "  problem: " + S(p) + "\n";
    return out;
  }
  if (cmd == "export") {
    std::string out = fmt::format("wrote {} of call {}\n",
                                  S(result.value("output", nlohmann::json("file"))),
                                  S(result["call_id"]));
    // One line per leg whose audio could not be produced (e.g. SRTP without keys).
    if (result.contains("warnings")) {
      for (const auto& w : result["warnings"]) out += "  warning: " + S(w) + "\n";
    }
    return out;
  }
  return Pairs(result);
}

}  // namespace callvault::cli
