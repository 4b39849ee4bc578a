// kill -9 during a purge: a forked child runs RunRetention and is SIGKILLed (a) at each
// durable step in turn (the progress callback raises SIGKILL at its k-th call: after
// the selection, after each destroy batch, after each dead segment, after each rewritten
// segment is written and again once indexed, before and after the index compaction) and
// (b) at random moments. After each kill the parent reopens the store and checks that
// nothing is half-deleted (every call is wholly intact or wholly gone, Verify() is clean,
// segment files equal the accounting), then re-runs the purge and checks that exactly the
// expected calls are gone and every other call is intact, byte for byte.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <random>
#include <string>

#include "storage/retention/retention.h"
#include "storage/retention/retention_test_data.h"
#include "storage/testing/kill_child.h"

namespace callvault::retention {
namespace {

using testdata::Planned;

std::string g_self;  // this binary: the child is a fresh exec (RocksDB's thread pool does
                     // not survive fork())

RetentionOptions CrashOpt() {
  RetentionOptions o;
  o.now_ns = testdata::Now();
  o.destroy_batch = 5;
  o.compact_threshold = 0.3;
  return o;
}

class RetentionCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    plan_ = testdata::Plan();
    ASSERT_TRUE(InitKeyFile(testdata::Opts(tmpl_.path()).config.key_file).ok());
    auto s = Store::Open(testdata::Opts(tmpl_.path()));
    ASSERT_TRUE(s.ok()) << s.status();
    testdata::Write(**s, plan_);
  }
  RetentionOptions Opt() { return CrashOpt(); }
  // A fresh copy of the template store in its own directory.
  std::unique_ptr<testing::TempDir> Copy() { return testing::CopyOf(tmpl_.path()); }
  // Runs the purge in a child; kill_at > 0: SIGKILL at that progress call; delay_us > 0:
  // the parent SIGKILLs after that long. Returns true when the child was killed.
  bool RunChild(const std::string& dir, int kill_at, int delay_us) {
    return testing::RunChildKilled(g_self, dir, kill_at, delay_us);
  }
  // After a crash: each call wholly intact or wholly gone; only purgeable calls gone.
  void CheckConsistent(Store& s) {
    for (const Planned& p : plan_) {
      auto c = s.GetCall(p.record.call_id);
      if (c.ok()) {
        testdata::ExpectIntact(s, p);
      } else {
        EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
        EXPECT_TRUE(p.expect_purged()) << "lost a call that must be kept";
        testdata::ExpectGone(s, p);
      }
    }
    auto v = s.Verify();
    ASSERT_TRUE(v.ok());
    EXPECT_TRUE(v->ok()) << v->ToStatus();
    testdata::ExpectFilesMatchAccounting(s);
  }
  void CheckRerunCompletes(const std::string& dir) {
    auto s = Store::Open(testdata::Opts(dir));
    ASSERT_TRUE(s.ok()) << s.status();
    CheckConsistent(**s);
    auto r = RunRetention(**s, Opt());
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->problems.empty());
    for (const Planned& p : plan_) {
      if (p.expect_purged()) {
        testdata::ExpectGone(**s, p);
      } else {
        testdata::ExpectIntact(**s, p);
      }
    }
    EXPECT_TRUE((*s)->Verify()->ok()) << (*s)->Verify()->ToStatus();
    testdata::ExpectFilesMatchAccounting(**s);
    std::vector<SegmentUsage> segs = *(*s)->ListSegments();
    for (const auto& seg : segs) EXPECT_GT(seg.live_bytes, 0u) << seg.path;
    auto again = RunRetention(**s, Opt());
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->calls, 0u);
    EXPECT_EQ(again->segments_deleted + again->segments_compacted, 0u);
  }

  testing::TempDir tmpl_;
  std::vector<Planned> plan_;
};

TEST_F(RetentionCrashTest, KillAtEveryDurableStepThenRerun) {
  int killed = 0;
  for (int k = 1; k < 200; ++k) {
    SCOPED_TRACE(::testing::Message() << "kill at progress call " << k);
    auto d = Copy();
    if (!RunChild(d->path(), k, 0)) break;  // ran to the end: every step was covered
    ++killed;
    CheckRerunCompletes(d->path());
    if (HasFatalFailure()) return;
  }
  EXPECT_GE(killed, 10);  // selection, several batches, segments, compactions, index
}

TEST_F(RetentionCrashTest, KillAtRandomMomentsThenRerun) {
  std::mt19937 rng(20240915);
  // Measure one full run to spread the kills over it.
  auto probe = Copy();
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_FALSE(RunChild(probe->path(), 0, 0));
  int full_us = int(std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::steady_clock::now() - t0).count());
  for (int i = 0; i < 6; ++i) {
    int delay = 1 + int(rng() % uint32_t(std::max(full_us, 2)));
    SCOPED_TRACE(::testing::Message() << "kill after " << delay << " us of " << full_us);
    auto d = Copy();
    RunChild(d->path(), 0, delay);
    CheckRerunCompletes(d->path());
    if (HasFatalFailure()) return;
  }
}

int ChildMain(const std::string& dir, int kill_at) {
  auto s = Store::Open(testdata::Opts(dir));
  if (!s.ok()) return 3;
  int calls = 0;
  auto r = RunRetention(**s, CrashOpt(), [&](std::string_view, uint64_t, uint64_t) {
    if (++calls == kill_at) ::raise(SIGKILL);
  });
  return r.ok() ? 0 : 4;
}

}  // namespace
}  // namespace callvault::retention

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "--child") == 0) {
    return callvault::retention::ChildMain(argv[2], std::atoi(argv[3]));
  }
  callvault::retention::g_self = std::filesystem::read_symlink("/proc/self/exe").string();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
