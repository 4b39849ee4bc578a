#include "storage/retention/disk_guard.h"
#include "storage/store_pipeline_sink.h"

#include <gtest/gtest.h>

#include <map>
#include <sstream>
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

// Every sample line of the Prometheus text, "name{labels}" -> value; checks the format.
std::map<std::string, std::string> Samples(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line, typed;
  while (std::getline(in, line)) {
    EXPECT_FALSE(line.empty());
    if (line.rfind("# HELP callvault_disk_", 0) == 0) continue;
    if (line.rfind("# TYPE callvault_disk_", 0) == 0) {
      typed = line.substr(7, line.find(' ', 7) - 7);
      continue;
    }
    EXPECT_EQ(line.rfind(typed, 0), 0u) << "sample without its # TYPE line: " << line;
    std::size_t sp = line.rfind(' ');
    EXPECT_NE(sp, std::string::npos) << line;
    out[line.substr(0, sp)] = line.substr(sp + 1);
  }
  return out;
}

TEST(DiskGuardTest, PrometheusLinesFollowTheState) {
  Fake f;
  DiskGuard g = Make(f);
  f.free = 123456789;
  ASSERT_EQ(*g.Poll(), DiskState::kLow);  // 117.7 MiB < 1000 MiB floor
  auto m = Samples(RenderDiskPrometheus(g));
  EXPECT_EQ(m.at("callvault_disk_free_bytes"), "123456789");
  EXPECT_EQ(m.at("callvault_disk_total_bytes"), std::to_string(20000 * kMiB));
  EXPECT_EQ(m.at("callvault_disk_floor_bytes"), std::to_string(1000 * kMiB));
  EXPECT_EQ(m.at("callvault_disk_reserve_bytes"), std::to_string(64 * kMiB));
  EXPECT_EQ(m.at("callvault_disk_alarm"), "1");
  EXPECT_EQ(m.at("callvault_disk_state{state=\"ok\"}"), "0");
  EXPECT_EQ(m.at("callvault_disk_state{state=\"low\"}"), "1");
  EXPECT_EQ(m.at("callvault_disk_state{state=\"full\"}"), "0");
  EXPECT_EQ(m.at("callvault_disk_dropped_total{reason=\"media_disk_full\"}"), "0");
  EXPECT_EQ(m.at("callvault_disk_state_transitions_total"), "1");
  EXPECT_EQ(m.size(), 10u);

  f.free = 1 * kMiB;
  ASSERT_EQ(*g.Poll(), DiskState::kFull);
  EXPECT_FALSE(g.AdmitMedia());
  EXPECT_FALSE(g.AdmitMedia());
  EXPECT_FALSE(g.AdmitMedia());
  m = Samples(RenderDiskPrometheus(g));
  EXPECT_EQ(m.at("callvault_disk_free_bytes"), std::to_string(1 * kMiB));
  EXPECT_EQ(m.at("callvault_disk_state{state=\"low\"}"), "0");
  EXPECT_EQ(m.at("callvault_disk_state{state=\"full\"}"), "1");
  EXPECT_EQ(m.at("callvault_disk_dropped_total{reason=\"media_disk_full\"}"), "3");
  EXPECT_EQ(m.at("callvault_disk_state_transitions_total"), "2");

  f.free = 10000 * kMiB;
  ASSERT_EQ(*g.Poll(), DiskState::kOk);
  m = Samples(RenderDiskPrometheus(g));
  EXPECT_EQ(m.at("callvault_disk_alarm"), "0");
  EXPECT_EQ(m.at("callvault_disk_state{state=\"ok\"}"), "1");
  // A counter never goes back: the drops stay after recovery.
  EXPECT_EQ(m.at("callvault_disk_dropped_total{reason=\"media_disk_full\"}"), "3");
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

namespace callvault::retention {
namespace {

// The sink in front of the store writer applies the guard: while the disk is full, media
// blocks are discarded and counted once, by the guard (Push() returns true, so the media
// engine's sink_refused does not count them again); signalling blocks, leg summaries and
// call records still reach the writer.
class RecordingWriter : public StoreWriter {
 public:
  void OnCallStarted(const CallRecord&) override { ++records; }
  void OnCallUpdated(const CallRecord&) override { ++records; }
  void OnCallEnded(const CallRecord&) override { ++records; }
  bool Push(PlainBlock&& b) override {
    kinds.push_back(b.info.kind);
    return true;
  }
  absl::Status Flush() override { return absl::OkStatus(); }
  absl::Status FlushBehind() override { return absl::OkStatus(); }
  absl::Status Sync() override { return absl::OkStatus(); }
  absl::Status status() const override { return absl::OkStatus(); }
  uint64_t blocks_dropped() const override { return 0; }
  int records = 0;
  std::vector<StreamKind> kinds;
};

PlainBlock Block(StreamKind k) {
  PlainBlock b;
  b.info.kind = k;
  b.payload.assign(10, 0);
  return b;
}

TEST(DiskGuardSinkTest, FullDiskRefusesMediaOnlyAndRecovers) {
  Fake f;
  DiskGuard g = Make(f);
  RecordingWriter w;
  StorePipelineSink sink(&w, &g);
  f.free = 10 * kMiB;
  ASSERT_EQ(*g.Poll(), DiskState::kFull);
  CallRecord r;
  sink.OnCallStarted(r);
  EXPECT_TRUE(sink.Push(Block(StreamKind::kRtp)));
  EXPECT_TRUE(sink.Push(Block(StreamKind::kRtcp)));
  EXPECT_TRUE(sink.Push(Block(StreamKind::kSignalling)));
  EXPECT_TRUE(sink.Push(Block(StreamKind::kEvents)));
  sink.OnCallEnded(r);
  EXPECT_EQ(w.records, 2);
  EXPECT_EQ(w.kinds, (std::vector<StreamKind>{StreamKind::kSignalling, StreamKind::kEvents}));
  EXPECT_EQ(g.drops(DiskDrop::kMediaDiskFull), 2u);
  f.free = 5000 * kMiB;  // space returned (retention ran, or an operator freed some)
  ASSERT_EQ(*g.Poll(), DiskState::kOk);
  EXPECT_TRUE(sink.Push(Block(StreamKind::kRtp)));
  EXPECT_EQ(w.kinds.back(), StreamKind::kRtp);
}

}  // namespace
}  // namespace callvault::retention
