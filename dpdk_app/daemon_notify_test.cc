// SdNotifier against a bound AF_UNIX datagram socket standing in for systemd: the
// messages, their order and their timing (injected clock), abstract and path sockets,
// and the environment rules of sd_notify(3) / sd_watchdog_enabled(3).
#include "dpdk_app/daemon_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace callvault::dpdk {
namespace {

using namespace std::chrono_literals;

// A bound datagram socket: "@name" (abstract) or a path.
class FakeManager {
 public:
  explicit FakeManager(const std::string& name) : name_(name) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, name.data(), name.size());
    socklen_t len = socklen_t(offsetof(sockaddr_un, sun_path) + name.size());
    if (name[0] == '@') {
      a.sun_path[0] = '\0';
    } else {
      ::unlink(name.c_str());
      ++len;
    }
    bound_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) == 0;
  }
  ~FakeManager() {
    ::close(fd_);
    if (name_[0] == '/') ::unlink(name_.c_str());
  }
  bool bound() const { return bound_; }
  // Every datagram queued so far, in order.
  std::vector<std::string> Drain() {
    std::vector<std::string> out;
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(fd_, buf, sizeof(buf), MSG_DONTWAIT);
      if (n < 0) break;
      out.emplace_back(buf, size_t(n));
    }
    return out;
  }

 private:
  std::string name_;
  int fd_ = -1;
  bool bound_ = false;
};

std::string Abstract() { return fmt::format("@callvault-notify-test-{}", ::getpid()); }

TEST(SdNotifierTest, LifecycleMessagesInOrderWithWatchdog) {
  FakeManager m(Abstract());
  ASSERT_TRUE(m.bound());
  SdNotifier n(Abstract(), 2'000'000);  // WatchdogSec=2 -> WATCHDOG=1 every second
  ASSERT_TRUE(n.enabled());
  int calls = 0;
  auto summary = [&calls] { return fmt::format("capturing: {} frames", ++calls); };
  const auto t0 = SdNotifier::Clock::time_point{} + 100s;
  n.Ready();
  n.Ready();  // once only
  n.Tick(t0, summary);
  n.Tick(t0 + 500ms, summary);           // nothing due
  n.Tick(t0 + 1000ms, summary);          // both due
  n.Tick(t0 + 1500ms, summary);          // nothing due
  n.Tick(t0 + 2100ms, summary);
  n.Stopping();
  n.Stopping();  // once only
  EXPECT_EQ(m.Drain(), (std::vector<std::string>{
                           "READY=1", "STATUS=capturing: 1 frames", "WATCHDOG=1",
                           "STATUS=capturing: 2 frames", "WATCHDOG=1",
                           "STATUS=capturing: 3 frames", "WATCHDOG=1", "STOPPING=1"}));
  EXPECT_EQ(calls, 3);  // the summary is only built when a STATUS is due
  EXPECT_EQ(n.send_errors(), 0u);
}

TEST(SdNotifierTest, WatchdogHalfIntervalIndependentOfStatus) {
  FakeManager m(Abstract());
  ASSERT_TRUE(m.bound());
  SdNotifier n(Abstract(), 6'000'000);  // every 3 s
  const auto t0 = SdNotifier::Clock::time_point{} + 100s;
  for (int i = 0; i <= 6; ++i) n.Tick(t0 + std::chrono::seconds(i), [] { return "s"; });
  std::vector<std::string> got = m.Drain();
  std::vector<std::string> want;
  for (int i = 0; i <= 6; ++i) {
    want.push_back("STATUS=s");
    if (i % 3 == 0) want.push_back("WATCHDOG=1");
  }
  EXPECT_EQ(got, want);
}

TEST(SdNotifierTest, PathSocketAndNoWatchdog) {
  char dir[] = "/tmp/cv_notify_XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/notify";
  {
    FakeManager m(path);
    ASSERT_TRUE(m.bound());
    SdNotifier n(path, 0);
    ASSERT_TRUE(n.enabled());
    n.Ready();
    n.Tick(SdNotifier::Clock::now(), [] { return "line one\nline two"; });
    n.Stopping();
    EXPECT_EQ(m.Drain(), (std::vector<std::string>{"READY=1", "STATUS=line one line two",
                                                   "STOPPING=1"}));
  }
  ::rmdir(dir);
}

TEST(SdNotifierTest, NoSocketOrBadSocketIsANoOp) {
  for (const char* s : {"", "relative/path", "@", "x"}) {
    SdNotifier n(s, 1'000'000);
    EXPECT_FALSE(n.enabled()) << s;
    EXPECT_EQ(n.watchdog_usec(), 0u) << s;
    n.Ready();
    n.Tick(SdNotifier::Clock::now(), [] { return "x"; });
    EXPECT_FALSE(n.Send("READY=1")) << s;
    EXPECT_EQ(n.send_errors(), 0u) << s;
  }
  // A socket nobody listens on: counted, never fatal.
  SdNotifier gone(Abstract() + "-nobody", 0);
  ASSERT_TRUE(gone.enabled());
  gone.Ready();
  EXPECT_EQ(gone.send_errors(), 1u);
}

TEST(SdNotifierTest, AManagerThatDoesNotReadNeverBlocksTheDaemon) {
  // AF_UNIX datagram queues are short (net.unix.max_dgram_qlen, 10 by default): a
  // blocking send to a stalled manager would stop the main loop. Every message is either
  // queued or counted, and the calls return.
  FakeManager m(Abstract());
  ASSERT_TRUE(m.bound());
  SdNotifier n(Abstract(), 1'000'000);
  constexpr int kSent = 200;
  for (int i = 0; i < kSent; ++i) n.Send(fmt::format("STATUS={}", i));
  std::vector<std::string> got = m.Drain();
  EXPECT_GT(n.send_errors(), 0u);
  EXPECT_EQ(got.size() + n.send_errors(), size_t(kSent));
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.front(), "STATUS=0");  // the queue keeps the oldest, in order
  n.Ready();  // room again after the drain
  EXPECT_EQ(m.Drain(), std::vector<std::string>{"READY=1"});
}

TEST(SdNotifierTest, Environment) {
  const std::string name = Abstract();
  ::setenv("NOTIFY_SOCKET", name.c_str(), 1);
  ::setenv("WATCHDOG_USEC", "3000000", 1);
  ::unsetenv("WATCHDOG_PID");
  EXPECT_EQ(SdNotifier::FromEnvironment().watchdog_usec(), 3'000'000u);
  EXPECT_TRUE(SdNotifier::FromEnvironment().enabled());
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  EXPECT_EQ(SdNotifier::FromEnvironment().watchdog_usec(), 3'000'000u);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1);  // another process
  EXPECT_EQ(SdNotifier::FromEnvironment().watchdog_usec(), 0u);
  ::unsetenv("WATCHDOG_PID");
  ::setenv("WATCHDOG_USEC", "2s", 1);  // not a number
  EXPECT_EQ(SdNotifier::FromEnvironment().watchdog_usec(), 0u);
  ::unsetenv("WATCHDOG_USEC");
  EXPECT_EQ(SdNotifier::FromEnvironment().watchdog_usec(), 0u);
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_FALSE(SdNotifier::FromEnvironment().enabled());
}

}  // namespace
}  // namespace callvault::dpdk
