#include "dpdk_app/engine_counters.h"

#include <gtest/gtest.h>

#include <map>
#include <sstream>

namespace callvault::dpdk {
namespace {

EngineCounters Sample() {
  EngineCounters c;
  PortCounters p;
  p.port = 1;
  p.name = "net_pcap\"0";
  p.driver = "net_pcap";
  p.ipackets = 100;
  p.ibytes = 6400;
  p.imissed = 3;
  p.ierrors = 2;
  p.rx_nombuf = 1;
  c.ports.push_back(p);
  QueueCounters q;
  q.port = 1;
  q.queue = 2;
  q.frames = 97;
  q.bytes = 6000;
  q.drops[static_cast<size_t>(SourceDrop::kScratchFull)] = 4;
  c.queues.push_back(q);
  c.rings.push_back({"w1.writer", 50, 7, 0});
  c.pipeline = {{"decode.drop.truncated", 5}, {"sip.messages", 9}};
  c.active_calls = 2;
  c.workers = 1;
  return c;
}

std::map<std::string, uint64_t> AsMap(const std::vector<std::pair<std::string, uint64_t>>& v) {
  std::map<std::string, uint64_t> m;
  for (const auto& [k, x] : v) {
    EXPECT_TRUE(m.emplace(k, x).second) << "duplicate name " << k;
  }
  return m;
}

TEST(EngineCounters, FlattenNamesEveryCounter) {
  auto m = AsMap(Flatten(Sample()));
  EXPECT_EQ(m.at("port.1.ipackets"), 100u);
  EXPECT_EQ(m.at("port.1.imissed"), 3u);
  EXPECT_EQ(m.at("port.1.rx_nombuf"), 1u);
  EXPECT_EQ(m.at("queue.1.2.frames"), 97u);
  EXPECT_EQ(m.at("queue.1.2.scratch_full"), 4u);
  EXPECT_EQ(m.at("queue.1.2.too_long"), 0u);
  EXPECT_EQ(m.at("ring.w1.writer.full_drops"), 7u);
  EXPECT_EQ(m.at("pipeline.sip.messages"), 9u);
  EXPECT_EQ(m.at("engine.active_calls"), 2u);
}

TEST(EngineCounters, DropsListsOnlyLossIncludingZeros) {
  auto m = AsMap(Drops(Sample()));
  EXPECT_EQ(m.at("port.1.imissed"), 3u);
  EXPECT_EQ(m.at("port.1.ierrors"), 2u);
  EXPECT_EQ(m.at("queue.1.2.too_long"), 0u);
  EXPECT_EQ(m.at("ring_full:w1.writer"), 7u);
  EXPECT_EQ(m.at("pipeline.decode.drop.truncated"), 5u);
  EXPECT_EQ(m.count("pipeline.sip.messages"), 0u);
  EXPECT_EQ(m.count("port.1.ipackets"), 0u);
}

TEST(EngineCounters, PrometheusTextIsWellFormed) {
  std::string text = RenderPrometheus(Sample());
  EXPECT_NE(text.find("# TYPE callvault_port_imissed_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("callvault_port_imissed_total{port=\"1\",name=\"net_pcap\\\"0\","
                      "driver=\"net_pcap\"} 3\n"),
            std::string::npos);
  EXPECT_NE(text.find("callvault_ring_full_drops_total{ring=\"w1.writer\"} 7\n"),
            std::string::npos);
  EXPECT_NE(text.find("callvault_queue_drops_total{port=\"1\",queue=\"2\",reason=\"scratch_full\"} 4\n"),
            std::string::npos);
  EXPECT_NE(text.find("callvault_pipeline_total{counter=\"decode.drop.truncated\"} 5\n"),
            std::string::npos);
  // Every non-comment line is "name{labels} value" or "name value" with an integer value.
  std::istringstream in(text);
  std::string line;
  int samples = 0;
  while (std::getline(in, line)) {
    ASSERT_FALSE(line.empty());
    if (line[0] == '#') {
      EXPECT_TRUE(line.rfind("# HELP callvault_", 0) == 0 || line.rfind("# TYPE callvault_", 0) == 0)
          << line;
      continue;
    }
    ++samples;
    size_t sp = line.rfind(' ');
    ASSERT_NE(sp, std::string::npos) << line;
    EXPECT_EQ(line.find_first_not_of("0123456789", sp + 1), std::string::npos) << line;
    EXPECT_EQ(line.rfind("callvault_", 0), 0u) << line;
  }
  EXPECT_GT(samples, 15);
}

}  // namespace
}  // namespace callvault::dpdk
