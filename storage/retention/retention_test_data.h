// Test data for the retention tests: a store with calls on both sides of the 18-month
// boundary, some held, in segments that are all-old, all-young and mixed, with contents
// the tests recompute (deterministic per call number).
#ifndef CALLVAULT_STORAGE_RETENTION_RETENTION_TEST_DATA_H_
#define CALLVAULT_STORAGE_RETENTION_RETENTION_TEST_DATA_H_

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "appliance/common/time_util.h"
#include "storage/store.h"
#include "storage/testing/store_test_util.h"

namespace callvault::retention::testdata {

// now = 2026-03-15T12:00:00Z; 18 months earlier = 2024-09-15T12:00:00Z (the cutoff).
inline uint64_t Now() { return *ParseTime("2026-03-15T12:00:00Z"); }
inline uint64_t Cutoff() { return *ParseTime("2024-09-15T12:00:00Z"); }

struct Planned {
  CallRecord record;
  std::vector<PlainBlock> blocks;
  bool old = false;   // start < cutoff
  bool held = false;
  bool expect_purged() const { return old && !held; }
};

inline StoreOptions Opts(const std::string& dir) {
  StoreOptions o;
  o.config.path = dir + "/store";
  o.config.key_file = dir + "/master.key";
  o.config.segment_bytes = 40'000;  // several segments per day
  o.create = true;
  return o;
}

// Call n starts at `start`; 3 blocks (SIP, RTP leg 0, RTP leg 1) of distinctive bytes.
inline Planned MakeCall(uint64_t n, uint64_t start, bool held) {
  std::mt19937_64 rng(n * 7919 + 1);
  Planned p;
  p.record = testing::RandomRecord(rng, start);
  p.record.ani = "+1202555" + std::to_string(1000 + n);  // unique per call
  p.record.agent.name = "Agentname" + std::to_string(10000 + n) + " Zyxwvut";
  p.old = start < Cutoff();
  p.held = held;
  p.blocks.push_back(testing::RandomBlock(rng, p.record.call_id, StreamKind::kSignalling, 0, 0,
                                          start, 900));
  p.blocks.push_back(
      testing::RandomBlock(rng, p.record.call_id, StreamKind::kRtp, 0, 0, start, 3000));
  p.blocks.push_back(
      testing::RandomBlock(rng, p.record.call_id, StreamKind::kRtp, 1, 0, start, 3000));
  return p;
}

// Days: 2024-08-01 (old only), 2024-09-15 (boundary: old at 00:00..11:59, young from
// 12:00 on, so its segments are mixed), 2025-06-01 (young only). Every 5th old call held.
inline std::vector<Planned> Plan() {
  std::vector<Planned> v;
  uint64_t n = 0;
  const uint64_t kMin = 60 * kNsPerSec;
  uint64_t d1 = *ParseTime("2024-08-01T08:00:00Z");
  for (int i = 0; i < 20; ++i, ++n) v.push_back(MakeCall(n, d1 + i * kMin, i % 5 == 3));
  uint64_t b = Cutoff();
  for (int i = 0; i < 24; ++i, ++n) {
    // Alternate old and young inside the same day and segment; the closest ones are 1 ms
    // either side of the cutoff (and one exactly at it: kept, start < cutoff is purged).
    uint64_t t = i % 2 == 0 ? b - uint64_t(i / 2) * kMin - kNsPerMs : b + uint64_t(i / 2) * kMin;
    v.push_back(MakeCall(n, t, i == 4));
  }
  uint64_t d3 = *ParseTime("2025-06-01T09:30:00Z");
  for (int i = 0; i < 10; ++i, ++n) v.push_back(MakeCall(n, d3 + i * kMin, false));
  return v;
}

inline void Write(Store& s, const std::vector<Planned>& plan) {
  // Flush every 6 calls: a sealed segment holds several calls (segment_bytes rolls too).
  StoreWriter* w = s.writer();
  std::size_t n = 0;
  for (const Planned& p : plan) {
    w->OnCallStarted(p.record);
    for (PlainBlock b : p.blocks) ASSERT_TRUE(w->Push(std::move(b)));
    w->OnCallEnded(p.record);
    if (++n % 6 == 0) {
      ASSERT_TRUE(w->Flush().ok());
    }
  }
  ASSERT_TRUE(w->Sync().ok());
  for (const Planned& p : plan) {
    if (p.held) {
      ASSERT_TRUE(s.AddHold({p.record.call_id, "CASE-7", "inquiry", "admin", 0}).ok());
    }
  }
}

// The call is fully present: record, every block byte for byte.
inline void ExpectIntact(Store& s, const Planned& p) {
  auto c = s.GetCall(p.record.call_id);
  ASSERT_TRUE(c.ok()) << p.record.call_id.ToString() << ": " << c.status();
  EXPECT_TRUE(testing::SameRecord(c->record, p.record));
  EXPECT_EQ(c->held, p.held);
  std::size_t i = 0;
  absl::Status st = s.ReadBlocks(p.record.call_id, {}, [&](const PlainBlock& b) {
    // Each planned block has a distinct (kind, leg).
    for (const PlainBlock& want : p.blocks) {
      if (want.info.kind == b.info.kind && want.info.leg == b.info.leg) {
        EXPECT_EQ(want.payload, b.payload);
      }
    }
    ++i;
    return true;
  });
  EXPECT_TRUE(st.ok()) << st;
  EXPECT_EQ(i, p.blocks.size());
}

// The call is fully gone: no record, no blocks, not found by ANI.
inline void ExpectGone(Store& s, const Planned& p) {
  EXPECT_EQ(s.GetCall(p.record.call_id).status().code(), absl::StatusCode::kNotFound)
      << p.record.call_id.ToString();
  std::size_t n = 0;
  absl::Status st = s.ReadBlocks(p.record.call_id, {}, [&](const PlainBlock&) {
    ++n;
    return true;
  });
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(n, 0u);
  SearchCriteria c;
  c.ani = p.record.ani;
  auto r = s.Search(c);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// Segment files on disk (sealed .seg only) == the accounted segments.
inline void ExpectFilesMatchAccounting(Store& s) {
  std::set<std::string> on_disk, accounted;
  for (const auto& f : testing::AllFiles(s.config().path + "/segments")) on_disk.insert(f);
  auto segs = s.ListSegments();
  ASSERT_TRUE(segs.ok());
  for (const auto& seg : *segs) accounted.insert(seg.path);
  EXPECT_EQ(on_disk, accounted);
}

}  // namespace callvault::retention::testdata

#endif  // CALLVAULT_STORAGE_RETENTION_RETENTION_TEST_DATA_H_
