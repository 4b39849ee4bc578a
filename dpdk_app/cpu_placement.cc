#include "dpdk_app/cpu_placement.h"

#include <fmt/format.h>

namespace callvault::dpdk {

std::vector<std::string> SharedCpuWarnings(const std::vector<WorkerCpus>& workers) {
  std::vector<std::string> out;
  for (size_t i = 0; i < workers.size(); ++i) {
    for (size_t j = i + 1; j < workers.size(); ++j) {
      cpu_set_t both;
      CPU_AND(&both, &workers[i].cpus, &workers[j].cpus);
      if (CPU_COUNT(&both) == 0) continue;
      int cpu = 0;
      while (cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &both)) ++cpu;
      out.push_back(fmt::format(
          "worker lcores {} and {} share CPU {}: they take turns on it and every wait for "
          "each other costs a scheduler slice; give each worker its own CPU (EAL --lcores)",
          workers[i].lcore, workers[j].lcore, cpu));
    }
  }
  return out;
}

}  // namespace callvault::dpdk
