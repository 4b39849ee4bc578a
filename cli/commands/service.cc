#include "cli/commands/service.h"

#include <sys/statvfs.h>
#include <unistd.h>

#include <fmt/format.h>

#include "appliance/common/status.h"
#include "appliance/common/time_util.h"
#include "appliance/control/protocol.h"
#include "cli/args/parse.h"
#include "cli/commands/call_json.h"

namespace callvault::cli {
namespace {

int Exit(const absl::Status& s) { return static_cast<int>(ExitCodeFor(s)); }

std::optional<CallState> StateFromName(const std::string& s) {
  for (CallState c : {CallState::kActive, CallState::kAnswered, CallState::kCancelled,
                      CallState::kFailed, CallState::kTimedOut, CallState::kOrphan}) {
    if (CallStateName(c) == s) return c;
  }
  return std::nullopt;
}

bool AllDigits(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

std::vector<CallId> Ids(const nlohmann::json& args) {
  std::vector<CallId> out;
  for (const auto& s : args.value("call_ids", nlohmann::json::array())) {
    out.push_back(*CallId::Parse(s.get<std::string>()));
  }
  return out;
}

std::vector<std::string> IdStrings(const nlohmann::json& args) {
  return args.value("call_ids", std::vector<std::string>());
}

}  // namespace

absl::StatusOr<CommandService> CommandService::Create(ServiceOptions options) {
  if (options.store == nullptr || options.audit == nullptr) {
    return absl::InvalidArgumentError("command service: store and audit log are required");
  }
  ASSIGN_OR_RETURN(calls::PhoneNormalizer phone, calls::PhoneNormalizer::Create(options.region));
  return CommandService(std::move(options), std::move(phone));
}

control::Handler CommandService::AsHandler() {
  return [this](const control::Principal& who, const nlohmann::json& req, int fd,
                const control::ProgressFn& progress) { return Handle(who, req, fd, progress); };
}

nlohmann::json CommandService::Handle(const control::Principal& who,
                                      const nlohmann::json& request_in, int fd,
                                      const control::ProgressFn& progress) {
  nlohmann::json request = request_in;
  who_ = &who;
  audit::AuditRecord rec;
  rec.uid = who.uid;
  rec.user = who.user;
  rec.role = control::RolesName(who.roles);
  rec.mode = opt_.mode;
  std::string cmd = request.value("cmd", std::string());
  std::string sub;
  if (request.contains("args") && request["args"].is_object()) {
    sub = request["args"].value("sub", std::string());
  }
  rec.action = sub.empty() ? cmd : fmt::format("{}.{}", cmd, sub);
  Outcome out;
  if (absl::Status v = ValidateRequest(request, phone_); !v.ok()) {
    out.exit = Exit(v);
    out.error = std::string(v.message());
  } else if (!control::Allowed(who.roles, cmd)) {
    out.exit = static_cast<int>(ExitCode::kDenied);
    out.error = fmt::format("access denied: '{}' needs the {} role; user {} (uid {}) has {}",
                            rec.action, control::RequiredRoleName(cmd), who.user, who.uid,
                            who.roles == control::kRoleNone ? "no role" : rec.role);
    out.call_ids = IdStrings(request["args"]);
    rec.action = "denied:" + rec.action;
  } else {
    out = Run(cmd, request["args"], fd, progress);
    fd = -1;  // Run owns it
  }
  if (fd >= 0) ::close(fd);
  rec.call_ids = out.call_ids;
  rec.detail = out.detail;
  rec.result = out.exit == 0 ? "ok"
               : out.exit == 1 ? "not_found"
               : out.exit == 3 ? "denied"
                               : fmt::format("error {}: {}", out.exit, out.error);
  who_ = nullptr;
  if (absl::Status a = opt_.audit->Append(rec); !a.ok()) {
    std::string why = fmt::format("cannot write the audit log: {}", std::string(a.message()));
    if (cmd == "audit" || out.exit != 0) {
      // Nothing was disclosed (failed command), or the auditor must see the log's state.
      // "Nothing found" under a log we cannot extend (wrong key, tampered tail) is an
      // integrity failure first.
      int code = out.exit >= 2 ? out.exit : (Exit(a) == 0 ? 10 : Exit(a));
      nlohmann::json resp = control::MakeResponse(code, out.result);
      resp["error"] = code == out.exit
                          ? fmt::format("{}; also {}", out.error, why)
                          : fmt::format("{} (wrong key file, or the log was tampered with)", why);
      return resp;
    }
    // No unaudited access: the caller gets no data.
    return control::MakeError(Exit(a) == 0 ? 10 : Exit(a), "refused: " + why);
  }
  nlohmann::json resp = control::MakeResponse(out.exit, out.result);
  if (out.exit != 0) resp["error"] = out.error;
  return resp;
}

CommandService::Outcome CommandService::Run(const std::string& cmd, const nlohmann::json& args,
                                            int fd, const control::ProgressFn& progress) {
  if (cmd == "export") return Export(args, fd, progress);
  if (fd >= 0) ::close(fd);
  if (cmd == "status") return Status();
  if (cmd == "metrics") return Metrics();
  if (cmd == "search") return Search(args);
  if (cmd == "show") return Show(args);
  if (cmd == "hold") return Hold(args, *who_);
  if (cmd == "retention") return Retention(args, progress);
  if (cmd == "ingest") return Ingest(args, progress);
  if (cmd == "keys") return Keys(args);
  if (cmd == "audit") return Audit(args);
  if (cmd == "verify") return Verify();
  Outcome o;
  o.exit = 2;
  o.error = fmt::format("unknown command '{}'", cmd);
  return o;
}

namespace {
// Fills an outcome from a failed status.
template <typename O>
O Fail(O o, const absl::Status& s) {
  o.exit = Exit(s);
  o.error = std::string(s.message());
  return o;
}
}  // namespace

CommandService::Outcome CommandService::Status() {
  Outcome o;
  Store& st = *opt_.store;
  nlohmann::json j;
  j["mode"] = opt_.mode;
  j["store"] = st.config().path;
  nlohmann::json alarms = nlohmann::json::array();
  auto usage = st.DiskUsageByDay();
  if (!usage.ok()) return Fail(o, usage.status());
  uint64_t total = 0, dead = 0;
  nlohmann::json days = nlohmann::json::array();
  for (const DayUsage& d : *usage) {
    total += d.bytes;
    dead += d.dead_bytes;
    days.push_back({{"day", DayString(d.day)},
                    {"bytes", d.bytes},
                    {"dead_bytes", d.dead_bytes},
                    {"segments", d.segments}});
  }
  struct statvfs vfs;
  uint64_t free_bytes = 0;
  if (::statvfs(st.config().path.c_str(), &vfs) == 0) {
    free_bytes = uint64_t(vfs.f_bavail) * vfs.f_frsize;
    if (free_bytes < opt_.disk_floor_bytes) {
      alarms.push_back(fmt::format("disk: {} bytes free, below the floor of {}", free_bytes,
                                   opt_.disk_floor_bytes));
    }
  }
  j["disk"] = {{"used_bytes", total}, {"dead_bytes", dead}, {"free_bytes", free_bytes},
               {"days", days}};
  auto keys = st.GetKeyStatus();
  if (keys.ok()) j["keys"] = {{"current_kek_id", keys->current_kek_id}};
  if (opt_.capture_status) {
    j["capture"] = opt_.capture_status();
    if (j["capture"].contains("alarms")) {
      for (const auto& a : j["capture"]["alarms"]) alarms.push_back(a);
    }
  } else {
    j["capture"] = nullptr;  // offline: no capture running in this process
  }
  j["alarms"] = alarms;
  o.result = j;
  return o;
}

// {"format":"prometheus-text-0.0.4","text":"..."}: the same text callvaultd writes to
// its textfile-collector file. Only a running daemon has counters.
CommandService::Outcome CommandService::Metrics() {
  Outcome o;
  if (!opt_.capture_metrics) {
    o.exit = static_cast<int>(ExitCode::kUnavailable);
    o.error = "metrics: no capture runs in this process (offline); ask the daemon "
              "(callvault --config FILE metrics while callvaultd runs)";
    return o;
  }
  o.result = {{"format", "prometheus-text-0.0.4"}, {"text", opt_.capture_metrics()}};
  return o;
}

CommandService::Outcome CommandService::Search(const nlohmann::json& args) {
  Outcome o;
  Store& st = *opt_.store;
  SearchCriteria c;
  nlohmann::json& d = o.detail;
  if (args.contains("agent")) {
    std::string a = args["agent"].get<std::string>();
    if (AllDigits(a)) {
      c.agent_extension = a;
      d["extension_blind"] = st.BlindHex("extension", a);
    } else {
      c.agent = a;
      d["agent_blind"] = st.BlindHex("agent", a);
    }
  }
  if (args.contains("ani")) {
    c.ani = args["ani"].get<std::string>();
    d["ani_blind"] = st.BlindHex("ani", c.ani);
  }
  if (args.contains("dialled")) {
    c.dialled = args["dialled"].get<std::string>();
    d["dialled_blind"] = st.BlindHex("dialled", c.dialled);
  }
  if (args.contains("from")) c.from_ns = args["from"].get<uint64_t>();
  if (args.contains("to")) c.to_ns = args["to"].get<uint64_t>();
  if (args.contains("state")) c.state = StateFromName(args["state"].get<std::string>());
  if (args.contains("limit")) c.limit = args["limit"].get<uint32_t>();
  for (const char* k : {"from", "to", "state", "limit"}) {
    if (args.contains(k)) d[k] = args[k];
  }
  auto found = st.Search(c);
  if (!found.ok()) return Fail(o, found.status());
  o.result = nlohmann::json::array();
  for (const CallSummary& s : *found) {
    nlohmann::json j = CallSummaryJson(s);
    if (opt_.mask_dtmf) {
      for (auto& e : j["dtmf"]) e["digit"] = "x";
    }
    o.result.push_back(std::move(j));
    o.call_ids.push_back(s.record.call_id.ToString());
  }
  d["matches"] = found->size();
  if (found->empty()) {
    o.exit = 1;
    o.error = "no calls match";
  }
  return o;
}

CommandService::Outcome CommandService::Show(const nlohmann::json& args) {
  Outcome o;
  o.call_ids = IdStrings(args);
  CallId id = Ids(args)[0];
  auto call = opt_.store->GetCall(id);
  if (!call.ok()) {
    if (call.status().code() == absl::StatusCode::kNotFound) {
      o.exit = 1;
      o.error = fmt::format("call {} not found", id.ToString());
      return o;
    }
    return Fail(o, call.status());
  }
  std::optional<HoldInfo> hold;
  if (call->held) {
    auto holds = opt_.store->ListHolds();
    if (!holds.ok()) return Fail(o, holds.status());
    for (const HoldInfo& h : *holds) {
      if (h.call_id == id) hold = h;
    }
  }
  o.result = CallDetailJson(*call, hold);
  if (opt_.mask_dtmf) {
    for (auto& e : o.result["dtmf"]) e["digit"] = "x";
  }
  return o;
}

CommandService::Outcome CommandService::Export(const nlohmann::json& args, int fd,
                                               const control::ProgressFn& progress) {
  Outcome o;
  o.call_ids = IdStrings(args);
  CallId id = Ids(args)[0];
  std::string format = args["format"].get<std::string>();
  o.detail = {{"format", format}, {"output", args.value("output", std::string())}};
  auto fail = [&](absl::Status s) {
    if (fd >= 0) {
      if (::ftruncate(fd, 0) != 0) {
        // Nothing more to do: the error below is what the user sees.
      }
      ::close(fd);
    }
    return Fail(o, s);
  };
  if (fd < 0) return fail(absl::InvalidArgumentError("export: no output file descriptor"));
  auto call = opt_.store->GetCall(id);
  if (!call.ok()) {
    if (call.status().code() == absl::StatusCode::kNotFound) {
      Outcome nf = fail(call.status());
      nf.error = fmt::format("call {} not found", id.ToString());
      return nf;
    }
    return fail(call.status());
  }
  if (!opt_.export_call) {
    return fail(absl::UnimplementedError(
        fmt::format("export --{} is not available in this build", format)));
  }
  auto r = opt_.export_call(*opt_.store, id, format, fd, progress);
  if (!r.ok()) return fail(r.status());
  if (::fsync(fd) != 0 && errno != EINVAL && errno != EROFS) {
    return fail(ErrnoToStatus(errno, "export: fsync output"));
  }
  ::close(fd);
  o.result = *r;
  o.result["call_id"] = id.ToString();
  o.result["format"] = format;
  return o;
}

CommandService::Outcome CommandService::Hold(const nlohmann::json& args,
                                             const control::Principal& who) {
  Outcome o;
  std::string sub = args["sub"].get<std::string>();
  o.call_ids = IdStrings(args);
  Store& st = *opt_.store;
  if (sub == "list") {
    auto holds = st.ListHolds();
    if (!holds.ok()) return Fail(o, holds.status());
    o.result = nlohmann::json::array();
    for (const HoldInfo& h : *holds) {
      o.result.push_back(HoldJson(h));
      o.call_ids.push_back(h.call_id.ToString());
    }
    return o;
  }
  o.result = nlohmann::json::array();
  if (sub == "add") o.detail["case"] = args["case"];  // case ids are not PII; reasons may be
  for (CallId id : Ids(args)) {
    absl::Status s;
    if (sub == "add") {
      HoldInfo h{id, args["case"].get<std::string>(), args["reason"].get<std::string>(),
                 fmt::format("{} (uid {})", who.user, who.uid), NowNs()};
      s = st.AddHold(h);
    } else {
      s = st.RemoveHold(id);
    }
    if (!s.ok()) {
      if (s.code() == absl::StatusCode::kNotFound) {
        o.exit = 1;
        o.error = sub == "add" ? fmt::format("call {} not found", id.ToString())
                               : fmt::format("call {} is not held", id.ToString());
        return o;
      }
      return Fail(o, s);
    }
    o.result.push_back({{"call_id", id.ToString()}, {"held", sub == "add"}});
  }
  return o;
}

CommandService::Outcome CommandService::Retention(const nlohmann::json& args,
                                                  const control::ProgressFn& progress) {
  Outcome o;
  bool dry = args.value("dry_run", false);
  uint64_t now = args.contains("now") ? args["now"].get<uint64_t>() : NowNs();
  o.detail = {{"dry_run", dry}, {"now", FormatRfc3339Ms(now)}};
  if (!opt_.retention) {
    return Fail(o, absl::UnimplementedError("retention run is not available in this build"));
  }
  auto r = opt_.retention(*opt_.store, dry, now, progress);
  if (!r.ok()) return Fail(o, r.status());
  o.result = r->summary;
  o.call_ids = r->purged;
  o.detail["purged"] = r->purged.size();
  return o;
}

CommandService::Outcome CommandService::Ingest(const nlohmann::json& args,
                                               const control::ProgressFn& progress) {
  Outcome o;
  std::vector<std::string> files = args["files"].get<std::vector<std::string>>();
  o.detail = {{"files", files}};
  if (!opt_.ingest) {
    return Fail(o, absl::UnimplementedError("ingest is not available in this build"));
  }
  auto r = opt_.ingest(*opt_.store, files, progress);
  if (!r.ok()) return Fail(o, r.status());
  o.result = r->summary;
  o.call_ids = r->call_ids;
  return o;
}

CommandService::Outcome CommandService::Keys(const nlohmann::json& args) {
  Outcome o;
  std::string sub = args["sub"].get<std::string>();
  Store& st = *opt_.store;
  if (sub == "init") {
    return Fail(o, absl::FailedPreconditionError(
                       "keys init: the store already has a key; 'keys init' creates a new key "
                       "file offline (callvault --key-file FILE keys init)"));
  }
  if (sub == "rotate") {
    if (absl::Status s = st.RotateKeys(); !s.ok()) return Fail(o, s);
  }
  auto ks = st.GetKeyStatus();
  if (!ks.ok()) return Fail(o, ks.status());
  nlohmann::json wrapped = nlohmann::json::array();
  for (const auto& [id, n] : ks->wrapped_keys_by_kek) {
    wrapped.push_back({{"kek_id", id}, {"calls", n}});
  }
  o.result = {{"current_kek_id", ks->current_kek_id},
              {"keks_in_file", ks->keks_in_file},
              {"wrapped_keys", wrapped},
              {"block_format", ks->block_format},
              {"block_cipher", ks->block_cipher},
              {"sealer", ks->sealer}};
  o.detail = {{"current_kek_id", ks->current_kek_id}};
  return o;
}

CommandService::Outcome CommandService::Audit(const nlohmann::json& args) {
  Outcome o;
  std::string sub = args["sub"].get<std::string>();
  if (sub == "verify") {
    auto rep = opt_.audit->Verify();
    if (!rep.ok()) return Fail(o, rep.status());
    o.result = {{"ok", rep->ok},
                {"records", rep->records},
                {"head_count", rep->head_count},
                {"first_bad", rep->first_bad},
                {"problem", rep->problem}};
    if (!rep->ok) {
      o.exit = static_cast<int>(ExitCode::kIntegrity);
      o.error = fmt::format("audit log {}: {}", opt_.audit->log_path(), rep->problem);
    }
    return o;
  }
  uint64_t from = args.value("from", uint64_t{0});
  uint64_t to = args.value("to", uint64_t{0});
  auto recs = opt_.audit->List(from, to);
  if (!recs.ok()) return Fail(o, recs.status());
  o.result = nlohmann::json::array();
  for (const audit::AuditRecord& r : *recs) o.result.push_back(audit::RecordToJson(r));
  o.detail = {{"records", recs->size()}};
  return o;
}

CommandService::Outcome CommandService::Verify() {
  Outcome o;
  auto rep = opt_.store->Verify();
  if (!rep.ok()) return Fail(o, rep.status());
  o.result = {{"ok", rep->ok()},
              {"calls", rep->calls},
              {"blocks", rep->blocks},
              {"block_bytes", rep->block_bytes},
              {"wrapped_keys", rep->wrapped_keys},
              {"index_entries", rep->index_entries},
              {"segments", rep->segments},
              {"problems", rep->problems}};
  auto audit_rep = opt_.audit->Verify();
  if (audit_rep.ok()) {
    o.result["audit_ok"] = audit_rep->ok;
    if (!audit_rep->ok) o.result["problems"].push_back("audit log: " + audit_rep->problem);
  }
  if (!o.result["problems"].empty()) {
    o.exit = static_cast<int>(ExitCode::kIntegrity);
    o.error = fmt::format("store {}: {} problem(s), first: {}", opt_.store->config().path,
                          o.result["problems"].size(),
                          o.result["problems"][0].get<std::string>());
  }
  o.detail = {{"problems", o.result["problems"].size()}};
  return o;
}

}  // namespace callvault::cli
