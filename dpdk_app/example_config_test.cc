// conf/callvault-dpdk-replay.toml is a valid config whose vdevs replay files to the end.
#include <gtest/gtest.h>

#include <cstdlib>

#include "appliance/config/config.h"
#include "dpdk_app/vdev_spec.h"

namespace callvault::dpdk {
namespace {

TEST(DpdkExampleConfig, ReplayConfigParsesAndEndsAtEof) {
  const char* dir = std::getenv("CV_CONF_DIR");
  ASSERT_NE(dir, nullptr);
  auto cfg = LoadConfig(std::string(dir) + "/callvault-dpdk-replay.toml");
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(cfg->capture.source, "dpdk");
  EXPECT_TRUE(cfg->dpdk.stop_at_eof);
  auto vdevs = VdevsFromEalArgs(cfg->dpdk.eal_args);
  ASSERT_EQ(vdevs.size(), 1u);
  EXPECT_TRUE(vdevs[0].IsFileReplay());
  EXPECT_EQ(vdevs[0].Values("rx_pcap").size(), 2u);
}

}  // namespace
}  // namespace callvault::dpdk
