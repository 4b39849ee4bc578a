// Test data for the segment merge tests (segment_merge_test.cc, segment_merge_crash_test.cc):
// a store whose closed day holds many small segments, some blocks of destroyed calls, and
// a few segments of "today" that must stay untouched; plus checks that read every file.
//
// Construction (so expected values follow from it, not from the code under test):
//   day D (kT0's UTC day): kDayCalls calls, two per writer flush, so 24 segments of
//   2 blocks; every block is one RTP block of kPayload bytes, sealed to kSealed = 4096
//   bytes; a segment file is 32 + 2 * 4096 = 8224 bytes. Calls i % 4 == 3 are destroyed,
//   so segments alternate between 2 live blocks (8192 live bytes) and 1 live + 1 dead.
//   today (kNow's UTC day): kTodayCalls calls, one segment each.
//   With target = 32 + 10 * 4096 a run takes 3 segment pairs (3 * 12288 = 36864 live
//   bytes; a 7th segment of 8192 would pass 40960), so the 24 segments become 4 outputs
//   of 32 + 36864 = 36896 bytes, 9 blocks each, 36 blocks moved.
#ifndef CALLVAULT_STORAGE_MAINTENANCE_MERGE_TEST_DATA_H_
#define CALLVAULT_STORAGE_MAINTENANCE_MERGE_TEST_DATA_H_

#include <fcntl.h>
#include <unistd.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "appliance/common/time_util.h"
#include "storage/index/index_keys.h"
#include "storage/maintenance/segment_merge.h"
#include "storage/segment/block_codec.h"
#include "storage/segment/segment_format.h"
#include "storage/store_impl.h"
#include "storage/testing/store_test_util.h"

namespace callvault::mergetest {

inline constexpr uint64_t kT0 = 1'780'000'000'000'000'000ull;  // 2026-05-28T20:26:40Z
inline constexpr int kDayCalls = 48;
inline constexpr int kTodayCalls = 3;
inline constexpr std::size_t kPayload = 4096 - kBlockHeaderBytes - kBlockTagBytes;
inline constexpr uint64_t kSealed = 4096;
inline constexpr uint64_t kSmallSegment = kSegmentHeaderBytes + 2 * kSealed;  // 8224
inline constexpr uint64_t kTarget = kSegmentHeaderBytes + 10 * kSealed;       // 40992
inline constexpr uint64_t kNow = kT0 + 2 * 86'400'000'000'000ull;

inline uint32_t DayD() { return DayOf(kT0); }
inline uint32_t Today() { return DayOf(kNow); }

struct Call {
  CallRecord record;
  PlainBlock block;
  bool destroyed = false;
  bool today = false;
};

inline StoreOptions Opts(const std::string& dir) {
  StoreOptions o;
  o.config.path = dir + "/store";
  o.config.key_file = dir + "/master.key";
  o.create = true;
  return o;
}

inline MergeOptions MergeOpts() {
  MergeOptions m;
  m.below_bytes = 20'000;  // inputs (8224, 4128 bytes) are small, outputs (36896) not
  m.target_bytes = kTarget;
  m.now_ns = kNow;
  return m;
}

inline std::vector<Call> Plan() {
  std::vector<Call> out;
  std::mt19937_64 rng(7);
  for (int i = 0; i < kDayCalls + kTodayCalls; ++i) {
    Call c;
    c.today = i >= kDayCalls;
    uint64_t start = c.today ? kNow - 600'000'000'000ull + uint64_t(i) * 1'000'000'000ull
                             : kT0 + uint64_t(i) * 60'000'000'000ull;
    c.record = testing::RandomRecord(rng, start);
    c.block = testing::RandomBlock(rng, c.record.call_id, StreamKind::kRtp, 0, 0, start,
                                   kPayload);
    c.destroyed = !c.today && i % 4 == 3;
    out.push_back(std::move(c));
  }
  return out;
}

// Writes the plan (two day-D calls per flush, one today call per flush), then destroys.
inline void Write(Store& s, const std::vector<Call>& plan) {
  StoreWriter* w = s.writer();
  for (std::size_t i = 0; i < plan.size(); ++i) {
    w->OnCallStarted(plan[i].record);
    PlainBlock b = plan[i].block;
    ASSERT_TRUE(w->Push(std::move(b)));
    w->OnCallEnded(plan[i].record);
    if (plan[i].today || i % 2 == 1) {
      ASSERT_TRUE(w->Flush().ok());
    }
  }
  std::vector<CallId> gone;
  for (const Call& c : plan) {
    if (c.destroyed) gone.push_back(c.record.call_id);
  }
  auto d = s.DestroyCalls(gone);
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->calls, gone.size());
}

// The sealed bytes of a call's block as the index locates them ("" when not located).
inline std::string SealedBytes(Store& s, CallId id) {
  StoreImpl& m = *s.impl();
  std::string v;
  if (!m.db->Get(rocksdb::ReadOptions(), m.h(idx::kBlocks),
                 idx::BlockKey(id, StreamKind::kRtp, 0, 0), &v).ok()) {
    return "";
  }
  auto loc = idx::DecodeLocation(v);
  if (!loc) return "";
  std::string out(loc->length, '\0');
  int fd = ::open(m.SegmentPath(loc->day, loc->segment).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  ssize_t n = ::pread(fd, out.data(), out.size(), off_t(loc->offset));
  ::close(fd);
  return n == ssize_t(out.size()) ? out : "";
}

// Every block header in every sealed segment file: (call id, kind, leg, seq) -> count.
inline std::map<std::tuple<uint64_t, int, int, uint32_t>, int> BlocksOnDisk(Store& s) {
  std::map<std::tuple<uint64_t, int, int, uint32_t>, int> out;
  for (const auto& f : testing::AllFiles(s.config().path + "/segments")) {
    EXPECT_TRUE(f.ends_with(".seg")) << "leftover " << f;
    int fd = ::open(f.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    off_t end = ::lseek(fd, 0, SEEK_END);
    for (off_t off = off_t(kSegmentHeaderBytes); off < end;) {
      uint8_t h[kBlockHeaderBytes];
      if (::pread(fd, h, sizeof h, off) != ssize_t(sizeof h)) break;
      auto bh = ParseBlockHeader(std::span<const uint8_t>(h, sizeof h));
      if (!bh.ok()) {
        ADD_FAILURE() << f << " offset " << off << ": " << bh.status();
        break;
      }
      ++out[{bh->info.call_id.value, int(bh->info.kind), bh->info.leg, bh->info.seq}];
      off += off_t(SealedBlockSize(bh->payload_len));
    }
    ::close(fd);
  }
  return out;
}

// After any crash and reopen: Verify() clean, every kept call readable with the exact
// payload and the same sealed bytes, destroyed calls gone, every live block stored exactly
// once on disk, segment files equal to the accounting.
inline void ExpectConsistent(Store& s, const std::vector<Call>& plan,
                             const std::map<uint64_t, std::string>& sealed_before) {
  auto v = s.Verify();
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(v->ok()) << v->ToStatus();
  auto on_disk = BlocksOnDisk(s);
  for (const Call& c : plan) {
    auto g = s.GetCall(c.record.call_id);
    if (c.destroyed) {
      EXPECT_EQ(g.status().code(), absl::StatusCode::kNotFound);
      continue;
    }
    ASSERT_TRUE(g.ok()) << g.status();
    EXPECT_EQ(g->blocks, 1u);
    int n = 0;
    ASSERT_TRUE(s.ReadBlocks(c.record.call_id, {}, [&](const PlainBlock& b) {
      EXPECT_EQ(b.payload, c.block.payload);
      ++n;
      return true;
    }).ok());
    EXPECT_EQ(n, 1);
    EXPECT_EQ(SealedBytes(s, c.record.call_id), sealed_before.at(c.record.call_id.value))
        << "sealed bytes changed";
    EXPECT_EQ((on_disk[{c.record.call_id.value, int(StreamKind::kRtp), 0, 0}]), 1)
        << "live block stored " << on_disk[{c.record.call_id.value, int(StreamKind::kRtp), 0, 0}]
        << " times";
  }
  auto segs = s.ListSegments();
  ASSERT_TRUE(segs.ok());
  uint64_t files = 0;
  std::map<uint32_t, uint64_t> day_bytes, day_segs;
  for (const auto& seg : *segs) {
    struct stat st;
    ASSERT_EQ(::stat(seg.path.c_str(), &st), 0) << seg.path;
    EXPECT_EQ(uint64_t(st.st_size), seg.file_bytes);
    EXPECT_EQ(seg.live_bytes + seg.dead_bytes + kSegmentHeaderBytes, seg.file_bytes);
    day_bytes[seg.day] += seg.file_bytes;
    ++day_segs[seg.day];
    ++files;
  }
  EXPECT_EQ(testing::AllFiles(s.config().path + "/segments").size(), files);
  auto days = s.DiskUsageByDay();
  ASSERT_TRUE(days.ok());
  for (const auto& d : *days) {
    EXPECT_EQ(d.bytes, day_bytes[d.day]);
    EXPECT_EQ(d.segments, day_segs[d.day]);
  }
}

}  // namespace callvault::mergetest

#endif  // CALLVAULT_STORAGE_MAINTENANCE_MERGE_TEST_DATA_H_
