#include "dpdk_app/cpu_placement.h"

#include <gtest/gtest.h>

namespace callvault::dpdk {
namespace {

WorkerCpus On(unsigned lcore, std::initializer_list<int> cpus) {
  WorkerCpus w;
  w.lcore = lcore;
  CPU_ZERO(&w.cpus);
  for (int c : cpus) CPU_SET(c, &w.cpus);
  return w;
}

TEST(CpuPlacement, SeparateCpusGiveNoWarning) {
  EXPECT_TRUE(SharedCpuWarnings({On(1, {1}), On(2, {0})}).empty());
  EXPECT_TRUE(SharedCpuWarnings({On(1, {1})}).empty());
  EXPECT_TRUE(SharedCpuWarnings({}).empty());
}

TEST(CpuPlacement, EveryOverlappingPairIsNamedWithItsCpu) {
  // --lcores 0@0,1@1,2@1,3@(2-3): workers 1 and 2 share CPU 1; 3 is alone.
  auto w = SharedCpuWarnings({On(1, {1}), On(2, {1}), On(3, {2, 3})});
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("worker lcores 1 and 2 share CPU 1"), std::string::npos) << w[0];
  // A worker allowed on a set of CPUs overlaps any worker inside that set.
  w = SharedCpuWarnings({On(1, {0, 1, 2}), On(2, {2}), On(3, {5})});
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("lcores 1 and 2 share CPU 2"), std::string::npos) << w[0];
  w = SharedCpuWarnings({On(1, {4}), On(2, {4}), On(3, {4})});
  EXPECT_EQ(w.size(), 3u);
}

}  // namespace
}  // namespace callvault::dpdk
