// Control client: the CLI side of the control socket (protocol.h, docs/CONTROL.md).
//
// Input: the socket path from the config, a request, optionally a descriptor to pass
// (export output file). Output: the daemon's final response message; progress frames go
// to `on_progress`. Errors: no socket / connection refused -> Unavailable ("daemon not
// running", exit 5); EACCES -> PermissionDenied (exit 3); broken stream -> Unavailable.
// Thread: any; one call per connection.
#ifndef CALLVAULT_APPLIANCE_CONTROL_CLIENT_H_
#define CALLVAULT_APPLIANCE_CONTROL_CLIENT_H_

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"

namespace callvault::control {

using ProgressCallback = std::function<void(const nlohmann::json& progress)>;

[[nodiscard]] absl::StatusOr<nlohmann::json> CallDaemon(const std::string& socket_path,
                                                        const nlohmann::json& request,
                                                        int pass_fd = -1,
                                                        const ProgressCallback& on_progress = {});

}  // namespace callvault::control

#endif  // CALLVAULT_APPLIANCE_CONTROL_CLIENT_H_
