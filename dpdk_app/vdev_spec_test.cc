#include "dpdk_app/vdev_spec.h"

#include <gtest/gtest.h>

namespace callvault::dpdk {
namespace {

TEST(VdevSpec, ParsesNameDriverAndArgsInOrder) {
  VdevSpec s = ParseVdev("net_pcap12,rx_pcap=/a/x.pcap,rx_pcap=/b/y.pcapng,infinite_rx=0");
  EXPECT_EQ(s.name, "net_pcap12");
  EXPECT_EQ(s.driver, "net_pcap");
  ASSERT_EQ(s.args.size(), 3u);
  EXPECT_EQ(s.Values("rx_pcap"), (std::vector<std::string>{"/a/x.pcap", "/b/y.pcapng"}));
  EXPECT_TRUE(s.IsFileReplay());
}

TEST(VdevSpec, InfiniteRxAndInterfacesAreNotFileReplays) {
  EXPECT_FALSE(ParseVdev("net_pcap0,rx_pcap=x.pcap,infinite_rx=1").IsFileReplay());
  EXPECT_FALSE(ParseVdev("net_pcap0,iface=eth1").IsFileReplay());
  EXPECT_FALSE(ParseVdev("net_af_packet0,iface=eth1").IsFileReplay());
  EXPECT_EQ(ParseVdev("net_af_packet0,iface=eth1,qpairs=2").driver, "net_af_packet");
}

TEST(VdevSpec, ToleratesEmptyItemsAndBareKeys) {
  VdevSpec s = ParseVdev("net_null0,,flag");
  EXPECT_EQ(s.name, "net_null0");
  ASSERT_EQ(s.args.size(), 1u);
  EXPECT_EQ(s.args[0].first, "flag");
  EXPECT_EQ(s.args[0].second, "");
  EXPECT_EQ(ParseVdev("").name, "");
}

TEST(VdevSpec, FindsEveryVdevInEalArgs) {
  auto v = VdevsFromEalArgs({"-l", "0-1", "--vdev", "net_pcap0,rx_pcap=a.pcap", "--no-huge",
                             "--vdev=net_af_packet1,iface=veth0", "--vdev"});
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].name, "net_pcap0");
  EXPECT_EQ(v[1].name, "net_af_packet1");
  EXPECT_EQ(v[1].Values("iface").front(), "veth0");
}

}  // namespace
}  // namespace callvault::dpdk
