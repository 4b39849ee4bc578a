// CPU placement checks for the engine's worker lcores (no DPDK here: pure, testable).
//
// Two workers whose lcores may run on a common CPU (overlapping CPU sets, e.g. EAL
// `--lcores 0@0,1@1,2@1`) take turns on it: whenever one waits for the other (the
// capture-time order of a file replay, a full hand-off) it costs a scheduler slice, and
// throughput collapses (docs/DPDK.md, "Several workers"). The daemon warns at start-up;
// it does not refuse, the placement may be deliberate on a small test machine.
// Input: per worker its lcore id and CPU set. Output: one line per overlapping pair.
// Thread: pure function.
#ifndef CALLVAULT_DPDK_APP_CPU_PLACEMENT_H_
#define CALLVAULT_DPDK_APP_CPU_PLACEMENT_H_

#include <sched.h>

#include <string>
#include <utility>
#include <vector>

namespace callvault::dpdk {

struct WorkerCpus {
  unsigned lcore = 0;
  cpu_set_t cpus;
};

// "worker lcores 1 and 2 share CPU 1: ..." for every pair of workers whose sets overlap
// (the first common CPU named), in lcore order.
std::vector<std::string> SharedCpuWarnings(const std::vector<WorkerCpus>& workers);

}  // namespace callvault::dpdk

#endif  // CALLVAULT_DPDK_APP_CPU_PLACEMENT_H_
