// Status helpers shared by every layer.
//
// Contract: control-path functions return [[nodiscard]] absl::Status or
// absl::StatusOr<T>. Each hop adds context with Annotate() so that the message a user
// finally reads is a breadcrumb trail ("open segment 42: write: No space left on
// device"). Foreign errors (errno, rocksdb::Status, libsodium -1, libpcap errbuf, DPDK
// -errno) are converted once, at the boundary, with the helpers here. Only main()
// turns a Status into an exit code (see ExitCodeFor()).
//
// Abseil 20220623 in Debian 12 ships no status_macros.h: RETURN_IF_ERROR and
// ASSIGN_OR_RETURN are defined here.
#ifndef CALLVAULT_APPLIANCE_COMMON_STATUS_H_
#define CALLVAULT_APPLIANCE_COMMON_STATUS_H_

#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace callvault {

// Returns `status` with "context: " prepended to its message; OK stays OK.
[[nodiscard]] absl::Status Annotate(const absl::Status& status, std::string_view context);

// Converts an errno value into a Status whose message is "context: strerror(err)".
// ENOENT -> NotFound, EACCES/EPERM -> PermissionDenied, ENOSPC -> ResourceExhausted,
// EEXIST -> AlreadyExists, anything else -> Internal.
[[nodiscard]] absl::Status ErrnoToStatus(int err, std::string_view context);

// Marks a status as an integrity failure (tampered or corrupt data, wrong key).
// Integrity errors are DataLoss; the CLI maps them to exit code 4.
[[nodiscard]] absl::Status IntegrityError(std::string_view message);

// Process exit codes of the CLI contract (shared/cli.md).
enum class ExitCode : int {
  kOk = 0,
  kNotFound = 1,
  kUsage = 2,
  kDenied = 3,
  kIntegrity = 4,
  kUnavailable = 5,
  kInternal = 10,
};

// Maps a Status code onto the contract's exit codes: InvalidArgument/FailedPrecondition
// -> usage (2), NotFound -> 1, PermissionDenied -> 3, DataLoss -> 4, Unavailable -> 5.
ExitCode ExitCodeFor(const absl::Status& status);

}  // namespace callvault

#define CV_STATUS_CONCAT_INNER_(a, b) a##b
#define CV_STATUS_CONCAT_(a, b) CV_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status); returns it from the enclosing function if not OK.
#define RETURN_IF_ERROR(expr)                    \
  do {                                           \
    ::absl::Status cv_status_ = (expr);          \
    if (!cv_status_.ok()) return cv_status_;     \
  } while (0)

// ASSIGN_OR_RETURN(lhs, expr): evaluates `expr` (an absl::StatusOr<T>); on error returns
// its status, else moves the value into `lhs` (which may be a declaration).
#define ASSIGN_OR_RETURN(lhs, expr) \
  CV_ASSIGN_OR_RETURN_IMPL_(CV_STATUS_CONCAT_(cv_statusor_, __LINE__), lhs, expr)
#define CV_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return std::move(tmp).status();  \
  lhs = std::move(tmp).value()

#endif  // CALLVAULT_APPLIANCE_COMMON_STATUS_H_
