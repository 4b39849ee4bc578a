// RunPcapDaemon's two threads: everything the capture thread's pipeline hands over reaches
// the store writer, and a store error on the writer thread is returned.
#include "dpdk_app/daemon_pcap.h"

#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "absl/status/status.h"

namespace callvault::dpdk {
namespace {

std::string DataFile(const char* name) {
  const char* dir = std::getenv("CV_TEST_DATA");
  return std::string(dir != nullptr ? dir : "tests/data") + "/" + name;
}

// A store writer that keeps counts; FlushBehind fails when asked to.
class CountingWriter final : public StoreWriter {
 public:
  explicit CountingWriter(bool fail_flush) : fail_flush_(fail_flush) {}
  void OnCallStarted(const CallRecord&) override { ++events; }
  void OnCallUpdated(const CallRecord&) override { ++events; }
  void OnCallEnded(const CallRecord&) override {
    ++events;
    ++ended;
  }
  bool Push(PlainBlock&& b) override {
    ++blocks;
    bytes += b.payload.size();
    return true;
  }
  absl::Status Flush() override { return absl::OkStatus(); }
  absl::Status FlushBehind() override {
    ++flushes;
    return fail_flush_ ? absl::ResourceExhaustedError("write segment: No space left on device")
                       : absl::OkStatus();
  }
  absl::Status Sync() override {
    ++syncs;
    return absl::OkStatus();
  }
  absl::Status status() const override { return absl::OkStatus(); }
  uint64_t blocks_dropped() const override { return 0; }
  uint64_t blocks = 0, bytes = 0, events = 0, ended = 0, flushes = 0, syncs = 0;

 private:
  bool fail_flush_;
};

Config FileConfig() {
  Config c;
  c.capture.source = "pcap";
  c.capture.files = {DataFile("wswiki_SIP_CALL_RTP_G711.pcap")};
  return c;
}

TEST(PcapDaemon, EverythingHandedOverReachesTheWriter) {
  calls::AgentDirectoryHandle directory;
  DaemonState state("pcap", "test");
  CountingWriter writer(/*fail_flush=*/false);
  PcapDaemonOptions o;
  uint64_t calls = 0;
  o.calls_ended = &calls;
  absl::Status s = RunPcapDaemon(FileConfig(), &directory, &writer, &state, o);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_GE(writer.ended, 1u);  // the capture's calls, every one ended by the end of the file
  EXPECT_EQ(calls, writer.ended);
  EXPECT_GE(writer.blocks, 3u);  // a SIP block and a block per RTP direction at least
  EXPECT_EQ(writer.syncs, 1u);   // the final seal, after the writer thread drained
  const EngineCounters c = state.Snapshot();
  ASSERT_EQ(c.rings.size(), 1u);
  EXPECT_EQ(c.rings[0].name, "pcap.writer");
  EXPECT_EQ(c.rings[0].full_drops, 0u);
  EXPECT_EQ(c.rings[0].enqueued, writer.blocks + writer.events)
      << "every message the capture thread sent was drained";
}

TEST(PcapDaemon, StoreErrorOnTheWriterThreadIsReturned) {
  calls::AgentDirectoryHandle directory;
  DaemonState state("pcap", "test");
  CountingWriter writer(/*fail_flush=*/true);
  PcapDaemonOptions o;
  o.flush_every_ms = 0;  // the writer thread seals at once, and fails
  absl::Status s = RunPcapDaemon(FileConfig(), &directory, &writer, &state, o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s << " (exit 5: systemd restarts)";
  EXPECT_NE(std::string(s.message()).find("store flush"), std::string::npos) << s;
  EXPECT_NE(std::string(s.message()).find("No space left"), std::string::npos) << s;
  EXPECT_EQ(writer.flushes, 1u) << "no seal is attempted after the first failure";
}

}  // namespace
}  // namespace callvault::dpdk
