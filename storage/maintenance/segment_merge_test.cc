// MergeSmallSegments: many small segments of a closed day become a few large ones; every
// call reads back identically (same sealed bytes, same payload); today's segments, large
// segments and destroyed calls are handled as documented; no PII reaches the disk.
#include "storage/maintenance/segment_merge.h"

#include <sys/stat.h>

#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "storage/maintenance/merge_test_data.h"
#include "storage/retention/retention.h"
#include "storage/retention/retention_json.h"

namespace callvault {
namespace {

using mergetest::Call;
using mergetest::kNow;
using mergetest::kSealed;
using mergetest::kSmallSegment;
using mergetest::kTarget;

class SegmentMergeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitKeyFile(mergetest::Opts(dir_.path()).config.key_file).ok());
    Reopen();
    plan_ = mergetest::Plan();
    mergetest::Write(*store_, plan_);
    for (const Call& c : plan_) {
      if (!c.destroyed) {
        sealed_[c.record.call_id.value] = mergetest::SealedBytes(*store_, c.record.call_id);
        ASSERT_EQ(sealed_[c.record.call_id.value].size(), kSealed);
      }
    }
  }
  void Reopen() {
    store_.reset();
    auto s = Store::Open(mergetest::Opts(dir_.path()));
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }
  std::vector<SegmentUsage> SegsOf(uint32_t day) {
    std::vector<SegmentUsage> out;
    auto all = store_->ListSegments();
    EXPECT_TRUE(all.ok()) << all.status();
    for (const auto& s : all.value()) {
      if (s.day == day) out.push_back(s);
    }
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  std::vector<Call> plan_;
  std::map<uint64_t, std::string> sealed_;
};

TEST_F(SegmentMergeTest, SmallSegmentsOfAClosedDayBecomeFewLargeOnes) {
  auto before = SegsOf(mergetest::DayD());
  ASSERT_EQ(before.size(), 24u);
  for (const auto& s : before) EXPECT_EQ(s.file_bytes, kSmallSegment);
  auto today_before = SegsOf(mergetest::Today());
  ASSERT_EQ(today_before.size(), 3u);

  auto r = MergeSmallSegments(*store_, mergetest::MergeOpts());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->problems.empty()) << r->problems.front();
  EXPECT_EQ(r->days, 1u);
  EXPECT_EQ(r->segments_in, 24u);
  EXPECT_EQ(r->segments_out, 4u);
  EXPECT_EQ(r->blocks_moved, 36u);  // 48 calls, 12 destroyed: their blocks are dropped
  EXPECT_EQ(r->bytes_in, 24 * kSmallSegment);
  EXPECT_EQ(r->bytes_out, 4 * (32 + 9 * kSealed));

  auto after = SegsOf(mergetest::DayD());
  ASSERT_EQ(after.size(), 4u);
  for (const auto& s : after) {
    EXPECT_EQ(s.file_bytes, 32 + 9 * kSealed);
    EXPECT_LE(s.file_bytes, kTarget);
    EXPECT_EQ(s.live_bytes, 9 * kSealed);
    EXPECT_EQ(s.dead_bytes, 0u);
    struct stat st;
    ASSERT_EQ(::stat(s.path.c_str(), &st), 0);
    EXPECT_EQ(uint64_t(st.st_size), s.file_bytes);
  }
  for (const auto& s : before) {
    struct stat st;
    EXPECT_NE(::stat(s.path.c_str(), &st), 0) << "input not deleted: " << s.path;
  }
  // Today's bucket is not touched (same ids, same files).
  auto today_after = SegsOf(mergetest::Today());
  ASSERT_EQ(today_after.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(today_after[i].segment_id, today_before[i].segment_id);
    EXPECT_EQ(today_after[i].file_bytes, today_before[i].file_bytes);
  }
  auto days = store_->DiskUsageByDay();
  ASSERT_TRUE(days.ok());
  for (const auto& d : *days) {
    if (d.day != mergetest::DayD()) continue;
    EXPECT_EQ(d.bytes, 4 * (32 + 9 * kSealed));
    EXPECT_EQ(d.dead_bytes, 0u);
    EXPECT_EQ(d.segments, 4u);
  }
  mergetest::ExpectConsistent(*store_, plan_, sealed_);

  // Idempotent, and the same after a restart.
  auto again = MergeSmallSegments(*store_, mergetest::MergeOpts());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->segments_in, 0u);
  Reopen();
  mergetest::ExpectConsistent(*store_, plan_, sealed_);
}

TEST_F(SegmentMergeTest, ThresholdsAndTodayAreRespected) {
  MergeOptions o = mergetest::MergeOpts();
  o.below_bytes = 0;  // off
  EXPECT_EQ(MergeSmallSegments(*store_, o)->segments_in, 0u);
  o = mergetest::MergeOpts();
  o.below_bytes = kSmallSegment;  // "smaller than": an 8224-byte segment is not small
  EXPECT_EQ(MergeSmallSegments(*store_, o)->segments_in, 0u);
  o = mergetest::MergeOpts();
  o.now_ns = mergetest::kT0;  // day D is today: left alone
  EXPECT_EQ(MergeSmallSegments(*store_, o)->segments_in, 0u);
  o = mergetest::MergeOpts();
  o.target_bytes = o.below_bytes - 1;
  auto bad = MergeSmallSegments(*store_, o);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(bad.status().message()).find("store.merge_target_bytes"),
            std::string::npos);
  EXPECT_EQ(SegsOf(mergetest::DayD()).size(), 24u);
  // A target that fits everything: one output; a tomorrow-now merges today's bucket too.
  o = mergetest::MergeOpts();
  o.target_bytes = 1 << 20;
  o.now_ns = kNow + 86'400'000'000'000ull;
  auto r = MergeSmallSegments(*store_, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->segments_in, 27u);
  EXPECT_EQ(r->segments_out, 2u);
  EXPECT_EQ(SegsOf(mergetest::DayD()).size(), 1u);
  EXPECT_EQ(SegsOf(mergetest::DayD())[0].file_bytes, 32 + 36 * kSealed);
  EXPECT_EQ(SegsOf(mergetest::Today()).size(), 1u);
  mergetest::ExpectConsistent(*store_, plan_, sealed_);
}

TEST_F(SegmentMergeTest, WriterAfterMergeGetsFreshIdsAndLateBlocksMergeLater) {
  ASSERT_TRUE(MergeSmallSegments(*store_, mergetest::MergeOpts()).ok());
  auto merged = SegsOf(mergetest::DayD());
  // Late blocks of day D (e.g. a call that ended after midnight) in the same process ...
  std::mt19937_64 rng(99);
  std::vector<Call> late;
  for (int i = 0; i < 4; ++i) {
    Call c;
    c.record = testing::RandomRecord(rng, mergetest::kT0 + 3'000'000'000'000ull + uint64_t(i));
    c.block = testing::RandomBlock(rng, c.record.call_id, StreamKind::kRtp, 0, 0,
                                   c.record.start_ns, mergetest::kPayload);
    store_->writer()->OnCallStarted(c.record);
    PlainBlock b = c.block;
    ASSERT_TRUE(store_->writer()->Push(std::move(b)));
    store_->writer()->OnCallEnded(c.record);
    ASSERT_TRUE(store_->writer()->Flush().ok());
    late.push_back(std::move(c));
  }
  auto segs = SegsOf(mergetest::DayD());
  ASSERT_EQ(segs.size(), 8u);
  for (const auto& s : segs) {
    bool is_merged = std::any_of(merged.begin(), merged.end(), [&](const SegmentUsage& m) {
      return m.segment_id == s.segment_id;
    });
    if (!is_merged) {
      EXPECT_EQ(s.file_bytes, 32 + kSealed);
    }
  }
  // ... are merged by the next run; the outputs (36896 bytes >= below_bytes) are left.
  auto r = MergeSmallSegments(*store_, mergetest::MergeOpts());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->segments_in, 4u);
  EXPECT_EQ(r->segments_out, 1u);
  for (const Call& c : late) {
    // Payloads are compared; their sealed bytes were not captured before the merge.
    sealed_[c.record.call_id.value] = mergetest::SealedBytes(*store_, c.record.call_id);
    plan_.push_back(c);
  }
  mergetest::ExpectConsistent(*store_, plan_, sealed_);
  Reopen();
  mergetest::ExpectConsistent(*store_, plan_, sealed_);
}

// The plaintext-grep rule holds after a merge: no ANI, dialled number or agent name of
// any call in any file of the store (segments, SST, WAL, LOG).
TEST_F(SegmentMergeTest, NoPlaintextPiiAfterMerge) {
  ASSERT_TRUE(MergeSmallSegments(*store_, mergetest::MergeOpts()).ok());
  ASSERT_TRUE(store_->CompactIndex().ok());
  store_.reset();
  std::string all;
  for (const auto& f : testing::AllFiles(dir_.path() + "/store")) {
    std::ifstream in(f, std::ios::binary);
    all.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  ASSERT_GT(all.size(), 24 * kSealed);
  for (const Call& c : plan_) {
    for (const std::string& pii : {c.record.ani, c.record.ani.substr(1), c.record.dialled,
                                   c.record.agent.name}) {
      EXPECT_EQ(all.find(pii), std::string::npos) << "found " << pii;
    }
  }
}

// The nightly job runs the merge (retention step 3c) when the config enables it.
TEST_F(SegmentMergeTest, NightlyRetentionRunMergesWhenEnabled) {
  retention::RetentionOptions ro;
  ro.now_ns = kNow;  // nothing is past 18 months
  auto off = retention::RunRetention(*store_, ro);
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_EQ(off->segments_merged, 0u);
  // The 12 half-dead segments pass compact_threshold 0.5: each is compacted alone.
  EXPECT_EQ(off->segments_compacted, 12u);
  EXPECT_EQ(off->bytes_reclaimed, 12 * kSealed);
  EXPECT_EQ(SegsOf(mergetest::DayD()).size(), 24u);
  ro.merge_below_bytes = mergetest::MergeOpts().below_bytes;
  ro.merge_target_bytes = kTarget;
  auto on = retention::RunRetention(*store_, ro);
  ASSERT_TRUE(on.ok()) << on.status();
  EXPECT_EQ(on->calls, 0u);
  EXPECT_EQ(on->segments_merged, 24u);
  EXPECT_EQ(on->merge_outputs, 4u);
  // Inputs: 12 x 8224 + 12 x 4128 bytes; outputs: the 36 live blocks + 4 headers.
  EXPECT_EQ(on->bytes_reclaimed, 12 * kSmallSegment + 12 * (32 + kSealed) -
                                     (36 * kSealed + 4 * 32));
  auto j = retention::RetentionReportJson(*on);
  EXPECT_EQ(j["segments_merged"], 24);
  EXPECT_EQ(j["merge_outputs"], 4);
  EXPECT_EQ(SegsOf(mergetest::DayD()).size(), 4u);
  mergetest::ExpectConsistent(*store_, plan_, sealed_);
}

}  // namespace
}  // namespace callvault
