// EAL start-up and tear-down for callvaultd and the DPDK tests.
//
// Input: the [dpdk] eal_args of the config (core list, memory, --vdev, --file-prefix).
// Output: absl::Status; never rte_exit. Thread: the main thread, once per process (EAL
// cannot be initialised twice; a second call returns FailedPrecondition).
// Without hugepages or NICs (tests, laptops): "--no-huge --no-pci --no-shconf -m 512"
// (on DPDK 22.11 --in-memory does not combine with --no-huge).
#ifndef CALLVAULT_DPDK_APP_EAL_H_
#define CALLVAULT_DPDK_APP_EAL_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace callvault::dpdk {

// `program` becomes argv[0] (it names the process in EAL logs).
[[nodiscard]] absl::Status InitEal(const std::string& program,
                                   const std::vector<std::string>& eal_args);

// Releases EAL resources (hugepages, telemetry socket). Call after every port is closed.
void CleanupEal();

}  // namespace callvault::dpdk

#endif  // CALLVAULT_DPDK_APP_EAL_H_
