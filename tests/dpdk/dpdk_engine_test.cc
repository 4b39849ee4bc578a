// The engine end to end over net_pcap file replays: worker lcore -> fake Pipeline ->
// RingSink -> writer thread -> downstream sink; end-of-file stop; counters, telemetry
// (/callvault/stats over the real socket) and Prometheus; rings that fill up count drops.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "dpdk_app/dpdk_ring.h"
#include "dpdk_app/eal.h"
#include "dpdk_app/engine.h"
#include "dpdk_app/port.h"
#include "dpdk_app/ring_sink.h"
#include "dpdk_app/telemetry.h"
#include "tests/dpdk/dpdk_test_util.h"

namespace callvault::dpdk {
namespace {

const std::vector<std::string> kPort0 = {"wswiki_SIP_CALL_RTP_G711.pcap",
                                         "wswiki_FAX-Call-t38-CA-TDM-SIP-FB-1.pcap"};
const std::vector<std::string> kPort1 = {"voipshark_SIP-over-TLS-RTP-Normal_Call_two_parties.pcap"};

struct Eal {
  absl::Status status;
  std::vector<PortSetup> ports;
};

Eal& GetEal() {
  static Eal* eal = [] {
    auto* e = new Eal;
    std::vector<std::string> args = testing::TestEalArgs("cvdpdk_engine");
    std::string v0 = "net_pcap0", v1 = "net_pcap1";
    for (const auto& f : kPort0) v0 += ",rx_pcap=" + testing::DataDir() + "/" + f;
    for (const auto& f : kPort1) v1 += ",rx_pcap=" + testing::DataDir() + "/" + f;
    args.insert(args.end(), {"--vdev", v0, "--vdev", v1});
    e->status = InitEal("dpdk_engine_test", args);
    if (!e->status.ok()) return e;
    PortOptions opts;
    opts.mbufs = 4095;
    opts.mbuf_cache = 32;
    opts.vdevs = VdevsFromEalArgs(args);
    auto ports = SetUpPorts(opts);
    if (ports.ok()) {
      e->ports = std::move(*ports);
    } else {
      e->status = ports.status();
    }
    return e;
  }();
  return *eal;
}

// Counts what it sees; every 100 frames it emits a block, and one call per worker.
class FakePipeline final : public Pipeline {
 public:
  explicit FakePipeline(PipelineSink* sink) : sink_(sink) {}
  void ProcessBurst(Burst frames) override {
    if (frames_ == 0) {
      CallRecord call;
      call.ani = "+12025550143";
      sink_->OnCallStarted(call);
    }
    for (const Frame& f : frames) {
      ++frames_;
      bytes_ += f.caplen;
      max_ts_ = std::max(max_ts_, f.ts_ns);
      if (frames_ % 100 == 0) {
        PlainBlock b;
        b.info.seq = blocks_++;
        b.info.frames = 100;
        b.payload.assign(64, static_cast<uint8_t>(blocks_));
        if (!sink_->Push(std::move(b))) ++push_failures_;
      }
    }
  }
  void Advance(uint64_t now_ns) override {
    ++advances_;
    EXPECT_GE(now_ns, last_advance_) << "capture time never goes back";
    last_advance_ = now_ns;
  }
  void Finish() override {
    finished_ = true;
    CallRecord call;
    call.ani = "+12025550143";
    sink_->OnCallEnded(call);
  }
  CounterSnapshot Counters() const override {
    return {{"fake.frames", frames_}, {"fake.bytes", bytes_}, {"fake.drop.push", push_failures_}};
  }
  uint64_t ActiveCalls() const override { return finished_ ? 0 : 1; }

  uint64_t frames_ = 0, bytes_ = 0, max_ts_ = 0, advances_ = 0, last_advance_ = 0;
  uint32_t blocks_ = 0;
  uint64_t push_failures_ = 0;
  bool finished_ = false;

 private:
  PipelineSink* sink_;
};

// Downstream (store writer stand-in): runs on the writer thread.
class CountingSink final : public PipelineSink {
 public:
  bool Push(PlainBlock&& block) override {
    std::lock_guard<std::mutex> l(mu);
    ++blocks;
    if (block.payload.size() != 64) ++bad_blocks;
    return true;
  }
  void OnCallStarted(const CallRecord& c) override {
    std::lock_guard<std::mutex> l(mu);
    ++started;
    if (c.ani != "+12025550143") ++bad_calls;
  }
  void OnCallUpdated(const CallRecord&) override {}
  void OnCallEnded(const CallRecord&) override {
    std::lock_guard<std::mutex> l(mu);
    ++ended;
  }
  std::mutex mu;
  uint64_t blocks = 0, bad_blocks = 0, started = 0, ended = 0, bad_calls = 0;
};

// Sends one telemetry command over the real socket and returns the parsed reply.
nlohmann::json Telemetry(const std::string& cmd) {
  int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
  EXPECT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string path = TelemetrySocketPath();
  snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ADD_FAILURE() << "connect " << path << ": " << strerror(errno);
    close(fd);
    return {};
  }
  std::vector<char> buf(1 << 16);
  ssize_t n = read(fd, buf.data(), buf.size());  // greeting
  EXPECT_GT(n, 0);
  EXPECT_EQ(write(fd, cmd.data(), cmd.size()), static_cast<ssize_t>(cmd.size()));
  n = read(fd, buf.data(), buf.size());
  close(fd);
  if (n <= 0) return {};
  return nlohmann::json::parse(std::string(buf.data(), static_cast<size_t>(n)), nullptr, false);
}

TEST(DpdkEngine, RingFullIsACountedDropNotAWait) {
  ASSERT_TRUE(GetEal().status.ok()) << GetEal().status;
  auto ring = DpdkRing<int>::Create("cv_test_ring", 4, 0);
  ASSERT_TRUE(ring.ok()) << ring.status();
  int items[5] = {0, 1, 2, 3, 4};
  for (int i = 0; i < 4; ++i) EXPECT_TRUE((*ring)->Enqueue(&items[i]));
  EXPECT_FALSE((*ring)->Enqueue(&items[4]));
  EXPECT_EQ((*ring)->full_drops(), 1u);
  EXPECT_EQ((*ring)->enqueued(), 4u);
  int* got[8];
  ASSERT_EQ((*ring)->DequeueBurst(got, 8), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(*got[i], i);

  auto sink = RingSink::Create("t.writer", 4, 0);
  ASSERT_TRUE(sink.ok()) << sink.status();
  for (uint32_t i = 0; i < 5; ++i) {
    PlainBlock b;
    b.info.seq = i;
    b.payload.assign(64, 1);
    EXPECT_EQ((*sink)->Push(std::move(b)), i < 4) << i;
  }
  CountingSink down;
  EXPECT_EQ((*sink)->Drain(&down, 100), 4u);
  EXPECT_EQ(down.blocks, 4u);
  RingCounters rc;
  (*sink)->FillCounters(&rc);
  EXPECT_EQ(rc.name, "t.writer");
  EXPECT_EQ(rc.full_drops, 1u);
  EXPECT_EQ(rc.enqueued, 4u);
  EXPECT_EQ(rc.in_use, 0u);
  // Messages went back to the pool: the sink takes 4 more.
  for (int i = 0; i < 4; ++i) EXPECT_TRUE((*sink)->Push(PlainBlock{}));
}

// Buffers cycle back: the writer leaves each sealed payload in its message, and the next
// Push() hands the newest returned buffer to the caller (the media pool). Messages never
// needed hold nothing; the in-flight byte budget refuses (and counts) a block that would
// exceed it, and frees up as the writer drains.
TEST(DpdkEngine, RingSinkReturnsBuffersAndBoundsInFlightBytes) {
  ASSERT_TRUE(GetEal().status.ok()) << GetEal().status;
  auto sink = RingSink::Create("t.bytes", 64, 0, /*max_bytes=*/3 * 4096);
  ASSERT_TRUE(sink.ok()) << sink.status();
  RingSink& r = **sink;
  std::vector<const uint8_t*> sent;
  for (uint32_t i = 0; i < 3; ++i) {
    PlainBlock b;
    b.info.seq = i;
    b.payload.reserve(4096);
    b.payload.assign(64, 1);
    sent.push_back(b.payload.data());
    ASSERT_TRUE(r.Push(std::move(b))) << i;
    EXPECT_EQ(b.payload.capacity(), 0u) << "nothing returned yet";
  }
  EXPECT_EQ(r.inflight_bytes(), 3u * 4096);
  PlainBlock over;
  over.payload.reserve(4096);
  over.payload.assign(64, 1);
  EXPECT_FALSE(r.Push(std::move(over))) << "budget of 3 x 4096 in flight";
  EXPECT_GE(over.payload.capacity(), 4096u) << "a refused block keeps its buffer";
  RingCounters rc;
  r.FillCounters(&rc);
  EXPECT_EQ(rc.full_drops, 1u);
  EXPECT_EQ(rc.bytes_peak, 3u * 4096) << "the high-water mark of bytes in flight";

  CountingSink down;  // like the store writer: reads the payload, leaves it in place
  EXPECT_EQ(r.Drain(&down, 100), 3u);
  EXPECT_EQ(down.blocks, 3u);
  EXPECT_EQ(r.inflight_bytes(), 0u);
  // The next pushes hand the returned buffers back, newest first.
  std::vector<const uint8_t*> back;
  for (int i = 0; i < 3; ++i) {
    PlainBlock b;
    b.payload.assign(64, 2);  // small, fresh payload
    ASSERT_TRUE(r.Push(std::move(b)));
    EXPECT_GE(b.payload.capacity(), 4096u) << i;
    EXPECT_TRUE(b.payload.empty());
    back.push_back(b.payload.data());
  }
  std::vector<const uint8_t*> want(sent.rbegin(), sent.rend());
  EXPECT_EQ(back, want) << "the writer's buffers, LIFO";
  EXPECT_EQ(r.messages_used(), 3u) << "a light load cycles through a few messages only";
  EXPECT_EQ(r.Drain(nullptr, 100), 3u);
  r.FillCounters(&rc);
  EXPECT_EQ(rc.bytes_peak, 3u * 4096) << "the peak stays after the writer drained";
}

// A worker replaying files stops reading while the hand-off is congested (engine.cc),
// so congestion must show before the budget or the messages run out, and clear once the
// writer has drained.
TEST(DpdkEngine, RingSinkCongestionShowsBeforeOverflow) {
  ASSERT_TRUE(GetEal().status.ok()) << GetEal().status;
  auto sink = RingSink::Create("t.congest", 64, 0, /*max_bytes=*/16 * 4096);
  ASSERT_TRUE(sink.ok()) << sink.status();
  RingSink& r = **sink;
  EXPECT_FALSE(r.congested());
  int pushed = 0;
  while (!r.congested()) {
    PlainBlock b;
    b.payload.reserve(4096);
    b.payload.assign(64, 1);
    ASSERT_TRUE(r.Push(std::move(b))) << "overflowed before congestion showed, at " << pushed;
    ++pushed;
  }
  EXPECT_EQ(pushed, 15) << "more than 7/8 of 16 x 4096 bytes in flight";
  RingCounters rc;
  r.FillCounters(&rc);
  EXPECT_EQ(rc.full_drops, 0u);
  EXPECT_EQ(r.Drain(nullptr, 100), 15u);
  EXPECT_FALSE(r.congested()) << "the writer caught up";
  // Messages run short too: a ring of 64 with no byte budget is congested at 57 in flight.
  auto msgs = RingSink::Create("t.congest2", 64, 0, /*max_bytes=*/0);
  ASSERT_TRUE(msgs.ok());
  int n = 0;
  while (!(*msgs)->congested()) {
    ASSERT_TRUE((*msgs)->Push(PlainBlock{})) << n;
    ++n;
  }
  EXPECT_EQ(n, 57);
  EXPECT_EQ((*msgs)->Drain(nullptr, 100), 57u);
}

// The libpcap daemon's hand-off: the same RingSink on rings built without the EAL
// (CreateLocal). Live, a full hand-off is a counted drop; replaying files
// (set_wait_when_full) the producer waits for a concurrent writer and nothing is lost,
// however slow the writer.
TEST(DpdkEngine, LocalRingSinkDropsLiveAndWaitsForFileReplays) {
  auto live = RingSink::CreateLocal("t.local", 4, /*max_bytes=*/0);
  ASSERT_TRUE(live.ok()) << live.status();
  for (uint32_t i = 0; i < 6; ++i) {
    PlainBlock b;
    b.payload.assign(64, 1);
    EXPECT_EQ((*live)->Push(std::move(b)), i < 4) << i;
  }
  RingCounters rc;
  (*live)->FillCounters(&rc);
  EXPECT_EQ(rc.full_drops, 2u);
  EXPECT_EQ((*live)->Drain(nullptr, 100), 4u);

  auto replay = RingSink::CreateLocal("t.replay", 4, /*max_bytes=*/2 * 4096);
  ASSERT_TRUE(replay.ok()) << replay.status();
  RingSink& r = **replay;
  r.set_wait_when_full(true);
  CountingSink down;
  std::atomic<bool> done{false};
  std::thread writer([&] {  // a slow writer: one item every 2 ms at most
    for (;;) {
      const bool finished = done.load(std::memory_order_acquire);
      const size_t n = r.Drain(&down, 1);
      if (n == 0 && finished) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  CallRecord call;
  call.ani = "+12025550143";
  for (int i = 0; i < 40; ++i) {
    PlainBlock b;
    b.payload.reserve(4096);
    b.payload.assign(64, 1);
    EXPECT_TRUE(r.Push(std::move(b))) << i;
    if (i % 4 == 0) r.OnCallStarted(call);
  }
  done.store(true, std::memory_order_release);
  writer.join();
  std::lock_guard<std::mutex> l(down.mu);
  EXPECT_EQ(down.blocks, 40u);
  EXPECT_EQ(down.bad_blocks, 0u);
  EXPECT_EQ(down.started, 10u);
  r.FillCounters(&rc);
  EXPECT_EQ(rc.full_drops, 0u);
}

TEST(DpdkEngine, ReplaysFilesThroughPipelinesAndStopsAtEof) {
  ASSERT_TRUE(GetEal().status.ok()) << GetEal().status;
  uint64_t want_frames = 0, want_bytes = 0;
  std::vector<std::string> all = kPort0;
  all.insert(all.end(), kPort1.begin(), kPort1.end());
  for (const auto& f : all) {
    auto ref = testing::ReadWithLibpcap(testing::DataDir() + "/" + f, PCAP_TSTAMP_PRECISION_MICRO);
    ASSERT_TRUE(ref.error.empty()) << ref.error;
    want_frames += ref.frames.size();
    want_bytes += ref.bytes;
  }
  std::vector<FakePipeline*> pipelines;
  CountingSink down;
  EngineOptions eo;
  eo.stop_at_eof = true;
  eo.ring_size = 1024;
  DpdkEngine engine(
      GetEal().ports, eo,
      [&](unsigned, PipelineSink* sink) -> absl::StatusOr<std::unique_ptr<Pipeline>> {
        auto p = std::make_unique<FakePipeline>(sink);
        pipelines.push_back(p.get());
        return std::unique_ptr<Pipeline>(std::move(p));
      },
      &down);
  ASSERT_TRUE(engine.Start().ok());
  ASSERT_TRUE(RegisterTelemetry([&engine] { return engine.Counters(); }).ok());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!engine.Done() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(engine.Done()) << "end of file not detected within 60 s";
  ASSERT_TRUE(engine.Wait().ok());

  ASSERT_EQ(pipelines.size(), 1u) << "-l 0-1: one worker lcore";
  FakePipeline& p = *pipelines[0];
  EXPECT_TRUE(p.finished_);
  EXPECT_EQ(p.frames_, want_frames);
  EXPECT_EQ(p.bytes_, want_bytes);
  EXPECT_GT(p.advances_, 0u);
  EXPECT_EQ(p.last_advance_, p.max_ts_) << "final Advance() at the newest capture time";
  EXPECT_EQ(p.push_failures_, 0u);
  EXPECT_EQ(down.blocks, p.blocks_) << "every block reached the writer";
  EXPECT_EQ(down.bad_blocks, 0u);
  EXPECT_EQ(down.started, 1u);
  EXPECT_EQ(down.ended, 1u);
  EXPECT_EQ(down.bad_calls, 0u);

  EngineCounters c = engine.Counters();
  EXPECT_EQ(c.workers, 1u);
  EXPECT_EQ(c.workers_finished, 1u);
  EXPECT_EQ(c.active_calls, 0u);
  uint64_t frames = 0, ipackets = 0;
  for (const auto& q : c.queues) {
    frames += q.frames;
    EXPECT_TRUE(q.at_eof);
  }
  for (const auto& port : c.ports) {
    ipackets += port.ipackets;
    EXPECT_EQ(port.imissed + port.ierrors + port.rx_nombuf, 0u);
  }
  EXPECT_EQ(frames, want_frames);
  EXPECT_EQ(ipackets, want_frames);
  ASSERT_EQ(c.rings.size(), 1u);
  EXPECT_EQ(c.rings[0].full_drops, 0u);
  EXPECT_EQ(c.rings[0].enqueued, p.blocks_ + 2);
  std::map<std::string, uint64_t> pipe(c.pipeline.begin(), c.pipeline.end());
  EXPECT_EQ(pipe["fake.frames"], want_frames);

  // The same numbers through the telemetry socket (what dpdk-telemetry.py shows).
  nlohmann::json stats = Telemetry("/callvault/stats");
  ASSERT_TRUE(stats.is_object()) << stats.dump();
  const nlohmann::json& s = stats["/callvault/stats"];
  SCOPED_TRACE(stats.dump().substr(0, 600));
  EXPECT_FALSE(s.contains("truncated"));
  ASSERT_TRUE(s.is_object()) << stats.dump();
  EXPECT_EQ(s.value("pipeline/fake/frames", uint64_t{0}), want_frames);
  EXPECT_EQ(s.value("port/0/ipackets", uint64_t{0}) + s.value("port/1/ipackets", uint64_t{0}),
            want_frames);
  nlohmann::json drops = Telemetry("/callvault/drops")["/callvault/drops"];
  ASSERT_TRUE(drops.is_object());
  EXPECT_EQ(drops.value("ring_full/w1/writer", uint64_t{99}), 0u);
  EXPECT_EQ(drops.value("pipeline/fake/drop/push", uint64_t{99}), 0u);
  EXPECT_FALSE(drops.contains("port/0/ipackets"));
  EXPECT_TRUE(drops.contains("port/0/imissed"));
  EXPECT_FALSE(drops.contains("truncated"));
  UnregisterTelemetry();

  std::string prom = RenderPrometheus(c);
  EXPECT_NE(prom.find("callvault_pipeline_total{counter=\"fake.frames\"} " +
                      std::to_string(want_frames) + "\n"),
            std::string::npos);
  EXPECT_NE(prom.find("callvault_ring_full_drops_total{ring=\"w1.writer\"} 0\n"),
            std::string::npos);
}

}  // namespace
}  // namespace callvault::dpdk
