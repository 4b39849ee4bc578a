#include "dpdk_app/daemon_notify.h"

#include <unistd.h>

#include <charconv>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace callvault::dpdk {
namespace {

uint64_t ParseUint(const char* s) {
  if (s == nullptr || *s == '\0') return 0;
  uint64_t v = 0;
  const char* end = s + std::strlen(s);
  auto r = std::from_chars(s, end, v);
  if (r.ec != std::errc() || r.ptr != end) return 0;
  return v;
}

}  // namespace

SdNotifier SdNotifier::FromEnvironment() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  uint64_t usec = ParseUint(std::getenv("WATCHDOG_USEC"));
  const char* pid = std::getenv("WATCHDOG_PID");
  if (pid != nullptr && *pid != '\0' && ParseUint(pid) != uint64_t(::getpid())) usec = 0;
  return SdNotifier(socket == nullptr ? std::string() : std::string(socket), usec);
}

SdNotifier::SdNotifier(std::string socket, uint64_t watchdog_usec)
    : watchdog_usec_(watchdog_usec) {
  // sd_notify(3): an absolute path, or '@' for the abstract namespace; anything else
  // is not a notification socket.
  if (socket.size() < 2 || (socket[0] != '/' && socket[0] != '@') ||
      socket.size() > sizeof(addr_.sun_path)) {
    watchdog_usec_ = 0;
    return;
  }
  fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    watchdog_usec_ = 0;
    return;
  }
  addr_.sun_family = AF_UNIX;
  std::memcpy(addr_.sun_path, socket.data(), socket.size());
  if (socket[0] == '@') {
    addr_.sun_path[0] = '\0';  // abstract: the name is exactly the bytes given, no NUL
    addr_len_ = socklen_t(offsetof(sockaddr_un, sun_path) + socket.size());
  } else {
    addr_len_ = socklen_t(offsetof(sockaddr_un, sun_path) + socket.size() + 1);
    if (socket.size() == sizeof(addr_.sun_path)) --addr_len_;  // no room for the NUL
  }
}

SdNotifier::SdNotifier(SdNotifier&& o) noexcept
    : fd_(o.fd_),
      addr_(o.addr_),
      addr_len_(o.addr_len_),
      watchdog_usec_(o.watchdog_usec_),
      ready_sent_(o.ready_sent_),
      stopping_sent_(o.stopping_sent_),
      ticked_(o.ticked_),
      next_status_(o.next_status_),
      next_watchdog_(o.next_watchdog_),
      send_errors_(o.send_errors_) {
  o.fd_ = -1;
  o.addr_len_ = 0;
}

SdNotifier::~SdNotifier() {
  if (fd_ >= 0) ::close(fd_);
}

bool SdNotifier::Send(std::string_view message) {
  if (!enabled()) return false;
  std::string m(message);
  for (char& c : m) {
    if (c == '\n') c = ' ';
  }
  ssize_t n = ::sendto(fd_, m.data(), m.size(), MSG_NOSIGNAL | MSG_DONTWAIT,
                       reinterpret_cast<const sockaddr*>(&addr_), addr_len_);
  if (n != static_cast<ssize_t>(m.size())) {
    ++send_errors_;
    return false;
  }
  return true;
}

void SdNotifier::Ready() {
  if (ready_sent_) return;
  ready_sent_ = true;
  Send("READY=1");
}

void SdNotifier::Stopping() {
  if (stopping_sent_) return;
  stopping_sent_ = true;
  Send("STOPPING=1");
}

void SdNotifier::Tick(Clock::time_point now, const std::function<std::string()>& summary) {
  if (!enabled()) return;
  if (!ticked_ || now >= next_status_) {
    next_status_ = now + std::chrono::seconds(1);
    Send("STATUS=" + (summary ? summary() : std::string()));
  }
  if (watchdog_usec_ != 0 && (!ticked_ || now >= next_watchdog_)) {
    next_watchdog_ = now + std::chrono::microseconds(watchdog_usec_ / 2);
    Send("WATCHDOG=1");
  }
  ticked_ = true;
}

}  // namespace callvault::dpdk
