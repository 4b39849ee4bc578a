// ControlServer: the daemon side of the control socket (docs/CONTROL.md).
//
// Input: connections on a Unix-domain stream socket at ControlConfig.socket, created with
// mode 0660 and group ControlConfig.group. For each connection: the peer's uid/gid from
// SO_PEERCRED (the kernel's word, not the client's), mapped to a Principal by the RoleMap;
// one request frame (optionally with a file descriptor); the Handler's progress frames and
// final response are written back. Role checks, dispatch and auditing are the Handler's
// job (cli/commands/service.h), so that offline and online use run the same code.
// Thread: Serve()/ServeOne() run on the daemon's control thread; one connection at a time
// (a stuck client is cut off by 10 s send/receive timeouts; a long export or ingest
// makes the next client wait). Stop by setting the flag passed
// to Serve(); the destructor closes and unlinks the socket.
#ifndef CALLVAULT_APPLIANCE_CONTROL_SERVER_H_
#define CALLVAULT_APPLIANCE_CONTROL_SERVER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "appliance/config/config.h"
#include "appliance/control/roles.h"

namespace callvault::control {

// Sends one progress frame to the client (no-op offline).
using ProgressFn = std::function<void(const std::string& what, uint64_t done, uint64_t total)>;

// Handles one request. `fd` is the descriptor that came with it (-1 if none; the handler
// owns it). Returns the response message (MakeResponse / MakeError).
using Handler = std::function<nlohmann::json(const Principal& peer, const nlohmann::json& request,
                                             int fd, const ProgressFn& progress)>;

class ControlServer {
 public:
  // Creates the socket (and its parent directory, mode 0755, if missing). A stale socket
  // file is replaced; a socket another process still listens on is refused (Unavailable:
  // "another daemon is listening"). A group that does not exist is a config error.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ControlServer>> Listen(
      const ControlConfig& config, RoleMap roles, Handler handler);
  ~ControlServer();

  // Serves until `stop` becomes true (checked at least every 200 ms).
  void Serve(const std::atomic<bool>& stop);
  // Waits up to timeout_ms for one connection and serves it. OK when none came.
  absl::Status ServeOne(int timeout_ms);

  const std::string& path() const { return path_; }

 private:
  ControlServer(int fd, std::string path, RoleMap roles, Handler handler)
      : fd_(fd), path_(std::move(path)), roles_(std::move(roles)), handler_(std::move(handler)) {}
  void HandleConnection(int conn);

  int fd_;
  std::string path_;
  RoleMap roles_;
  Handler handler_;
};

}  // namespace callvault::control

#endif  // CALLVAULT_APPLIANCE_CONTROL_SERVER_H_
