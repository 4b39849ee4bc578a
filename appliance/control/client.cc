#include "appliance/control/client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "appliance/common/status.h"
#include "appliance/control/protocol.h"

namespace callvault::control {

absl::StatusOr<nlohmann::json> CallDaemon(const std::string& socket_path,
                                          const nlohmann::json& request, int pass_fd,
                                          const ProgressCallback& on_progress) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (socket_path.empty() || socket_path.size() >= sizeof(a.sun_path)) {
    return absl::InvalidArgumentError(fmt::format("control.socket: bad path '{}'", socket_path));
  }
  std::memcpy(a.sun_path, socket_path.c_str(), socket_path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoToStatus(errno, "socket");
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) != 0) {
    int err = errno;
    ::close(fd);
    if (err == ENOENT || err == ECONNREFUSED) {
      return absl::UnavailableError(fmt::format(
          "daemon not running: cannot connect to {}: {}", socket_path, std::strerror(err)));
    }
    if (err == EACCES || err == EPERM) {
      return absl::PermissionDeniedError(fmt::format(
          "access denied: cannot connect to {}: {} (not in the socket's group?)", socket_path,
          std::strerror(err)));
    }
    return ErrnoToStatus(err, fmt::format("connect {}", socket_path));
  }
  auto result = [&]() -> absl::StatusOr<nlohmann::json> {
    RETURN_IF_ERROR(WriteFrame(fd, request, pass_fd));
    for (;;) {
      auto msg = ReadFrame(fd);
      if (!msg.ok()) {
        return absl::UnavailableError(fmt::format("daemon closed the connection: {}",
                                                  std::string(msg.status().message())));
      }
      if (msg->contains("progress")) {
        if (on_progress) on_progress((*msg)["progress"]);
        continue;
      }
      return msg;
    }
  }();
  ::close(fd);
  return result;
}

}  // namespace callvault::control
