#include "cli/args/parse.h"

#include <charconv>
#include <string_view>

#include <fmt/format.h>

#include "appliance/common/call_id.h"
#include "appliance/common/status.h"
#include "appliance/common/time_util.h"

namespace callvault::cli {
namespace {

enum class VType { kBool, kString, kTime, kPhone, kUint, kState, kOutput };
enum class Pos { kNone, kCallIds, kFiles };

struct Flag {
  std::string_view name;  // without "--"
  VType type;
  std::string_view metavar;
  std::string_view help;
  bool required = false;
};

struct Sub {
  std::string_view name;  // "" = the command takes no sub-command
  std::string_view summary;
  Pos pos = Pos::kNone;
  int min_pos = 0;
  int max_pos = 0;  // -1 = unlimited
  std::vector<Flag> flags;
};

struct Command {
  std::string_view name;
  std::string_view role;
  std::vector<Sub> subs;
};

const Flag kJson{"json", VType::kBool, "", "print JSON for scripts instead of a table"};

const std::vector<Command>& Commands() {
  static const std::vector<Command> kCommands = {
      {"status", "reviewer",
       {{"", "capture source, rates, drops by reason, active calls, disk use, alarms",
         Pos::kNone, 0, 0, {kJson}}}},
      {"metrics", "reviewer",
       {{"", "the daemon's counters as Prometheus text (for a textfile collector or scraper)",
         Pos::kNone, 0, 0, {kJson}}}},
      {"ingest", "admin",
       {{"", "run capture files (pcap/pcapng) through the pipeline into the store",
         Pos::kFiles, 1, -1, {kJson}}}},
      {"search", "reviewer",
       {{"", "find calls; criteria combine with AND; newest first", Pos::kNone, 0, 0,
         {{"agent", VType::kString, "NAME", "agent name or extension"},
          {"ani", VType::kPhone, "NUMBER", "caller number, any common form"},
          {"dialled", VType::kPhone, "NUMBER", "dialled number, any common form"},
          {"from", VType::kTime, "T", "start at or after T (RFC 3339 or YYYY-MM-DD)"},
          {"to", VType::kTime, "T", "start before T"},
          {"state", VType::kState, "S",
           "answered|cancelled|failed|timed_out|active|orphan"},
          {"limit", VType::kUint, "N", "at most N calls (default 100, 0 = all)"},
          kJson}}}},
      {"show", "reviewer",
       {{"", "one call: metadata, legs, quality, DTMF events, hold status", Pos::kCallIds, 1,
         1, {kJson}}}},
      {"export", "reviewer",
       {{"", "decrypt, verify and write the call's audio (--wav) or original frames (--pcap)",
         Pos::kCallIds, 1, 1,
         {{"wav", VType::kOutput, "FILE", "write a WAV file, one channel per party"},
          {"pcap", VType::kOutput, "FILE", "write the original frames as a capture file"},
          kJson}}}},
      {"hold", "admin",
       {{"add", "put calls under legal hold", Pos::kCallIds, 1, -1,
         {{"case", VType::kString, "ID", "case or matter id", true},
          {"reason", VType::kString, "TEXT", "why the calls are held", true},
          kJson}},
        {"remove", "release calls from legal hold", Pos::kCallIds, 1, -1, {kJson}},
        {"list", "list held calls", Pos::kNone, 0, 0, {kJson}}}},
      {"retention", "admin",
       {{"run", "purge calls past the maximum age, except held ones", Pos::kNone, 0, 0,
         {{"dry-run", VType::kBool, "", "only report what would be purged"},
          {"now", VType::kTime, "T", "pretend the time is T"},
          kJson}}}},
      {"keys", "admin",
       {{"init", "create the master key file (--key-file, or store.key_file)", Pos::kNone, 0,
         0, {kJson}},
        {"rotate", "new master key; re-wrap every call key under it", Pos::kNone, 0, 0,
         {kJson}},
        {"status", "key ids and wrapped-key counts (never key material)", Pos::kNone, 0, 0,
         {kJson}}}},
      {"audit", "auditor",
       {{"list", "the access log", Pos::kNone, 0, 0,
         {{"from", VType::kTime, "T", "records at or after T"},
          {"to", VType::kTime, "T", "records before T"},
          kJson}},
        {"verify", "check the log's keyed hash chain; names the first bad record",
         Pos::kNone, 0, 0, {kJson}}}},
      {"verify", "admin",
       {{"", "check every sealed block and index entry of the store", Pos::kNone, 0, 0,
         {kJson}}}},
  };
  return kCommands;
}

const Command* FindCommand(std::string_view name) {
  for (const Command& c : Commands()) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

const Sub* FindSub(const Command& c, std::string_view name) {
  for (const Sub& s : c.subs) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::string ArgKey(std::string_view flag) {
  std::string k(flag);
  for (char& ch : k) {
    if (ch == '-') ch = '_';
  }
  return k;
}

absl::Status Usage(std::string msg) { return absl::InvalidArgumentError(std::move(msg)); }

bool IsState(std::string_view s) {
  return s == "answered" || s == "cancelled" || s == "failed" || s == "timed_out" ||
         s == "active" || s == "orphan";
}

std::string SubHelp(const Command& c, const Sub& s) {
  std::string head = fmt::format("callvault {}{}{}", c.name, s.name.empty() ? "" : " ", s.name);
  std::string pos;
  if (s.pos == Pos::kCallIds) pos = s.max_pos == 1 ? " CALL_ID" : " CALL_ID...";
  if (s.pos == Pos::kFiles) pos = " FILE...";
  std::string out = fmt::format("usage: {}{}", head, pos);
  std::string outputs;  // the --wav/--pcap alternatives: exactly one is required
  for (const Flag& f : s.flags) {
    std::string one = f.metavar.empty() ? fmt::format("--{}", f.name)
                                        : fmt::format("--{} {}", f.name, f.metavar);
    if (f.type == VType::kOutput) {
      outputs += (outputs.empty() ? "" : " | ") + one;
      continue;
    }
    out += f.required ? fmt::format(" {}", one) : fmt::format(" [{}]", one);
  }
  if (!outputs.empty()) {
    out.insert(out.find(pos) + pos.size(), fmt::format(" ({})", outputs));
  }
  out += fmt::format("\n  {} (role: {})\n", s.summary, c.role);
  for (const Flag& f : s.flags) {
    std::string one = f.metavar.empty() ? fmt::format("--{}", f.name)
                                        : fmt::format("--{} {}", f.name, f.metavar);
    out += fmt::format("  {:<18} {}\n", one, f.help);
  }
  return out;
}

std::string CommandHelp(const Command& c) {
  std::string out;
  for (const Sub& s : c.subs) out += SubHelp(c, s);
  return out;
}

// Converts one flag value into its argument JSON; errors name the flag and the value.
absl::StatusOr<nlohmann::json> ConvertValue(const Flag& f, const std::string& v,
                                            const calls::PhoneNormalizer& phone) {
  switch (f.type) {
    case VType::kBool:
      return nlohmann::json(true);
    case VType::kString:
    case VType::kOutput:
      if (v.empty()) return Usage(fmt::format("--{}: empty value", f.name));
      return nlohmann::json(v);
    case VType::kTime: {
      auto t = ParseTime(v);
      if (!t.ok()) return Annotate(t.status(), fmt::format("--{}", f.name));
      return nlohmann::json(*t);
    }
    case VType::kPhone: {
      auto e164 = phone.ToE164(v);
      if (!e164) return Usage(fmt::format("--{}: bad number '{}': not a phone number", f.name, v));
      return nlohmann::json(*e164);
    }
    case VType::kUint: {
      uint64_t n = 0;
      auto r = std::from_chars(v.data(), v.data() + v.size(), n);
      if (v.empty() || r.ec != std::errc() || r.ptr != v.data() + v.size() || n > 1000000) {
        return Usage(fmt::format("--{}: '{}' is not a number 0..1000000", f.name, v));
      }
      return nlohmann::json(n);
    }
    case VType::kState:
      if (!IsState(v)) {
        return Usage(fmt::format(
            "--{}: unknown state '{}' (answered|cancelled|failed|timed_out|active|orphan)",
            f.name, v));
      }
      return nlohmann::json(v);
  }
  return Usage("unreachable");
}

absl::Status CheckCallId(const std::string& s) {
  if (!CallId::Parse(s)) {
    return Usage(fmt::format("bad call id '{}': expected 16 hex digits", s));
  }
  return absl::OkStatus();
}

}  // namespace

std::string TopLevelHelp() {
  std::string out =
      "usage: callvault [--config FILE [--offline] | --store DIR --key-file FILE] COMMAND "
      "[ARGS] [--json]\n"
      "  --config FILE     talk to callvaultd over the control socket named in FILE\n"
      "  --offline         with --config: open the store named in FILE directly\n"
      "  --store DIR       open the store DIR directly (no daemon may hold it)\n"
      "  --key-file FILE   the master key file (must be readable by you)\n"
      "commands:\n";
  for (const Command& c : Commands()) {
    for (const Sub& s : c.subs) {
      std::string name = s.name.empty() ? std::string(c.name) : fmt::format("{} {}", c.name, s.name);
      out += fmt::format("  {:<17} {} (role: {})\n", name, s.summary, c.role);
    }
  }
  out += "Run 'callvault COMMAND --help' for a command's options.\n"
         "exit codes: 0 ok, 1 nothing found, 2 usage/config, 3 access denied, 4 integrity, "
         "5 daemon or store unavailable\n";
  return out;
}

absl::StatusOr<Invocation> ParseCommandLine(const std::vector<std::string>& argv,
                                            const calls::PhoneNormalizer& phone) {
  Invocation inv;
  std::vector<std::string> rest;
  // Pass 1: global options (accepted anywhere), help, version.
  for (std::size_t i = 1; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    auto take = [&](std::string* out) -> absl::Status {
      if (i + 1 >= argv.size()) return Usage(fmt::format("{}: missing value", a));
      *out = argv[++i];
      if (out->empty()) return Usage(fmt::format("{}: empty value", a));
      return absl::OkStatus();
    };
    if (a == "--config") {
      RETURN_IF_ERROR(take(&inv.global.config));
    } else if (a == "--store") {
      RETURN_IF_ERROR(take(&inv.global.store));
    } else if (a == "--key-file") {
      RETURN_IF_ERROR(take(&inv.global.key_file));
    } else if (a == "--offline") {
      inv.global.offline = true;
    } else if (a == "--help" || a == "-h") {
      inv.help = true;
    } else if (a == "--version") {
      inv.version = true;
    } else {
      rest.push_back(a);
    }
  }
  if (inv.version) return inv;
  if (rest.empty() || rest[0].starts_with("-")) {
    if (inv.help) {
      inv.help_text = TopLevelHelp();
      return inv;
    }
    if (!rest.empty()) return Usage(fmt::format("unknown option '{}' (see callvault --help)", rest[0]));
    return Usage("no command given (see callvault --help)");
  }
  const Command* cmd = FindCommand(rest[0]);
  if (cmd == nullptr) return Usage(fmt::format("unknown command '{}' (see callvault --help)", rest[0]));
  inv.cmd = std::string(cmd->name);
  std::size_t i = 1;
  const Sub* sub = FindSub(*cmd, "");
  if (sub == nullptr) {
    if (i >= rest.size() || rest[i].starts_with("-")) {
      if (inv.help) {
        inv.help_text = CommandHelp(*cmd);
        return inv;
      }
      std::string subs;
      for (const Sub& s : cmd->subs) subs += (subs.empty() ? "" : "|") + std::string(s.name);
      return Usage(fmt::format("{}: missing sub-command ({})", cmd->name, subs));
    }
    sub = FindSub(*cmd, rest[i]);
    if (sub == nullptr) {
      return Usage(fmt::format("{}: unknown sub-command '{}'", cmd->name, rest[i]));
    }
    inv.sub = std::string(sub->name);
    ++i;
  }
  if (inv.help) {
    inv.help_text = SubHelp(*cmd, *sub);
    return inv;
  }
  std::vector<std::string> positional;
  bool only_positional = false;
  for (; i < rest.size(); ++i) {
    const std::string& a = rest[i];
    if (only_positional || !a.starts_with("--")) {
      if (!only_positional && a.size() > 1 && a[0] == '-') {
        return Usage(fmt::format("{}: unknown option '{}'", cmd->name, a));
      }
      positional.push_back(a);
      continue;
    }
    if (a == "--") {
      only_positional = true;
      continue;
    }
    std::string name = a.substr(2), value;
    bool has_inline = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
      has_inline = true;
    }
    const Flag* flag = nullptr;
    for (const Flag& f : sub->flags) {
      if (f.name == name) flag = &f;
    }
    if (flag == nullptr) {
      return Usage(fmt::format("{}: unknown option '--{}' (see callvault {} --help)", cmd->name,
                               name, cmd->name));
    }
    if (flag->type != VType::kBool && !has_inline) {
      if (i + 1 >= rest.size()) return Usage(fmt::format("--{}: missing value", name));
      value = rest[++i];
    } else if (flag->type == VType::kBool && has_inline) {
      return Usage(fmt::format("--{} takes no value", name));
    }
    std::string key = ArgKey(flag->name);
    if (flag->type == VType::kBool && key == "json") {
      inv.json = true;
      continue;
    }
    if (inv.args.contains(key) || (flag->type == VType::kOutput && inv.args.contains("format"))) {
      return Usage(fmt::format("--{} given twice", name));
    }
    ASSIGN_OR_RETURN(nlohmann::json v, ConvertValue(*flag, value, phone));
    if (flag->type == VType::kOutput) {
      inv.output_file = value;
      inv.args["format"] = key;
      inv.args["output"] = value;
    } else {
      inv.args[key] = std::move(v);
    }
  }
  for (const Flag& f : sub->flags) {
    if (f.required && !inv.args.contains(ArgKey(f.name))) {
      return Usage(fmt::format("{}{}{}: --{} is required", cmd->name, inv.sub.empty() ? "" : " ",
                               inv.sub, f.name));
    }
  }
  if (inv.cmd == "export" && !inv.args.contains("format")) {
    return Usage("export: give --wav FILE or --pcap FILE");
  }
  int n = static_cast<int>(positional.size());
  const char* what = sub->pos == Pos::kFiles ? "FILE" : "CALL_ID";
  if (n < sub->min_pos) return Usage(fmt::format("{}: missing {}", cmd->name, what));
  if (sub->max_pos >= 0 && n > sub->max_pos) {
    return Usage(fmt::format("{}: unexpected argument '{}'", cmd->name,
                             positional[static_cast<std::size_t>(sub->max_pos)]));
  }
  if (sub->pos == Pos::kCallIds) {
    for (const std::string& p : positional) RETURN_IF_ERROR(CheckCallId(p));
    inv.args["call_ids"] = positional;
  } else if (sub->pos == Pos::kFiles) {
    inv.args["files"] = positional;
  }
  if (!inv.sub.empty()) inv.args["sub"] = inv.sub;
  return inv;
}

absl::Status ValidateRequest(nlohmann::json& request, const calls::PhoneNormalizer& phone) {
  if (!request.contains("cmd") || !request["cmd"].is_string()) return Usage("request: no cmd");
  const Command* cmd = FindCommand(request["cmd"].get<std::string>());
  if (cmd == nullptr) {
    return Usage(fmt::format("unknown command '{}'", request["cmd"].get<std::string>()));
  }
  if (!request.contains("args")) request["args"] = nlohmann::json::object();
  nlohmann::json& args = request["args"];
  if (!args.is_object()) return Usage("request: args must be an object");
  std::string sub_name = args.value("sub", std::string());
  const Sub* sub = FindSub(*cmd, sub_name);
  if (sub == nullptr) {
    return Usage(fmt::format("{}: unknown sub-command '{}'", cmd->name, sub_name));
  }
  for (auto it = args.begin(); it != args.end(); ++it) {
    const std::string& key = it.key();
    nlohmann::json& v = it.value();
    if (key == "sub") continue;
    if (key == "call_ids" && sub->pos == Pos::kCallIds) {
      if (!v.is_array()) return Usage("call_ids: must be an array");
      for (const auto& id : v) {
        if (!id.is_string()) return Usage("call_ids: must hold strings");
        RETURN_IF_ERROR(CheckCallId(id.get<std::string>()));
      }
      int n = static_cast<int>(v.size());
      if (n < sub->min_pos || (sub->max_pos >= 0 && n > sub->max_pos)) {
        return Usage(fmt::format("{}: wrong number of call ids", cmd->name));
      }
      continue;
    }
    if (key == "files" && sub->pos == Pos::kFiles) {
      if (!v.is_array() || v.empty()) return Usage("files: must be a non-empty array");
      for (const auto& f : v) {
        if (!f.is_string()) return Usage("files: must hold strings");
      }
      continue;
    }
    const Flag* flag = nullptr;
    for (const Flag& f : sub->flags) {
      if (ArgKey(f.name) == key && f.type != VType::kOutput) flag = &f;
      if ((key == "format" || key == "output") && f.type == VType::kOutput) flag = &f;
    }
    if (flag == nullptr) return Usage(fmt::format("{}: unknown argument '{}'", cmd->name, key));
    switch (flag->type) {
      case VType::kBool:
        if (!v.is_boolean()) return Usage(fmt::format("{}: must be true or false", key));
        break;
      case VType::kTime:
        if (!v.is_number_unsigned()) return Usage(fmt::format("{}: must be ns since the epoch", key));
        break;
      case VType::kUint:
        if (!v.is_number_unsigned() || v.get<uint64_t>() > 1000000) {
          return Usage(fmt::format("{}: must be a number 0..1000000", key));
        }
        break;
      case VType::kPhone: {
        auto e164 = v.is_string() ? phone.ToE164(v.get<std::string>()) : std::nullopt;
        if (!e164) return Usage(fmt::format("{}: bad number: not a phone number", key));
        v = *e164;
        break;
      }
      case VType::kState:
        if (!v.is_string() || !IsState(v.get<std::string>())) {
          return Usage(fmt::format("{}: unknown state", key));
        }
        break;
      case VType::kOutput:
        if (!v.is_string()) return Usage(fmt::format("{}: must be a string", key));
        if (key == "format" && v != "wav" && v != "pcap") return Usage("format: wav or pcap");
        break;
      case VType::kString:
        if (!v.is_string() || v.get<std::string>().empty()) {
          return Usage(fmt::format("{}: must be a non-empty string", key));
        }
        break;
    }
  }
  for (const Flag& f : sub->flags) {
    if (f.required && !args.contains(ArgKey(f.name))) {
      return Usage(fmt::format("{}: --{} is required", cmd->name, f.name));
    }
  }
  if (sub->min_pos > 0) {
    const char* key = sub->pos == Pos::kFiles ? "files" : "call_ids";
    if (!args.contains(key)) return Usage(fmt::format("{}: missing {}", cmd->name, key));
  }
  if (cmd->name == "export" && !args.contains("format")) return Usage("export: no format");
  return absl::OkStatus();
}

}  // namespace callvault::cli
