#include "appliance/media/endpoint_table.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

namespace callvault::media {
namespace {

TEST(EndpointTable, MatchesAStdMapUnderChurn) {
  EndpointTable t(512);
  std::map<Endpoint, uint32_t> ref;
  std::mt19937 rng(42);
  for (int step = 0; step < 200000; ++step) {
    Endpoint e{IpAddress::FromV4(0x0a000000u | (rng() % 64)), uint16_t(10000 + rng() % 16)};
    uint32_t s = rng() % 4;
    if (rng() % 2) {
      bool ok = t.Insert(e, {s, 0, 0, 0, 0});
      if (ref.count(e) || ref.size() < 512) {
        ASSERT_TRUE(ok);
        ref[e] = s;
      } else {
        ASSERT_FALSE(ok);
      }
    } else {
      bool erased = t.Erase(e, s);
      auto it = ref.find(e);
      bool expect = it != ref.end() && it->second == s;
      ASSERT_EQ(erased, expect);
      if (expect) ref.erase(it);
    }
    ASSERT_EQ(t.size(), ref.size());
  }
  for (const auto& [e, s] : ref) {
    const EndpointBinding* b = t.Find(e);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->session, s);
  }
  EXPECT_EQ(t.Find(Endpoint{IpAddress::FromV4(0x01020304u), 1}), nullptr);
}

TEST(EndpointTable, SameEndpointIsEquality) {
  // The table's key compare must be exactly operator==: flip each address byte and the
  // port, IPv4-mapped and IPv6.
  std::mt19937 rng(5);
  for (int round = 0; round < 200; ++round) {
    Endpoint a;
    for (auto& b : a.ip.bytes) b = uint8_t(rng());
    if (round % 2) a.ip = IpAddress::FromV4(uint32_t(rng()));
    a.port = uint16_t(rng());
    Endpoint b = a;
    EXPECT_TRUE(SameEndpoint(a, b));
    for (std::size_t i = 0; i < 16; ++i) {
      Endpoint c = a;
      c.ip.bytes[i] ^= uint8_t(1u << (rng() % 8));
      EXPECT_FALSE(SameEndpoint(a, c));
      EXPECT_EQ(SameEndpoint(a, c), a == c);
    }
    b.port ^= uint16_t(1u << (rng() % 16));
    EXPECT_FALSE(SameEndpoint(a, b));
  }
}

}  // namespace
}  // namespace callvault::media
