// RunDpdkCapture: the whole DPDK capture lifecycle for callvaultd in one call — EAL from
// [dpdk] eal_args, ports from [capture]/[dpdk], the engine with one pipeline per worker,
// telemetry commands, then wait until the end of the replayed files (stop_at_eof) or a
// stop request (SIGTERM/SIGINT via signals.h, or RequestStop()), then Finish() on every
// worker, writer drained, ports closed, EAL cleaned up.
//
// Thread: callvaultd's main thread (it becomes the EAL main lcore). `on_tick` runs on it
// about every `tick_ms` with the engine (read Counters() there for status/Prometheus).
// Returns the first error with context ("dpdk: port 0 (net_pcap0): start: ...").
#ifndef CALLVAULT_DPDK_APP_DPDK_RUN_H_
#define CALLVAULT_DPDK_APP_DPDK_RUN_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "appliance/config/config.h"
#include "dpdk_app/engine.h"

namespace callvault::dpdk {

struct RunHooks {
  std::function<void(const DpdkEngine&)> on_tick;  // optional
  uint32_t tick_ms = 200;
  std::string program = "callvaultd";              // argv[0] for EAL
  // On the writer thread, about every writer_tick_ms and after the last drain
  // (EngineOptions::writer_tick): callvaultd flushes the store writer here.
  std::function<void()> writer_tick;               // optional
  uint32_t writer_tick_ms = 1000;
  // Once the number of workers is known, before the factory runs (EngineOptions).
  std::function<absl::Status(unsigned workers)> before_pipelines;  // optional
  // Once the engine has started (EAL, ports, pools and pipelines built, workers
  // launched), on the calling thread: callvaultd starts its capture-window clock here.
  std::function<void()> on_started;                // optional
};

[[nodiscard]] absl::Status RunDpdkCapture(const Config& config, PipelineFactory factory,
                                          PipelineSink* downstream, const RunHooks& hooks = {});

}  // namespace callvault::dpdk

#endif  // CALLVAULT_DPDK_APP_DPDK_RUN_H_
