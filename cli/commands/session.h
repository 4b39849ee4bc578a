// LocalSession: a Store, its audit log and a CommandService opened in this process —
// the CLI's offline mode, and what callvaultd (or the e2e test daemon) serves over the
// control socket.
//
// Rules (docs/CONTROL.md "Offline use"): the caller must be able to read the master key
// file (missing -> exit 2, unreadable -> exit 3); a store whose RocksDB LOCK is held by
// another process (a running daemon) is refused with exit 5; the audit log lives in
// <store>/audit and is keyed with Store::DeriveSubkey(kAuditSubkeyId, "cvaudit1").
// Thread: open on the control thread; the service is then used by one thread at a time.
#ifndef CALLVAULT_CLI_COMMANDS_SESSION_H_
#define CALLVAULT_CLI_COMMANDS_SESSION_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "appliance/config/config.h"
#include "cli/commands/service.h"
#include "storage/audit/audit_log.h"
#include "storage/store.h"

namespace callvault::cli {

inline constexpr uint64_t kAuditSubkeyId = 0x41554449;  // "AUDI"

struct LocalSession {
  std::unique_ptr<Store> store;
  std::unique_ptr<audit::AuditLog> audit;
  std::unique_ptr<CommandService> service;
};

// OK when `path` exists and this process may read it; InvalidArgument (exit 2) when it is
// missing, PermissionDenied (exit 3) when it is not readable.
[[nodiscard]] absl::Status CheckKeyFileReadable(const std::string& path);

// Unavailable (exit 5) when another process holds <store>/index/LOCK (fcntl lock, as
// RocksDB takes it). OK when the store or the lock file does not exist.
[[nodiscard]] absl::Status CheckStoreNotHeld(const std::string& store_dir);

// Opens store + audit log + service. `base` supplies region, hooks and mode; its store
// and audit pointers are filled in.
[[nodiscard]] absl::StatusOr<LocalSession> OpenLocalSession(const StoreOptions& store_options,
                                                            ServiceOptions base);

}  // namespace callvault::cli

#endif  // CALLVAULT_CLI_COMMANDS_SESSION_H_
