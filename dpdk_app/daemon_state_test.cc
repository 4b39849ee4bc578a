// DaemonState: the status JSON and Prometheus text callvaultd serves, from a counter
// snapshot built here by hand (expected values come from that construction).
#include "dpdk_app/daemon_state.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace callvault::dpdk {
namespace {

EngineCounters Sample() {
  EngineCounters c;
  PortCounters p;
  p.port = 0;
  p.name = "net_pcap0";
  p.driver = "net_pcap";
  p.ipackets = 1000;
  p.imissed = 3;
  c.ports.push_back(p);
  QueueCounters q;
  q.port = 0;
  q.queue = 0;
  q.frames = 997;
  q.bytes = 213358;
  c.queues.push_back(q);
  RingCounters r;
  r.name = "w1.writer";
  r.enqueued = 40;
  r.full_drops = 2;
  c.rings.push_back(r);
  c.pipeline = {{"decode.frames", 997}, {"drop.decode.truncated", 4}};
  c.active_calls = 7;
  c.workers = 1;
  return c;
}

TEST(DaemonState, StatusJsonHasCountersDropsAndAlarms) {
  DaemonState s("dpdk", "net_pcap0,rx_pcap=a.pcap");
  s.Publish(Sample());
  s.SetRunning(true);
  nlohmann::json j = s.StatusJson();
  EXPECT_EQ(j["source"], "dpdk");
  EXPECT_EQ(j["detail"], "net_pcap0,rx_pcap=a.pcap");
  EXPECT_EQ(j["running"], true);
  EXPECT_EQ(j["active_calls"], 7);
  ASSERT_EQ(j["ports"].size(), 1u);
  EXPECT_EQ(j["ports"][0]["ipackets"], 1000);
  EXPECT_EQ(j["ports"][0]["imissed"], 3);
  ASSERT_EQ(j["queues"].size(), 1u);
  EXPECT_EQ(j["queues"][0]["frames"], 997);
  EXPECT_EQ(j["rings"][0]["full_drops"], 2);
  // Every drop counter by name, zeros included; 3 imissed + 2 ring full + 4 pipeline.
  EXPECT_EQ(j["drops"]["port.0.imissed"], 3);
  EXPECT_EQ(j["drops"]["port.0.ierrors"], 0);
  EXPECT_EQ(j["drops"]["port.0.rx_nombuf"], 0);
  EXPECT_EQ(j["dropped_total"], 9);
  EXPECT_EQ(j["pipeline"]["decode.frames"], 997);
  ASSERT_EQ(j["alarms"].size(), 1u);
  EXPECT_NE(j["alarms"][0].get<std::string>().find("9 frames"), std::string::npos);
}

TEST(DaemonState, NoDropsNoAlarmAndStickyAlarmsDeduplicated) {
  DaemonState s("pcap", "files: a.pcap");
  EngineCounters c;
  PortCounters p;
  p.ipackets = 10;
  c.ports.push_back(p);
  s.Publish(c);
  EXPECT_EQ(s.StatusJson()["dropped_total"], 0);
  EXPECT_TRUE(s.StatusJson()["alarms"].empty());
  s.AddAlarm("store: disk full");
  s.AddAlarm("store: disk full");
  ASSERT_EQ(s.StatusJson()["alarms"].size(), 1u);
  EXPECT_EQ(s.StatusJson()["alarms"][0], "store: disk full");
  EXPECT_EQ(s.StatusJson()["running"], false);
}

TEST(DaemonState, PrometheusFileWrittenAtomically) {
  DaemonState s("dpdk", "");
  s.Publish(Sample());
  s.SetRunning(true);
  const std::string text = s.Prometheus();
  EXPECT_NE(text.find("callvault_daemon_running{source=\"dpdk\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("imissed"), std::string::npos);
  char dir[] = "/tmp/cv_daemon_state_test.XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/callvaultd.prom";
  ASSERT_TRUE(s.WritePrometheusFile(path).ok());
  std::ifstream in(path);
  std::stringstream got;
  got << in.rdbuf();
  EXPECT_EQ(got.str(), text);
  EXPECT_NE(access((path + ".tmp").c_str(), F_OK), 0);  // renamed, no leftover
  std::remove(path.c_str());
  rmdir(dir);
  // A missing directory is an error naming the file.
  absl::Status bad = s.WritePrometheusFile("/nonexistent_dir_cv/x.prom");
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.message()).find("/nonexistent_dir_cv/x.prom"), std::string::npos);
}

TEST(DaemonState, ExtraPrometheusTextIsAppended) {
  DaemonState s("pcap", "");
  const std::string base = s.Prometheus();
  int calls = 0;
  s.SetExtraPrometheus([&calls] {
    ++calls;
    return std::string("# HELP callvault_disk_alarm a\n# TYPE callvault_disk_alarm gauge\n"
                       "callvault_disk_alarm 1\n");
  });
  const std::string text = s.Prometheus();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(text, base + "# HELP callvault_disk_alarm a\n# TYPE callvault_disk_alarm gauge\n"
                         "callvault_disk_alarm 1\n");
}

}  // namespace
}  // namespace callvault::dpdk
