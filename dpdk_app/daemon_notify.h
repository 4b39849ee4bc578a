// SdNotifier: callvaultd's side of the systemd notification protocol (sd_notify(3),
// "Type=notify" services), implemented directly: no libsystemd.
//
// Input: $NOTIFY_SOCKET (an absolute path, or an abstract socket name starting with '@',
// which stands for the leading NUL byte), $WATCHDOG_USEC and $WATCHDOG_PID from the
// service manager (FromEnvironment), or given explicitly (tests). Output: one datagram
// per message on an AF_UNIX SOCK_DGRAM socket, newline-free "KEY=VALUE" text:
//   READY=1      once capture is running (Ready(); sent once)
//   STATUS=...   a one-line summary, from Tick() once a second
//   WATCHDOG=1   from Tick() every WATCHDOG_USEC/2 when the watchdog is on
//   STOPPING=1   when the stop begins (Stopping(); sent once)
// Without $NOTIFY_SOCKET (not started by systemd, or Type=simple) every call is a no-op.
// Sends never block (MSG_DONTWAIT): a send error (the manager is gone, its queue is full)
// is counted in send_errors() and otherwise ignored; notification never stops capture.
// Thread: one thread (the daemon's main loop). Control path only; not per packet.
#ifndef CALLVAULT_DPDK_APP_DAEMON_NOTIFY_H_
#define CALLVAULT_DPDK_APP_DAEMON_NOTIFY_H_

#include <sys/socket.h>
#include <sys/un.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace callvault::dpdk {

class SdNotifier {
 public:
  using Clock = std::chrono::steady_clock;

  // Reads the environment. The watchdog is on when $WATCHDOG_USEC is a positive integer
  // and $WATCHDOG_PID is unset or names this process (sd_watchdog_enabled(3)).
  static SdNotifier FromEnvironment();
  // `socket`: "" (disabled), "/abs/path" or "@abstract"; a relative path is ignored as
  // systemd does. `watchdog_usec`: 0 = no watchdog.
  SdNotifier(std::string socket, uint64_t watchdog_usec);
  ~SdNotifier();
  SdNotifier(SdNotifier&& other) noexcept;
  SdNotifier& operator=(SdNotifier&&) = delete;
  SdNotifier(const SdNotifier&) = delete;
  SdNotifier& operator=(const SdNotifier&) = delete;

  bool enabled() const { return addr_len_ != 0; }
  uint64_t watchdog_usec() const { return watchdog_usec_; }
  uint64_t send_errors() const { return send_errors_; }

  void Ready();
  void Stopping();
  // Call at least every WATCHDOG_USEC/4 (callvaultd: every 20-200 ms). Sends
  // STATUS=summary() when a second has passed since the last one (the first call sends
  // at once), and WATCHDOG=1 when half the watchdog interval has passed.
  void Tick(Clock::time_point now, const std::function<std::string()>& summary);

  // One datagram; newlines in `message` are replaced by spaces (one key per message).
  bool Send(std::string_view message);

 private:
  int fd_ = -1;
  sockaddr_un addr_{};
  socklen_t addr_len_ = 0;  // 0 = disabled
  uint64_t watchdog_usec_ = 0;
  bool ready_sent_ = false;
  bool stopping_sent_ = false;
  bool ticked_ = false;
  Clock::time_point next_status_{};
  Clock::time_point next_watchdog_{};
  uint64_t send_errors_ = 0;
};

}  // namespace callvault::dpdk

#endif  // CALLVAULT_DPDK_APP_DAEMON_NOTIFY_H_
