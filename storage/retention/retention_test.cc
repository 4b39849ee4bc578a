#include "storage/retention/retention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "storage/index/index_keys.h"
#include "storage/retention/retention_json.h"
#include "storage/retention/retention_test_data.h"
#include "storage/store_impl.h"

namespace callvault::retention {
namespace {

using testdata::Planned;

uint64_t T(const char* s) { return *ParseTime(s); }

TEST(RetentionCutoffTest, CalendarAwareClampedUtc) {
  EXPECT_EQ(*RetentionCutoff(T("2026-03-15T12:00:00Z"), 18), T("2024-09-15T12:00:00Z"));
  EXPECT_EQ(*RetentionCutoff(T("2025-08-31T10:20:30.123Z"), 18), T("2024-02-29T10:20:30.123Z"));
  EXPECT_EQ(*RetentionCutoff(T("2024-03-31T00:00:00Z"), 1), T("2024-02-29T00:00:00Z"));
  EXPECT_EQ(*RetentionCutoff(T("2023-03-31T23:59:59Z"), 1), T("2023-02-28T23:59:59Z"));
  EXPECT_EQ(*RetentionCutoff(T("2025-01-15T06:00:00Z"), 1), T("2024-12-15T06:00:00Z"));
  EXPECT_EQ(*RetentionCutoff(T("2025-01-15T06:00:00Z"), 13), T("2023-12-15T06:00:00Z"));
  EXPECT_EQ(*RetentionCutoff(T("2100-03-29T00:00:00Z"), 1), T("2100-02-28T00:00:00Z"));
  EXPECT_EQ(*RetentionCutoff(T("2000-03-30T00:00:00Z"), 1), T("2000-02-29T00:00:00Z"));
  EXPECT_EQ(*RetentionCutoff(T("2026-05-31T00:00:00Z"), 120), T("2016-05-31T00:00:00Z"));
  EXPECT_EQ(RetentionCutoff(T("2026-01-01"), 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RetentionCutoff(T("1971-01-01"), 24).status().code(),
            absl::StatusCode::kInvalidArgument);
}

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    plan_ = testdata::Plan();
    ASSERT_TRUE(InitKeyFile(testdata::Opts(dir_.path()).config.key_file).ok());
    auto s = Store::Open(testdata::Opts(dir_.path()));
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    testdata::Write(*store_, plan_);
  }
  RetentionOptions Opt(bool dry = false) {
    RetentionOptions o;
    o.now_ns = testdata::Now();
    o.dry_run = dry;
    o.destroy_batch = 7;
    return o;
  }
  std::vector<CallId> ExpectedPurged() {
    std::vector<CallId> v;
    for (const Planned& p : plan_) {
      if (p.expect_purged()) v.push_back(p.record.call_id);
    }
    std::sort(v.begin(), v.end(), [](CallId a, CallId b) { return a.value < b.value; });
    return v;
  }
  static std::vector<CallId> Sorted(std::vector<CallId> v) {
    std::sort(v.begin(), v.end(), [](CallId a, CallId b) { return a.value < b.value; });
    return v;
  }

  testing::TempDir dir_;
  std::vector<Planned> plan_;
  std::unique_ptr<Store> store_;
};

TEST_F(RetentionTest, DryRunListsAndChangesNothing) {
  uint64_t bytes = 0, oldest = ~0ull, newest = 0, held = 0;
  for (const Planned& p : plan_) {
    if (p.old && p.held) ++held;
    if (!p.expect_purged()) continue;
    for (const auto& b : p.blocks) bytes += 80 + b.payload.size() + 16;
    oldest = std::min(oldest, p.record.start_ns);
    newest = std::max(newest, p.record.start_ns);
  }
  auto files_before = testing::AllFiles(store_->config().path + "/segments");
  auto r = RunRetention(*store_, Opt(true));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->dry_run);
  EXPECT_EQ(r->cutoff_ns, testdata::Cutoff());
  EXPECT_EQ(Sorted(r->purged), ExpectedPurged());
  EXPECT_EQ(r->calls, ExpectedPurged().size());
  EXPECT_EQ(r->bytes, bytes);
  EXPECT_EQ(r->oldest_start_ns, oldest);
  EXPECT_EQ(r->newest_start_ns, newest);
  EXPECT_EQ(newest, testdata::Cutoff() - kNsPerMs);  // the old call 1 ms before the cutoff
  EXPECT_EQ(r->skipped_held, held);
  EXPECT_EQ(r->segments_deleted + r->segments_compacted, 0u);
  for (const Planned& p : plan_) testdata::ExpectIntact(*store_, p);
  EXPECT_EQ(testing::AllFiles(store_->config().path + "/segments"), files_before);
  auto j = RetentionReportJson(*r);
  EXPECT_EQ(j["calls"], r->calls);
  EXPECT_EQ(j["cutoff"], "2024-09-15T12:00:00.000Z");
  EXPECT_EQ(j["ids"].size(), r->calls);
}

TEST_F(RetentionTest, PurgesExactlyOldUnheldCallsAndReclaimsSpace) {
  auto before = *store_->ListSegments();
  auto r = RunRetention(*store_, Opt());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Sorted(r->purged), ExpectedPurged());
  EXPECT_TRUE(r->problems.empty());
  // All-old day (2024-08-01) has held calls, so its segments are mixed too; the boundary
  // day is mixed; at least one segment is compacted and the young day is untouched.
  EXPECT_GE(r->segments_compacted, 1u);
  EXPECT_GT(r->bytes_reclaimed, 0u);
  for (const Planned& p : plan_) {
    if (p.expect_purged()) {
      testdata::ExpectGone(*store_, p);
    } else {
      testdata::ExpectIntact(*store_, p);
    }
  }
  auto v = store_->Verify();
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->ok()) << v->ToStatus();
  testdata::ExpectFilesMatchAccounting(*store_);
  // Every remaining segment is below the threshold of dead bytes.
  std::vector<SegmentUsage> after = *store_->ListSegments();
  for (const auto& s : after) {
    EXPECT_GT(s.live_bytes, 0u);
    EXPECT_LT(double(s.dead_bytes), 0.5 * double(s.live_bytes + s.dead_bytes)) << s.path;
  }
  uint64_t total_before = 0, total_after = 0;
  for (const auto& s : before) total_before += s.file_bytes;
  for (const auto& s : after) total_after += s.file_bytes;
  EXPECT_EQ(total_before - total_after, r->bytes_reclaimed);

  // Idempotent: a second run purges nothing and rewrites nothing.
  auto again = RunRetention(*store_, Opt());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->calls, 0u);
  EXPECT_EQ(again->segments_deleted + again->segments_compacted, 0u);
  EXPECT_TRUE(store_->Verify()->ok());
  // The store stays writable after compaction: a new call on the boundary day.
  Planned late = testdata::MakeCall(999, testdata::Cutoff() + 3600 * kNsPerSec, false);
  testdata::Write(*store_, {late});
  testdata::ExpectIntact(*store_, late);
  EXPECT_TRUE(store_->Verify()->ok()) << store_->Verify()->ToStatus();
}

TEST_F(RetentionTest, HeldCallSurvivesUntilReleased) {
  const Planned* held = nullptr;
  for (const Planned& p : plan_) {
    if (p.held) held = &p;
  }
  ASSERT_NE(held, nullptr);
  ASSERT_TRUE(RunRetention(*store_, Opt()).ok());
  testdata::ExpectIntact(*store_, *held);
  ASSERT_TRUE(store_->RemoveHold(held->record.call_id).ok());
  auto r = RunRetention(*store_, Opt());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::count(r->purged.begin(), r->purged.end(), held->record.call_id), 1);
  testdata::ExpectGone(*store_, *held);
  EXPECT_TRUE(store_->Verify()->ok());
}

// Grep every byte of every file of the store for what a purged call leaves: its ANI and
// agent name in several encodings, a run of its audio, its sealed block bytes and its
// wrapped data key. The last two must be there before the purge (the check can see them).
TEST_F(RetentionTest, NoTraceOfPurgedCallAnywhereInTheStore) {
  StoreImpl& m = *store_->impl();
  std::vector<std::string> must_vanish, never;
  for (const Planned& p : plan_) {
    if (!p.expect_purged()) continue;
    std::string key = idx::IdKey(p.record.call_id), wrapped;
    ASSERT_TRUE(m.db->Get(rocksdb::ReadOptions(), m.h(idx::kKeys), key, &wrapped).ok());
    must_vanish.push_back(wrapped);
    std::string loc;
    ASSERT_TRUE(m.db->Get(rocksdb::ReadOptions(), m.h(idx::kBlocks),
                          idx::BlockKey(p.record.call_id, StreamKind::kRtp, 1, 0), &loc).ok());
    auto l = idx::DecodeLocation(loc);
    ASSERT_TRUE(l.has_value());
    std::string seg = testdata::ReadFile(m.SegmentPath(l->day, l->segment));
    must_vanish.push_back(seg.substr(l->offset + 80, 48));  // ciphertext run
    std::string ani = p.record.ani, digits = ani.substr(1), utf16;
    for (char c : ani) utf16 += std::string{c, '\0'};
    never.insert(never.end(), {ani, digits, utf16, p.record.agent.name});
    const auto& pay = p.blocks[1].payload;
    never.emplace_back(reinterpret_cast<const char*>(pay.data()) + 100, 48);
  }
  auto grep_all = [&](const std::string& needle) {
    for (const auto& f : testing::AllFiles(dir_.path() + "/store")) {
      if (testdata::ReadFile(f).find(needle) != std::string::npos) return f;
    }
    return std::string();
  };
  for (const auto& n : must_vanish) ASSERT_NE(grep_all(n), "") << "test cannot see the bytes";
  store_.reset();  // reopen: the WAL of the first session is replayed and rolled
  store_ = std::move(*Store::Open(testdata::Opts(dir_.path())));
  // Any dead share triggers compaction here, so every purged block's ciphertext must go.
  // (With the default 0.5, a mostly-live segment keeps shredded ciphertext: unreadable,
  // no key exists any more, but present until the segment passes the threshold.)
  RetentionOptions o = Opt();
  o.compact_threshold = 1e-9;
  auto r = RunRetention(*store_, o);
  ASSERT_TRUE(r.ok()) << r.status();
  for (const auto& n : must_vanish) EXPECT_EQ(grep_all(n), "") << "purged bytes still in file";
  for (const auto& n : never) EXPECT_EQ(grep_all(n), "") << "PII or audio in file";
}

TEST_F(RetentionTest, ThresholdOneKeepsMixedSegments) {
  RetentionOptions o = Opt();
  o.compact_threshold = 1.0;
  auto r = RunRetention(*store_, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->segments_compacted, 0u);
  EXPECT_TRUE(store_->Verify()->ok());
  o.compact_threshold = 0;
  EXPECT_EQ(RunRetention(*store_, o).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace callvault::retention
