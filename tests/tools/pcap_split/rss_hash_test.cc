// rss_hash: the Toeplitz function against Microsoft's published RSS verification vectors,
// then the symmetric hash over built frames: both directions agree, VLAN/QinQ tags are
// looked through, fragments and other protocols hash the address pair only, non-IP has
// no hash.
#include "tests/tools/pcap_split/rss_hash.h"

#include <gtest/gtest.h>

#include <array>
#include <vector>

namespace callvault::pcapsplit {
namespace {

const std::vector<uint8_t> kMsKey = {
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
    0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
    0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};

// "Verifying the RSS Hash Calculation" (Microsoft): src addr, dst addr, src port, dst port.
TEST(RssHash, ToeplitzMatchesMicrosoftVectors) {
  const std::vector<uint8_t> a = {66, 9, 149, 187, 161, 142, 100, 80, 0x0a, 0xea, 0x06, 0xe6};
  EXPECT_EQ(Toeplitz(kMsKey, std::span<const uint8_t>(a.data(), 8)), 0x323e8fc2u);
  EXPECT_EQ(Toeplitz(kMsKey, a), 0x51ccc178u);
  const std::vector<uint8_t> b = {199, 92, 111, 2, 65, 69, 140, 83, 0x37, 0x96, 0x12, 0x83};
  EXPECT_EQ(Toeplitz(kMsKey, std::span<const uint8_t>(b.data(), 8)), 0xd718262au);
  EXPECT_EQ(Toeplitz(kMsKey, b), 0xc626b0eau);
}

struct V4 {
  std::array<uint8_t, 4> src{10, 0, 0, 1};
  std::array<uint8_t, 4> dst{192, 168, 7, 20};
  uint16_t sport = 5060, dport = 5062;
  uint8_t proto = 17;
  uint16_t frag = 0;  // flags + offset field
  std::vector<uint16_t> tags;  // TPIDs, outermost first
};

std::vector<uint8_t> Frame(const V4& v) {
  std::vector<uint8_t> f(12, 0xaa);  // MACs
  for (uint16_t tpid : v.tags) {
    f.insert(f.end(), {static_cast<uint8_t>(tpid >> 8), static_cast<uint8_t>(tpid), 0, 100});
  }
  f.insert(f.end(), {0x08, 0x00, 0x45, 0, 0, 28, 0, 1, static_cast<uint8_t>(v.frag >> 8),
                     static_cast<uint8_t>(v.frag), 64, v.proto, 0, 0});
  f.insert(f.end(), v.src.begin(), v.src.end());
  f.insert(f.end(), v.dst.begin(), v.dst.end());
  f.insert(f.end(), {static_cast<uint8_t>(v.sport >> 8), static_cast<uint8_t>(v.sport),
                     static_cast<uint8_t>(v.dport >> 8), static_cast<uint8_t>(v.dport), 0, 8,
                     0, 0});
  return f;
}

V4 Reverse(V4 v) {
  std::swap(v.src, v.dst);
  std::swap(v.sport, v.dport);
  return v;
}

TEST(RssHash, BothDirectionsOfAFlowAgreeThroughVlanAndQinQ) {
  V4 v;
  const auto plain = SymmetricRssHash(1, Frame(v));
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(SymmetricRssHash(1, Frame(Reverse(v))), plain);
  v.tags = {0x88a8, 0x8100};
  EXPECT_EQ(SymmetricRssHash(1, Frame(v)), plain);
  EXPECT_EQ(SymmetricRssHash(1, Frame(Reverse(v))), plain);
  v.proto = 6;
  EXPECT_EQ(SymmetricRssHash(1, Frame(v)), SymmetricRssHash(1, Frame(Reverse(v))));
}

TEST(RssHash, PortsCountForUdpAndTcpOnly) {
  V4 a, b;
  b.sport = 20000;
  EXPECT_NE(SymmetricRssHash(1, Frame(a)), SymmetricRssHash(1, Frame(b)));
  const auto two_tuple = SymmetricRssHash(1, Frame([] {
    V4 s;
    s.proto = 132;  // SCTP: addresses only
    return s;
  }()));
  ASSERT_TRUE(two_tuple.has_value());
  V4 frag_first;
  frag_first.frag = 0x2000;  // MF: the first fragment carries ports, still a 2-tuple
  V4 frag_later;
  frag_later.frag = 0x00b9;
  frag_later.sport = 1;  // payload bytes, not ports
  EXPECT_EQ(SymmetricRssHash(1, Frame(frag_first)), two_tuple);
  EXPECT_EQ(SymmetricRssHash(1, Frame(frag_later)), two_tuple);
  EXPECT_EQ(SymmetricRssHash(1, Frame(Reverse(frag_later))), two_tuple);
}

TEST(RssHash, Ipv6FragmentHeaderMeansAddressPair) {
  auto frame = [](bool fragment, bool reverse) {
    std::vector<uint8_t> f(12, 0xbb);
    f.insert(f.end(), {0x86, 0xdd, 0x60, 0, 0, 0, 0, 16, fragment ? uint8_t{44} : uint8_t{17},
                       64});
    std::vector<uint8_t> a(16, 0x20), b(16, 0x30);
    if (reverse) std::swap(a, b);
    f.insert(f.end(), a.begin(), a.end());
    f.insert(f.end(), b.begin(), b.end());
    if (fragment) f.insert(f.end(), {17, 0, 0, 1, 0, 0, 0, 7});
    const uint16_t sp = reverse ? 7078 : 5060, dp = reverse ? 5060 : 7078;
    f.insert(f.end(), {static_cast<uint8_t>(sp >> 8), static_cast<uint8_t>(sp),
                       static_cast<uint8_t>(dp >> 8), static_cast<uint8_t>(dp), 0, 8, 0, 0});
    return f;
  };
  EXPECT_EQ(SymmetricRssHash(1, frame(false, false)), SymmetricRssHash(1, frame(false, true)));
  EXPECT_EQ(SymmetricRssHash(1, frame(true, false)), SymmetricRssHash(1, frame(true, true)));
  EXPECT_NE(SymmetricRssHash(1, frame(true, false)), SymmetricRssHash(1, frame(false, false)));
}

TEST(RssHash, NotIpHasNoHashAndGoesToQueueZero) {
  std::vector<uint8_t> arp(42, 0);
  arp[12] = 0x08;
  arp[13] = 0x06;
  EXPECT_FALSE(SymmetricRssHash(1, arp).has_value());
  EXPECT_FALSE(SymmetricRssHash(1, std::vector<uint8_t>(10, 0)).has_value());
  EXPECT_FALSE(SymmetricRssHash(147, Frame(V4{})).has_value());  // unknown link type
  EXPECT_EQ(RssQueue(std::nullopt, 4), 0u);
  EXPECT_EQ(RssQueue(0x12345681u, 2), 1u);
  EXPECT_EQ(RssQueue(0x12345681u, 3), (0x81u & 127u) % 3);
}

TEST(RssHash, LinuxSllCarriesTheSameFlowHash) {
  const std::vector<uint8_t> eth = Frame(V4{});
  std::vector<uint8_t> sll(14, 0);
  sll.insert(sll.end(), {0x08, 0x00});
  sll.insert(sll.end(), eth.begin() + 14, eth.end());
  EXPECT_EQ(SymmetricRssHash(113, sll), SymmetricRssHash(1, eth));
}

}  // namespace
}  // namespace callvault::pcapsplit
