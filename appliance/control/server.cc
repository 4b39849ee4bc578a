#include "appliance/control/server.h"

#include <grp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "appliance/common/status.h"
#include "appliance/control/protocol.h"

namespace callvault::control {
namespace {

absl::StatusOr<sockaddr_un> Address(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(a.sun_path)) {
    return absl::InvalidArgumentError(
        fmt::format("control.socket: path '{}' must be 1..{} bytes", path, sizeof(a.sun_path) - 1));
  }
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  return a;
}

// True when some process accepts connections on `path`.
bool SomeoneListens(const sockaddr_un& a) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ControlServer>> ControlServer::Listen(const ControlConfig& config,
                                                                     RoleMap roles,
                                                                     Handler handler) {
  ASSIGN_OR_RETURN(sockaddr_un addr, Address(config.socket));
  gid_t gid = static_cast<gid_t>(-1);
  if (!config.group.empty()) {
    std::vector<char> buf(65536);
    group gr{};
    group* grp = nullptr;
    if (getgrnam_r(config.group.c_str(), &gr, buf.data(), buf.size(), &grp) != 0 ||
        grp == nullptr) {
      return absl::FailedPreconditionError(
          fmt::format("control.group: no such group '{}'", config.group));
    }
    gid = grp->gr_gid;
  }
  std::string dir = config.socket.substr(0, config.socket.rfind('/'));
  if (!dir.empty() && ::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return ErrnoToStatus(errno, fmt::format("create {}", dir));
  }
  struct stat st;
  if (::lstat(config.socket.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return absl::FailedPreconditionError(
          fmt::format("control.socket: {} exists and is not a socket", config.socket));
    }
    if (SomeoneListens(addr)) {
      return absl::UnavailableError(
          fmt::format("control socket {}: another daemon is listening", config.socket));
    }
    ::unlink(config.socket.c_str());
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoToStatus(errno, "control socket");
  // Bind with a restrictive umask so the socket is never briefly world-accessible.
  mode_t old = ::umask(0177);
  int rc = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  int err = errno;
  ::umask(old);
  if (rc != 0) {
    ::close(fd);
    return ErrnoToStatus(err, fmt::format("bind {}", config.socket));
  }
  if (::chown(config.socket.c_str(), static_cast<uid_t>(-1), gid) != 0 ||
      ::chmod(config.socket.c_str(), 0660) != 0 || ::listen(fd, 16) != 0) {
    err = errno;
    ::close(fd);
    ::unlink(config.socket.c_str());
    return ErrnoToStatus(err, fmt::format("set up {}", config.socket));
  }
  return std::unique_ptr<ControlServer>(
      new ControlServer(fd, config.socket, std::move(roles), std::move(handler)));
}

ControlServer::~ControlServer() {
  ::close(fd_);
  ::unlink(path_.c_str());
}

void ControlServer::Serve(const std::atomic<bool>& stop) {
  while (!stop.load(std::memory_order_relaxed)) {
    (void)ServeOne(200);
  }
}

absl::Status ControlServer::ServeOne(int timeout_ms) {
  pollfd p{fd_, POLLIN, 0};
  int rc = ::poll(&p, 1, timeout_ms);
  if (rc < 0) return errno == EINTR ? absl::OkStatus() : ErrnoToStatus(errno, "poll");
  if (rc == 0) return absl::OkStatus();
  int conn = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (conn < 0) return ErrnoToStatus(errno, "accept");
  HandleConnection(conn);
  ::close(conn);
  return absl::OkStatus();
}

void ControlServer::HandleConnection(int conn) {
  // A client that stops sending or reading cannot hold the control thread for long.
  timeval tv{10, 0};
  ::setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(conn, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (::getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    (void)WriteFrame(conn, MakeError(ErrnoToStatus(errno, "SO_PEERCRED")));
    return;
  }
  Principal peer = roles_.Resolve(cred.uid, cred.gid);
  int fd = -1;
  auto req = ReadFrame(conn, &fd);
  if (!req.ok()) {
    if (fd >= 0) ::close(fd);
    (void)WriteFrame(conn, MakeError(2, fmt::format("bad request: {}",
                                                    std::string(req.status().message()))));
    return;
  }
  nlohmann::json response;
  if (!req->contains("v") || (*req)["v"] != kProtocolVersion) {
    if (fd >= 0) ::close(fd);
    response = MakeError(2, fmt::format("unsupported control protocol version {} (daemon "
                                        "speaks {})",
                                        req->value("v", nlohmann::json()).dump(),
                                        kProtocolVersion));
  } else {
    ProgressFn progress = [conn](const std::string& what, uint64_t done, uint64_t total) {
      (void)WriteFrame(conn, MakeProgress(what, done, total));
    };
    response = handler_(peer, *req, fd, progress);
  }
  (void)WriteFrame(conn, response);
}

}  // namespace callvault::control
