// IngestFiles under disk pressure: the offline ingest applies callvaultd's policy
// (storage/retention/disk_guard.h) through an injected free-space probe. Expected counts
// come from a reference ingest of the same capture with plenty of space: the pipeline
// builds the same blocks either way, only the guard decides what reaches the store.
#include "cli/commands/ingest.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "appliance/common/call_id.h"
#include "storage/testing/store_test_util.h"

namespace callvault::cli {
namespace {

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kFloor = 1000 * kMiB;
constexpr uint64_t kReserve = 64 * kMiB;

std::string DataFile(const std::string& name) {
  const char* dir = std::getenv("CALLVAULT_TEST_DATA");
  return std::string(dir ? dir : "tests/data") + "/" + name;
}

bool IsMedia(StreamKind k) { return k != StreamKind::kSignalling && k != StreamKind::kEvents; }

struct Stored {
  std::size_t calls = 0;
  uint64_t media_blocks = 0;
  uint64_t other_blocks = 0;  // signalling + events
};

struct IngestRun {
  IngestResult result;
  Stored stored;
  std::vector<std::string> log;
};

// A fresh store, one ingest of `file` with a probe that reports free_bytes(poll number).
IngestRun Ingest(const std::string& file, std::function<uint64_t(int)> free_bytes) {
  IngestRun run;
  testing::TempDir dir;
  StoreOptions o = testing::MakeOptions(dir);
  o.config.disk_floor_bytes = kFloor;
  EXPECT_TRUE(InitKeyFile(o.config.key_file).ok());
  auto store = Store::Open(o);
  EXPECT_TRUE(store.ok()) << store.status();
  if (!store.ok()) return run;
  IngestDiskOptions disk;
  int polls = 0;
  disk.stat = [&](const std::string& path) -> absl::StatusOr<retention::DiskSpace> {
    EXPECT_EQ(path, o.config.path);
    return retention::DiskSpace{free_bytes(polls++), 100000 * kMiB};
  };
  disk.log = [&run](std::string_view line) { run.log.emplace_back(line); };
  disk.hard_reserve_bytes = kReserve;
  auto r = IngestFiles(Config{}, **store, {DataFile(file)}, nullptr, disk);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return run;
  run.result = *r;
  EXPECT_GE(polls, 2);  // before the file and at least at its end
  for (const std::string& s : r->call_ids) {
    auto id = CallId::Parse(s);
    EXPECT_TRUE(id.has_value()) << s;
    if (!id) continue;
    ++run.stored.calls;
    absl::Status st = (*store)->ReadBlocks(*id, BlockFilter{}, [&](const PlainBlock& b) {
      ++(IsMedia(b.info.kind) ? run.stored.media_blocks : run.stored.other_blocks);
      return true;
    });
    EXPECT_TRUE(st.ok()) << st;
  }
  return run;
}

const char kCall[] = "wswiki_SIP_CALL_RTP_G711.pcap";  // one G.711 call, 35 s of RTP

class IngestDiskTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ref_ = new IngestRun(Ingest(kCall, [](int) { return 50000 * kMiB; }));
  }
  static void TearDownTestSuite() {
    delete ref_;
    ref_ = nullptr;
  }
  static IngestRun* ref_;
};
IngestRun* IngestDiskTest::ref_ = nullptr;

TEST_F(IngestDiskTest, PlentyOfSpaceRecordsEverythingQuietly) {
  const IngestRun& r = *ref_;
  ASSERT_GE(r.stored.calls, 1u);
  ASSERT_GT(r.stored.media_blocks, 0u) << "the capture has RTP: the test needs media blocks";
  ASSERT_GT(r.stored.other_blocks, 0u);
  EXPECT_TRUE(r.log.empty());
  const auto& d = r.result.summary["disk"];
  EXPECT_EQ(d["state"], "ok");
  EXPECT_EQ(d["worst_state"], "ok");
  EXPECT_EQ(d["free_bytes"], 50000 * kMiB);
  EXPECT_EQ(d["floor_bytes"], kFloor);
  EXPECT_EQ(d["reserve_bytes"], kReserve);
  EXPECT_EQ(d["media_disk_full"], 0);
  EXPECT_FALSE(r.result.summary["drops"].contains("disk.media_disk_full"));
}

TEST_F(IngestDiskTest, BelowTheFloorAlarmsButRecordsEverything) {
  IngestRun r = Ingest(kCall, [](int) { return kFloor - 1; });
  ASSERT_EQ(r.log.size(), 1u);  // one line per transition, not per poll
  EXPECT_NE(r.log[0].find("ok -> low"), std::string::npos) << r.log[0];
  EXPECT_EQ(r.stored.calls, ref_->stored.calls);
  EXPECT_EQ(r.stored.media_blocks, ref_->stored.media_blocks);
  EXPECT_EQ(r.stored.other_blocks, ref_->stored.other_blocks);
  const auto& d = r.result.summary["disk"];
  EXPECT_EQ(d["state"], "low");
  EXPECT_EQ(d["worst_state"], "low");
  EXPECT_EQ(d["media_disk_full"], 0);
}

TEST_F(IngestDiskTest, FullDiskDropsMediaOnlyWithCounter) {
  IngestRun r = Ingest(kCall, [](int) { return kReserve - 1; });
  ASSERT_FALSE(r.log.empty());
  EXPECT_NE(r.log[0].find("ok -> full"), std::string::npos) << r.log[0];
  EXPECT_NE(r.log[0].find("signalling still recorded"), std::string::npos) << r.log[0];
  // Call records and signalling kept; every media block refused and counted.
  EXPECT_EQ(r.stored.calls, ref_->stored.calls);
  EXPECT_EQ(r.stored.other_blocks, ref_->stored.other_blocks);
  EXPECT_EQ(r.stored.media_blocks, 0u);
  const auto& s = r.result.summary;
  EXPECT_EQ(s["disk"]["state"], "full");
  EXPECT_EQ(s["disk"]["media_disk_full"], ref_->stored.media_blocks);
  EXPECT_EQ(s["drops"]["disk.media_disk_full"], ref_->stored.media_blocks);
  // Counted once: the guard's counter owns a disk-full refusal, not the media engine's.
  EXPECT_FALSE(s["drops"].contains("media.sink_refused")) << s["drops"].dump();
  EXPECT_EQ(s["calls"], ref_->result.summary["calls"]);
}

TEST_F(IngestDiskTest, RecoversByItselfWhenSpaceReturns) {
  // Full for the first 8 polls (before the file, then one per second of capture time),
  // then plenty: the media blocks sealed in those seconds are lost, the rest is kept.
  IngestRun r = Ingest(kCall, [](int poll) { return poll < 8 ? kReserve - 1 : 50000 * kMiB; });
  const uint64_t dropped = r.result.summary["disk"]["media_disk_full"].get<uint64_t>();
  EXPECT_GT(dropped, 0u);
  EXPECT_LT(dropped, ref_->stored.media_blocks);
  EXPECT_EQ(r.stored.media_blocks + dropped, ref_->stored.media_blocks);
  EXPECT_EQ(r.stored.other_blocks, ref_->stored.other_blocks);
  EXPECT_EQ(r.result.summary["disk"]["state"], "ok");
  EXPECT_EQ(r.result.summary["disk"]["worst_state"], "full");
  ASSERT_EQ(r.log.size(), 2u);
  EXPECT_NE(r.log[1].find("full -> ok"), std::string::npos) << r.log[1];
  EXPECT_NE(r.log[1].find("recording fully resumed"), std::string::npos) << r.log[1];
}

TEST(IngestDiskProbe, ProbeErrorIsReportedOnceAndRecordingGoesOn) {
  testing::TempDir dir;
  StoreOptions o = testing::MakeOptions(dir);
  ASSERT_TRUE(InitKeyFile(o.config.key_file).ok());
  auto store = Store::Open(o);
  ASSERT_TRUE(store.ok()) << store.status();
  IngestDiskOptions disk;
  std::vector<std::string> log;
  disk.stat = [](const std::string&) -> absl::StatusOr<retention::DiskSpace> {
    return absl::InternalError("statvfs /x: Input/output error");
  };
  disk.log = [&log](std::string_view line) { log.emplace_back(line); };
  auto r = IngestFiles(Config{}, **store, {DataFile(kCall)}, nullptr, disk);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_NE(log[0].find("disk check: statvfs /x: Input/output error"), std::string::npos);
  EXPECT_EQ(r->summary["disk"]["state"], "ok");
  EXPECT_FALSE(r->call_ids.empty());
}

}  // namespace
}  // namespace callvault::cli
