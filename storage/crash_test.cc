// kill -9 tests: a writer child process (this binary re-executed with --child) writes
// calls and acknowledges each one on a pipe after Flush() returns (every other round:
// after the next FlushBehind() returns, which waits for the seal before it, so the
// background sealer is killed at random points too); the parent SIGKILLs it
// at a random moment, reopens the store, and checks that Verify() reports it consistent
// and that every acknowledged call is present with all its blocks, byte for byte.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "appliance/common/time_util.h"
#include "storage/store.h"
#include "storage/testing/store_test_util.h"

namespace callvault {
namespace {

constexpr uint64_t kT0 = 1'780'000'000'000'000'000ull;
constexpr int kBlocksPerCall = 4;

StoreOptions Opts(const std::string& dir) {
  StoreOptions o;
  o.config.path = dir + "/store";
  o.config.key_file = dir + "/master.key";
  o.config.segment_bytes = 300'000;  // rolls often, so kills land in every phase
  o.create = true;
  return o;
}

// Deterministic content of call n: the parent recomputes it to compare.
CallRecord CallN(uint64_t n) {
  std::mt19937_64 rng(n);
  return testing::RandomRecord(rng, kT0 + n * 1'000'000'000ull);
}
PlainBlock BlockN(uint64_t n, CallId id, uint32_t i) {
  std::mt19937_64 rng(n * 131 + i);
  std::size_t size = i == 0 ? 65536 : 200 + rng() % 5000;
  return testing::RandomBlock(rng, id, i == 0 ? StreamKind::kSignalling : StreamKind::kRtp,
                              uint16_t(i % 2), i, kT0 + n * 1'000'000'000ull, size);
}

int ChildMain(const std::string& dir, uint64_t first, int ack_fd, bool behind) {
  auto s = Store::Open(Opts(dir));
  if (!s.ok()) return 3;
  StoreWriter* w = (*s)->writer();
  for (uint64_t n = first;; ++n) {
    CallRecord r = CallN(n);
    w->OnCallStarted(r);
    for (uint32_t i = 0; i < kBlocksPerCall; ++i) {
      if (!w->Push(BlockN(n, r.call_id, i))) return 4;
    }
    r.state = CallState::kAnswered;
    w->OnCallEnded(r);
    if (behind) {
      // Returns once the previous call's seal is in the index; this one's is in flight.
      if (!w->FlushBehind().ok()) return 5;
      const uint64_t sealed = n - 1;
      if (n > first && ::write(ack_fd, &sealed, sizeof sealed) != sizeof sealed) return 6;
    } else {
      if (!w->Flush().ok()) return 5;
      if (::write(ack_fd, &n, sizeof n) != sizeof n) return 6;
    }
  }
}

std::string g_self;

TEST(StoreCrash, KillNineAtRandomPointsLeavesConsistentStore) {
  testing::TempDir dir;
  ASSERT_TRUE(InitKeyFile(dir.path() + "/master.key").ok());
  std::mt19937_64 rng(std::random_device{}());
  std::set<uint64_t> acked;
  uint64_t next = 1;
  for (int round = 0; round < 12; ++round) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      std::string fd = std::to_string(fds[1]), first = std::to_string(next);
      const char* mode = round % 2 == 1 ? "behind" : "flush";
      ::execl(g_self.c_str(), g_self.c_str(), "--child", dir.path().c_str(), first.c_str(),
              fd.c_str(), mode, nullptr);
      ::_exit(127);
    }
    ::close(fds[1]);
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(30 + rng() % 600);
    auto drain = [&](int timeout_ms) {
      pollfd p{fds[0], POLLIN, 0};
      while (::poll(&p, 1, timeout_ms) > 0) {
        uint64_t n;
        ssize_t r = ::read(fds[0], &n, sizeof n);
        if (r != sizeof n) break;
        acked.insert(n);
        next = std::max(next, n + 1);
        if (std::chrono::steady_clock::now() >= deadline) break;
      }
    };
    while (std::chrono::steady_clock::now() < deadline) drain(5);
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited early with " << WEXITSTATUS(status);
    deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    drain(0);  // acks written before the kill still count
    ::close(fds[0]);
    next += 1000;  // the killed child may have written (unacked) calls after `next`

    auto s = Store::Open(Opts(dir.path()));
    ASSERT_TRUE(s.ok()) << "round " << round << ": " << s.status();
    auto v = (*s)->Verify();
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_TRUE(v->ok()) << "round " << round << ": " << v->ToStatus();
    for (uint64_t n : acked) {
      CallRecord want = CallN(n);
      auto c = (*s)->GetCall(want.call_id);
      ASSERT_TRUE(c.ok()) << "acked call " << n << " lost in round " << round << ": "
                          << c.status();
      EXPECT_EQ(c->record.state, CallState::kAnswered);
      int blocks = 0;
      ASSERT_TRUE((*s)->ReadBlocks(want.call_id, {}, [&](const PlainBlock& b) {
        EXPECT_EQ(b.payload, BlockN(n, want.call_id, b.info.seq).payload);
        ++blocks;
        return true;
      }).ok());
      EXPECT_EQ(blocks, kBlocksPerCall) << n;
    }
  }
  std::printf("acknowledged calls checked: %zu\n", acked.size());
  EXPECT_GT(acked.size(), 20u) << "the child acknowledged too little to test anything";
  // No unsealed leftovers remain after the last writer start-up.
  for (const auto& f : testing::AllFiles(dir.path() + "/store/segments")) {
    EXPECT_FALSE(f.ends_with(".tmp")) << f;
  }
}

}  // namespace
}  // namespace callvault

int main(int argc, char** argv) {
  if (argc == 6 && std::strcmp(argv[1], "--child") == 0) {
    return callvault::ChildMain(argv[2], std::stoull(argv[3]), std::atoi(argv[4]),
                                std::strcmp(argv[5], "behind") == 0);
  }
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  callvault::g_self = n > 0 ? std::string(buf, std::size_t(n)) : std::string(argv[0]);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
