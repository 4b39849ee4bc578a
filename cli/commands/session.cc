#include "cli/commands/session.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "appliance/common/status.h"

namespace callvault::cli {

absl::Status CheckKeyFileReadable(const std::string& path) {
  if (path.empty()) {
    return absl::InvalidArgumentError("no key file: give --key-file FILE or store.key_file");
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return absl::InvalidArgumentError(fmt::format("key file {}: not found", path));
    }
    if (errno == EACCES) {
      return absl::PermissionDeniedError(fmt::format(
          "access denied: cannot reach key file {} (offline use needs read access to the "
          "master key)",
          path));
    }
    return ErrnoToStatus(errno, fmt::format("key file {}", path));
  }
  if (::access(path.c_str(), R_OK) != 0) {
    return absl::PermissionDeniedError(fmt::format(
        "access denied: cannot read key file {} (offline use needs read access to the master "
        "key)",
        path));
  }
  return absl::OkStatus();
}

absl::Status CheckStoreNotHeld(const std::string& store_dir) {
  std::string lock = store_dir + "/index/LOCK";
  int fd = ::open(lock.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::OkStatus();
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  int rc = ::fcntl(fd, F_GETLK, &fl);
  ::close(fd);
  if (rc == 0 && fl.l_type != F_UNLCK) {
    return absl::UnavailableError(fmt::format(
        "store {} is held by a running daemon (pid {}); use --config to talk to it",
        store_dir, fl.l_pid));
  }
  return absl::OkStatus();
}

absl::StatusOr<LocalSession> OpenLocalSession(const StoreOptions& store_options,
                                              ServiceOptions base) {
  RETURN_IF_ERROR(CheckKeyFileReadable(store_options.config.key_file));
  RETURN_IF_ERROR(CheckStoreNotHeld(store_options.config.path));
  LocalSession s;
  ASSIGN_OR_RETURN(s.store, Store::Open(store_options));
  ASSIGN_OR_RETURN(auto key, s.store->DeriveSubkey(kAuditSubkeyId, "cvaudit1"));
  audit::AuditKey akey{};
  std::copy(key.begin(), key.end(), akey.begin());
  sodium_memzero(key.data(), key.size());
  auto log = audit::AuditLog::Open(store_options.config.path + "/audit", akey);
  sodium_memzero(akey.data(), akey.size());
  if (!log.ok()) return Annotate(log.status(), "open audit log");
  s.audit = std::make_unique<audit::AuditLog>(*std::move(log));
  base.store = s.store.get();
  base.audit = s.audit.get();
  ASSIGN_OR_RETURN(CommandService svc, CommandService::Create(std::move(base)));
  s.service = std::make_unique<CommandService>(std::move(svc));
  return s;
}

}  // namespace callvault::cli
