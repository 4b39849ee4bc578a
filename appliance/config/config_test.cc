#include "appliance/config/config.h"

#include "gtest/gtest.h"

namespace callvault {
namespace {

constexpr char kMinimal[] = R"(
[store]
path = "/var/lib/callvault"
key_file = "/etc/callvault/master.key"
)";

TEST(Config, MinimalGetsDefaults) {
  auto c = ParseConfig(kMinimal, "t.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->store.path, "/var/lib/callvault");
  EXPECT_EQ(c->capture.rx_queues, 1u);
  EXPECT_EQ(c->sip.ports, std::vector<uint16_t>{5060});
  EXPECT_EQ(c->retention.max_age_months, 18u);
}

TEST(Config, MissingKeyIsNamed) {
  auto c = ParseConfig("[store]\nkey_file = \"k\"\n", "t.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "store.path: missing");
}

TEST(Config, OutOfRangeIsNamedWithValue) {
  auto c = ParseConfig(std::string(kMinimal) + "[capture]\nrx_queues = 0\n", "t.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "capture.rx_queues: must be 1..64, got 0");
}

TEST(Config, DecodeVerifyChecksums) {
  auto d = ParseConfig(kMinimal, "t.toml");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_TRUE(d->decode.verify_checksums);
  auto off = ParseConfig(std::string(kMinimal) + "[decode]\nverify_checksums = false\n", "t.toml");
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_FALSE(off->decode.verify_checksums);
  auto bad = ParseConfig(std::string(kMinimal) + "[decode]\nverify_checksums = 1\n", "t.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("decode.verify_checksums"),
            std::string::npos)
      << bad.status();
}

TEST(Config, WrongTypeUnknownKeyAndSection) {
  auto t = ParseConfig(std::string(kMinimal) + "[sip]\nports = \"5060\"\n", "t.toml");
  EXPECT_EQ(t.status().message(), "sip.ports: must be an array of integers");
  auto u = ParseConfig(std::string(kMinimal) + "[media]\ngrace = 5\n", "t.toml");
  EXPECT_EQ(u.status().message(), "media.grace: unknown key");
  auto s = ParseConfig(std::string(kMinimal) + "[bogus]\nx = 1\n", "t.toml");
  EXPECT_EQ(s.status().message(), "bogus: unknown section");
  auto e = ParseConfig(std::string(kMinimal) + "[capture]\nsource = \"netmap\"\n", "t.toml");
  EXPECT_EQ(e.status().message(), "capture.source: must be \"pcap\" or \"dpdk\", got \"netmap\"");
}

TEST(Config, StoreMergeThresholds) {
  auto d = ParseConfig(kMinimal, "t.toml");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->store.merge_below_bytes, 16ull << 20);
  EXPECT_EQ(d->store.merge_target_bytes, 256ull << 20);
  auto off = ParseConfig(std::string(kMinimal) + "merge_below_bytes = 0\n", "t.toml");
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_EQ(off->store.merge_below_bytes, 0u);
  auto bad = ParseConfig(std::string(kMinimal) +
                             "merge_below_bytes = 67108864\nmerge_target_bytes = 33554432\n",
                         "t.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "store.merge_target_bytes: must be >= store.merge_below_bytes (67108864), got "
            "33554432");
  auto small = ParseConfig(std::string(kMinimal) + "merge_target_bytes = 1000\n", "t.toml");
  ASSERT_FALSE(small.ok());
  EXPECT_EQ(small.status().message().substr(0, 25), "store.merge_target_bytes:");
}

TEST(Config, DpdkRingBytes) {
  auto d = ParseConfig(kMinimal, "t.toml");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->dpdk.ring_bytes, 128ull << 20);
  auto set = ParseConfig(std::string(kMinimal) + "[dpdk]\nring_bytes = 33554432\n", "t.toml");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->dpdk.ring_bytes, 32ull << 20);
  auto small = ParseConfig(std::string(kMinimal) + "[dpdk]\nring_bytes = 1000\n", "t.toml");
  ASSERT_FALSE(small.ok());
  EXPECT_EQ(small.status().message().substr(0, 17), "dpdk.ring_bytes: ");
}

TEST(Config, DpdkBusCapacity) {
  auto d = ParseConfig(kMinimal, "t.toml");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->dpdk.bus_capacity, 4096u);
  auto set = ParseConfig(std::string(kMinimal) + "[dpdk]\nbus_capacity = 16384\n", "t.toml");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->dpdk.bus_capacity, 16384u);
  for (const char* bad : {"1000", "32"}) {
    auto r = ParseConfig(std::string(kMinimal) + "[dpdk]\nbus_capacity = " + bad + "\n", "t.toml");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().message().substr(0, 19), "dpdk.bus_capacity: ") << r.status();
  }
}

TEST(Config, SyntaxErrorHasPosition) {
  auto c = ParseConfig("[store\npath=1", "bad.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message().substr(0, 11), "bad.toml:1:");
}

TEST(Config, MissingFileIsNotFound) {
  auto c = LoadConfig("/nonexistent/callvault.toml");
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace callvault

namespace callvault {
namespace {

TEST(Config, ShippedExampleIsValid) {
  auto c = LoadConfig(std::string(CALLVAULT_SOURCE_ROOT) + "/conf/callvault.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->store.key_file, "/etc/callvault/master.key");
  EXPECT_EQ(c->sip.correlation_headers.size(), 2u);
}

}  // namespace
}  // namespace callvault
