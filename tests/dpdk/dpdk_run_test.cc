// RunDpdkCapture from a TOML config (what callvaultd does): a net_pcap file replay with
// stop_at_eof runs to the end, every worker's pipeline sees every frame and is
// finished, and the final counters show no drop.
#include <gtest/gtest.h>

#include <atomic>

#include "dpdk_app/dpdk_run.h"
#include "tests/dpdk/dpdk_test_util.h"

namespace callvault::dpdk {
namespace {

class CountingPipeline final : public Pipeline {
 public:
  void ProcessBurst(Burst frames) override { frames_ += frames.size(); }
  void Advance(uint64_t) override {}
  void Finish() override { finished_ = true; }
  CounterSnapshot Counters() const override { return {{"count.frames", frames_}}; }
  uint64_t ActiveCalls() const override { return 0; }
  uint64_t frames_ = 0;
  bool finished_ = false;
};

TEST(DpdkRun, ConfigDrivenReplayRunsToEndOfFile) {
  const std::string file = testing::DataDir() + "/sipnab_rtp-protocol_prack.pcap";
  auto ref = testing::ReadWithLibpcap(file, PCAP_TSTAMP_PRECISION_MICRO);
  ASSERT_TRUE(ref.error.empty()) << ref.error;
  std::string eal;
  for (const std::string& a : testing::TestEalArgs("cvdpdk_run")) eal += "\"" + a + "\", ";
  std::string toml = "[capture]\nsource = \"dpdk\"\n[dpdk]\neal_args = [" + eal +
                     "\"--vdev\", \"net_pcap0,rx_pcap=" + file +
                     "\"]\nmbufs = 4095\nmbuf_cache = 32\nring_size = 1024\nstop_at_eof = true\n"
                     "[store]\npath = \"/nonexistent\"\nkey_file = \"/nonexistent.key\"\n";
  auto cfg = ParseConfig(toml, "test");
  ASSERT_TRUE(cfg.ok()) << cfg.status();

  std::vector<CountingPipeline*> pipes;
  EngineCounters last;
  RunHooks hooks;
  hooks.program = "dpdk_run_test";
  hooks.on_tick = [&](const DpdkEngine& e) { last = e.Counters(); };
  absl::Status st = RunDpdkCapture(
      *cfg,
      [&](unsigned, PipelineSink*) -> absl::StatusOr<std::unique_ptr<Pipeline>> {
        auto p = std::make_unique<CountingPipeline>();
        pipes.push_back(p.get());
        return std::unique_ptr<Pipeline>(std::move(p));
      },
      nullptr, hooks);
  ASSERT_TRUE(st.ok()) << st;
  ASSERT_EQ(last.workers, 1u);
  EXPECT_EQ(last.workers_finished, 1u);
  ASSERT_EQ(last.pipeline.size(), 1u);
  EXPECT_EQ(last.pipeline[0].second, ref.frames.size());
  for (const auto& [name, v] : Drops(last)) EXPECT_EQ(v, 0u) << name;
}

}  // namespace
}  // namespace callvault::dpdk
