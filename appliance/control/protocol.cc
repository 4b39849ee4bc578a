#include "appliance/control/protocol.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string_view>

#include <fmt/format.h>

#include "appliance/common/status.h"

namespace callvault::control {
namespace {

absl::Status SendAll(int sock, const char* p, std::size_t n, int pass_fd) {
  bool fd_sent = pass_fd < 0;
  while (n > 0) {
    iovec iov{const_cast<char*>(p), n};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char ctrl[CMSG_SPACE(sizeof(int))] = {};
    if (!fd_sent) {
      msg.msg_control = ctrl;
      msg.msg_controllen = sizeof(ctrl);
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      std::memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
    }
    ssize_t w = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return ErrnoToStatus(errno, "control socket: send");
    }
    fd_sent = true;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return absl::OkStatus();
}

// Reads exactly n bytes. Returns OutOfRange if the stream ends before the first byte
// (and `eof_ok`), Unavailable if it ends in the middle.
absl::Status RecvAll(int sock, char* p, std::size_t n, int* received_fd, bool eof_ok) {
  std::size_t got = 0;
  while (got < n) {
    iovec iov{p + got, n - got};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char ctrl[CMSG_SPACE(sizeof(int))] = {};
    msg.msg_control = ctrl;
    msg.msg_controllen = sizeof(ctrl);
    ssize_t r = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return absl::DeadlineExceededError("control socket: receive timed out");
      }
      return ErrnoToStatus(errno, "control socket: receive");
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
        if (received_fd != nullptr && *received_fd < 0) {
          *received_fd = fd;
        } else {
          ::close(fd);
        }
      }
    }
    if (r == 0) {
      if (got == 0 && eof_ok) return absl::OutOfRangeError("control socket: end of stream");
      return absl::UnavailableError("control socket: connection closed mid-message");
    }
    got += static_cast<std::size_t>(r);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteFrame(int sock, const nlohmann::json& msg, int pass_fd) {
  std::string body = msg.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (body.size() > kMaxFrameBytes) {
    return absl::ResourceExhaustedError(
        fmt::format("control message of {} bytes exceeds {}", body.size(), kMaxFrameBytes));
  }
  uint32_t n = static_cast<uint32_t>(body.size());
  std::string frame(4, '\0');
  frame[0] = static_cast<char>(n >> 24);
  frame[1] = static_cast<char>(n >> 16);
  frame[2] = static_cast<char>(n >> 8);
  frame[3] = static_cast<char>(n);
  frame += body;
  return SendAll(sock, frame.data(), frame.size(), pass_fd);
}

absl::StatusOr<nlohmann::json> ReadFrame(int sock, int* received_fd) {
  if (received_fd != nullptr) *received_fd = -1;
  unsigned char hdr[4];
  RETURN_IF_ERROR(RecvAll(sock, reinterpret_cast<char*>(hdr), 4, received_fd, true));
  uint32_t n = (uint32_t(hdr[0]) << 24) | (uint32_t(hdr[1]) << 16) | (uint32_t(hdr[2]) << 8) |
               uint32_t(hdr[3]);
  if (n == 0 || n > kMaxFrameBytes) {
    return absl::InvalidArgumentError(
        fmt::format("control socket: bad frame length {} (1..{})", n, kMaxFrameBytes));
  }
  std::string body(n, '\0');
  RETURN_IF_ERROR(RecvAll(sock, body.data(), n, received_fd, false));
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("control socket: frame is not a JSON object");
  }
  return j;
}

nlohmann::json MakeRequest(const std::string& cmd, nlohmann::json args) {
  return {{"v", kProtocolVersion}, {"cmd", cmd}, {"args", std::move(args)}};
}

nlohmann::json MakeResponse(int exit_code, nlohmann::json result) {
  return {{"v", kProtocolVersion}, {"exit", exit_code}, {"result", std::move(result)}};
}

nlohmann::json MakeError(int exit_code, const std::string& message) {
  return {{"v", kProtocolVersion}, {"exit", exit_code}, {"error", message}};
}

nlohmann::json MakeError(const absl::Status& status) {
  return MakeError(static_cast<int>(ExitCodeFor(status)), std::string(status.message()));
}

nlohmann::json MakeProgress(const std::string& what, uint64_t done, uint64_t total) {
  return {{"v", kProtocolVersion},
          {"progress", {{"what", what}, {"done", done}, {"total", total}}}};
}

}  // namespace callvault::control
