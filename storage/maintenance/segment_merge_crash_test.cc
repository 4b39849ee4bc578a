// kill -9 during a segment merge: a child process (this binary re-executed with --child)
// runs MergeSmallSegments and is SIGKILLed (a) at each durable step in turn (the progress
// callback raises SIGKILL at its k-th call: after each output is written, after it is
// indexed, after its inputs are deleted) and (b) at random moments. After each kill the
// parent reopens the store (the start-up scan discards unaccounted files) and checks that
// Verify() is clean, every kept call reads back with the same sealed bytes, every live
// block is stored exactly once, and the files equal the accounting; then it re-runs the
// merge and checks the final layout (4 outputs, as in a run that was never interrupted).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "storage/maintenance/merge_test_data.h"
#include "storage/testing/kill_child.h"

namespace callvault {
namespace {

using mergetest::Call;

std::string g_self;  // this binary; the child is a fresh exec (RocksDB threads vs fork)

class SegmentMergeCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitKeyFile(mergetest::Opts(tmpl_.path()).config.key_file).ok());
    auto s = Store::Open(mergetest::Opts(tmpl_.path()));
    ASSERT_TRUE(s.ok()) << s.status();
    plan_ = mergetest::Plan();
    mergetest::Write(**s, plan_);
    for (const Call& c : plan_) {
      if (!c.destroyed) {
        sealed_[c.record.call_id.value] = mergetest::SealedBytes(**s, c.record.call_id);
      }
    }
  }
  std::unique_ptr<testing::TempDir> Copy() { return testing::CopyOf(tmpl_.path()); }
  // kill_at > 0: SIGKILL at that progress call; delay_us > 0: the parent SIGKILLs after
  // that long. Returns true when the child was killed.
  bool RunChild(const std::string& dir, int kill_at, int delay_us) {
    return testing::RunChildKilled(g_self, dir, kill_at, delay_us);
  }
  // Returns (through `found`) how many day-D segments the crash left: 24 = not started,
  // 4 = finished, anything else = killed in the middle.
  void CheckAfterCrashAndRerun(const std::string& dir, std::size_t* found = nullptr) {
    auto s = Store::Open(mergetest::Opts(dir));
    ASSERT_TRUE(s.ok()) << s.status();
    if (found != nullptr) {
      *found = 0;
      auto segs = (*s)->ListSegments();
      ASSERT_TRUE(segs.ok());
      for (const auto& seg : *segs) *found += seg.day == mergetest::DayD();
    }
    mergetest::ExpectConsistent(**s, plan_, sealed_);
    if (HasFailure()) return;
    auto r = MergeSmallSegments(**s, mergetest::MergeOpts());
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->problems.empty());
    mergetest::ExpectConsistent(**s, plan_, sealed_);
    uint64_t day_segs = 0;
    auto segs = (*s)->ListSegments();
    ASSERT_TRUE(segs.ok());
    for (const auto& seg : *segs) {
      if (seg.day != mergetest::DayD()) continue;
      ++day_segs;
      EXPECT_EQ(seg.file_bytes, 32 + 9 * mergetest::kSealed) << seg.path;
    }
    EXPECT_EQ(day_segs, 4u);
    auto again = MergeSmallSegments(**s, mergetest::MergeOpts());
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->segments_in, 0u);
  }

  testing::TempDir tmpl_;
  std::vector<Call> plan_;
  std::map<uint64_t, std::string> sealed_;
};

TEST_F(SegmentMergeCrashTest, KillAtEveryDurableStepThenRerun) {
  int killed = 0;
  for (int k = 1; k < 100; ++k) {
    SCOPED_TRACE(::testing::Message() << "kill at progress call " << k);
    auto d = Copy();
    if (!RunChild(d->path(), k, 0)) break;  // ran to the end: every step was covered
    ++killed;
    CheckAfterCrashAndRerun(d->path());
    if (HasFailure()) return;
  }
  EXPECT_EQ(killed, 12);  // 4 outputs x (written, indexed, inputs deleted)
}

TEST_F(SegmentMergeCrashTest, KillAtRandomMomentsThenRerun) {
  std::mt19937 rng(std::random_device{}());
  auto probe = Copy();
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_FALSE(RunChild(probe->path(), 0, 0));
  int full_us = int(std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::steady_clock::now() - t0).count());
  for (int i = 0; i < 10; ++i) {
    int delay = 1 + int(rng() % uint32_t(std::max(full_us, 2)));
    SCOPED_TRACE(::testing::Message() << "kill after " << delay << " us of " << full_us);
    auto d = Copy();
    RunChild(d->path(), 0, delay);
    std::size_t left = 0;
    CheckAfterCrashAndRerun(d->path(), &left);
    if (HasFailure()) return;
    std::printf("kill after %d of %d us: %zu day segments left\n", delay, full_us, left);
  }
}

int ChildMain(const std::string& dir, int kill_at) {
  auto s = Store::Open(mergetest::Opts(dir));
  if (!s.ok()) return 3;
  int calls = 0;
  auto r = MergeSmallSegments(**s, mergetest::MergeOpts(),
                              [&](std::string_view, uint64_t, uint64_t) {
                                if (++calls == kill_at) ::raise(SIGKILL);
                              });
  return r.ok() && r->problems.empty() ? 0 : 4;
}

}  // namespace
}  // namespace callvault

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "--child") == 0) {
    return callvault::ChildMain(argv[2], std::atoi(argv[3]));
  }
  callvault::g_self = std::filesystem::read_symlink("/proc/self/exe").string();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
