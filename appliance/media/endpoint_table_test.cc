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

}  // namespace
}  // namespace callvault::media
