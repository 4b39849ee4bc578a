// CommandService: every callvault command, run against an open Store, with role checks
// and auditing. The same code serves the daemon's control socket (online: the server
// passes the SO_PEERCRED principal) and the CLI's offline mode (the local uid).
//
// Input: a control request {"v":1,"cmd":..,"args":{..}} (appliance/control/protocol.h),
// re-validated here (cli/args/parse.h ValidateRequest), the caller's Principal, an
// optional descriptor (export writes into it; the service closes it), a progress callback.
// Output: a response {"v":1,"exit":N,"result":..,"error":".."}; exit codes per
// shared/cli.md (1 nothing found, 2 usage, 3 denied, 4 integrity, 5 unavailable).
// Audit: every command, allowed or denied, appends one AuditRecord (who, role, action,
// target call ids, result); search criteria are recorded as blind-index values
// (Store::BlindHex), never plaintext. If the audit append fails the command fails: no
// unaudited access (an export already written is truncated).
// Thread: Handle() may be called from one thread at a time (the control thread).
// Commands owned by other layers (ingest, retention, export encoders, capture status) are
// hooks; an unset hook answers "not available in this build" (exit 10).
#ifndef CALLVAULT_CLI_COMMANDS_SERVICE_H_
#define CALLVAULT_CLI_COMMANDS_SERVICE_H_

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "appliance/calls/phone_number.h"
#include "appliance/control/roles.h"
#include "appliance/control/server.h"
#include "storage/audit/audit_log.h"
#include "storage/store.h"

namespace callvault::cli {

struct IngestResult {
  nlohmann::json summary;          // counts, bytes, drops by reason, seconds
  std::vector<std::string> call_ids;  // calls written
};
using IngestFn = std::function<absl::StatusOr<IngestResult>(
    Store& store, const std::vector<std::string>& files, const control::ProgressFn& progress)>;

struct RetentionResult {
  nlohmann::json summary;             // counts, bytes, seconds
  std::vector<std::string> purged;    // call ids destroyed (or that would be, dry run)
};
using RetentionFn = std::function<absl::StatusOr<RetentionResult>(
    Store& store, bool dry_run, uint64_t now_ns, const control::ProgressFn& progress)>;

// Writes the call's audio ("wav") or frames ("pcap") into fd; returns a small summary.
using ExportFn = std::function<absl::StatusOr<nlohmann::json>(
    Store& store, CallId id, const std::string& format, int fd,
    const control::ProgressFn& progress)>;

// The daemon's capture state for `status` (source, rates, drops, active calls, alarms).
using CaptureStatusFn = std::function<nlohmann::json()>;
// The daemon's counters as Prometheus text for `metrics` (dpdk_app/daemon_state.h).
using CaptureMetricsFn = std::function<std::string()>;

struct ServiceOptions {
  Store* store = nullptr;               // required
  audit::AuditLog* audit = nullptr;     // required
  std::string mode = "offline";         // recorded in every audit record
  std::string region = "US";            // phone number default region
  bool mask_dtmf = true;                // MediaConfig.mask_dtmf
  uint64_t disk_floor_bytes = 1ull << 30;
  IngestFn ingest;
  RetentionFn retention;
  ExportFn export_call;
  CaptureStatusFn capture_status;
  CaptureMetricsFn capture_metrics;   // unset offline: `metrics` answers exit 5
};

class CommandService {
 public:
  [[nodiscard]] static absl::StatusOr<CommandService> Create(ServiceOptions options);

  nlohmann::json Handle(const control::Principal& who, const nlohmann::json& request, int fd,
                        const control::ProgressFn& progress);

  // Adapter for ControlServer.
  control::Handler AsHandler();

 private:
  struct Outcome {
    int exit = 0;
    nlohmann::json result;               // null = none
    std::string error;                   // one line when exit != 0
    std::vector<std::string> call_ids;   // audit targets
    nlohmann::json detail = nlohmann::json::object();  // audit detail
  };
  CommandService(ServiceOptions o, calls::PhoneNormalizer p)
      : opt_(std::move(o)), phone_(std::move(p)) {}

  Outcome Run(const std::string& cmd, const nlohmann::json& args, int fd,
              const control::ProgressFn& progress);
  Outcome Status();
  Outcome Metrics();
  Outcome Search(const nlohmann::json& args);
  Outcome Show(const nlohmann::json& args);
  Outcome Export(const nlohmann::json& args, int fd, const control::ProgressFn& progress);
  Outcome Hold(const nlohmann::json& args, const control::Principal& who);
  Outcome Retention(const nlohmann::json& args, const control::ProgressFn& progress);
  Outcome Ingest(const nlohmann::json& args, const control::ProgressFn& progress);
  Outcome Keys(const nlohmann::json& args);
  Outcome Audit(const nlohmann::json& args);
  Outcome Verify();

  ServiceOptions opt_;
  calls::PhoneNormalizer phone_;
  const control::Principal* who_ = nullptr;  // during Handle()
};

}  // namespace callvault::cli

#endif  // CALLVAULT_CLI_COMMANDS_SERVICE_H_
