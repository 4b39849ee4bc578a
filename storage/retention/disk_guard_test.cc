#include "storage/retention/disk_guard.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace callvault::retention {
namespace {

constexpr uint64_t kMiB = 1ull << 20;

struct Fake {
  uint64_t free = 10000 * kMiB;
  bool fail = false;
  std::vector<std::string> logs;
};

DiskGuard Make(Fake& f, uint64_t floor = 1000 * kMiB, uint64_t reserve = 64 * kMiB) {
  DiskGuardOptions o;
  o.path = "/store";
  o.floor_bytes = floor;
  o.hard_reserve_bytes = reserve;
  o.stat = [&f](const std::string& p) -> absl::StatusOr<DiskSpace> {
    EXPECT_EQ(p, "/store");
    if (f.fail) return absl::InternalError("statvfs failed");
    return DiskSpace{f.free, 20000 * kMiB};
  };
  o.log = [&f](std::string_view l) { f.logs.emplace_back(l); };
  return DiskGuard(std::move(o));
}

TEST(DiskGuardTest, OkAboveFloor) {
  Fake f;
  DiskGuard g = Make(f);
  ASSERT_EQ(*g.Poll(), DiskState::kOk);
  EXPECT_FALSE(g.alarm());
  EXPECT_EQ(g.free_bytes(), 10000 * kMiB);
  EXPECT_TRUE(g.AdmitMedia());
  EXPECT_TRUE(f.logs.empty());
}

TEST(DiskGuardTest, BelowFloorAlarmsButKeepsRecordingMedia) {
  Fake f;
  DiskGuard g = Make(f);
  f.free = 999 * kMiB;
  ASSERT_EQ(*g.Poll(), DiskState::kLow);
  EXPECT_TRUE(g.alarm());
  EXPECT_TRUE(g.AdmitMedia());
  EXPECT_TRUE(g.AdmitSignalling());
  EXPECT_EQ(g.drops(DiskDrop::kMediaDiskFull), 0u);
  ASSERT_EQ(f.logs.size(), 1u);
  EXPECT_NE(f.logs[0].find("ok -> low"), std::string::npos) << f.logs[0];
  // Still low: no second log line.
  ASSERT_EQ(*g.Poll(), DiskState::kLow);
  EXPECT_EQ(f.logs.size(), 1u);
}

TEST(DiskGuardTest, TrulyFullDropsMediaWithCounterKeepsSignalling) {
  Fake f;
  DiskGuard g = Make(f);
  f.free = 63 * kMiB;
  ASSERT_EQ(*g.Poll(), DiskState::kFull);
  EXPECT_FALSE(g.AdmitMedia());
  EXPECT_FALSE(g.AdmitMedia());
  EXPECT_TRUE(g.AdmitSignalling());
  EXPECT_EQ(g.drops(DiskDrop::kMediaDiskFull), 2u);
  EXPECT_EQ(DropName(DiskDrop::kMediaDiskFull), "media_disk_full");
  EXPECT_NE(f.logs.back().find("media blocks are dropped"), std::string::npos);
}

TEST(DiskGuardTest, RecoversWithHysteresis) {
  Fake f;
  DiskGuard g = Make(f);
  f.free = 10 * kMiB;
  ASSERT_EQ(*g.Poll(), DiskState::kFull);
  f.free = 100 * kMiB;  // above the reserve, below 2x reserve: still full
  ASSERT_EQ(*g.Poll(), DiskState::kFull);
  f.free = 128 * kMiB;  // 2x reserve: back to low (still under the floor)
  ASSERT_EQ(*g.Poll(), DiskState::kLow);
  EXPECT_TRUE(g.AdmitMedia());
  f.free = 1000 * kMiB;  // at the floor but within floor/20: still low
  ASSERT_EQ(*g.Poll(), DiskState::kLow);
  f.free = 1050 * kMiB;  // floor + floor/20
  ASSERT_EQ(*g.Poll(), DiskState::kOk);
  EXPECT_FALSE(g.alarm());
  EXPECT_EQ(g.transitions(), 3u);
  EXPECT_NE(f.logs.back().find("recording fully resumed"), std::string::npos);
}

TEST(DiskGuardTest, StatErrorKeepsState) {
  Fake f;
  DiskGuard g = Make(f);
  f.free = 500 * kMiB;
  ASSERT_EQ(*g.Poll(), DiskState::kLow);
  f.fail = true;
  EXPECT_FALSE(g.Poll().ok());
  EXPECT_EQ(g.state(), DiskState::kLow);
}

TEST(DiskGuardTest, ReserveAboveFloorIsClampedToFloor) {
  Fake f;
  DiskGuard g = Make(f, /*floor=*/100 * kMiB, /*reserve=*/500 * kMiB);
  f.free = 150 * kMiB;
  ASSERT_EQ(*g.Poll(), DiskState::kOk);
  f.free = 99 * kMiB;
  ASSERT_EQ(*g.Poll(), DiskState::kFull);
}

TEST(DiskGuardTest, RealStatvfsOnThisFileSystem) {
  auto sp = StatFileSystem(".");
  ASSERT_TRUE(sp.ok()) << sp.status();
  EXPECT_GT(sp->total_bytes, 0u);
  EXPECT_LE(sp->free_bytes, sp->total_bytes);
  EXPECT_FALSE(StatFileSystem("/nonexistent/dir/for/sure").ok());
}

}  // namespace
}  // namespace callvault::retention
