// DPDK telemetry commands for the engine's counters, readable with dpdk-telemetry.py:
//   /callvault/stats  every counter (Flatten(): ports, queues, rings, pipeline, engine)
//   /callvault/drops  only what was not recorded (Drops()), zeros included
// The socket is <runtime dir>/dpdk_telemetry.v2, the runtime dir being
// /var/run/dpdk/<file-prefix> for root (see docs/DPDK.md); `dpdk-telemetry.py -f
// <file-prefix>` connects to it. EAL started with --no-telemetry has no socket.
//
// Telemetry allows only [A-Za-z0-9_/] in names, so every other character of a counter
// name becomes '/': "port.0.imissed" -> "port/0/imissed", "ring_full:w1.writer" ->
// "ring_full/w1/writer".
//
// Thread: the provider runs on DPDK's telemetry thread, so it must be thread-safe
// (DpdkEngine::Counters() is). Register once; a later call replaces the provider.
// A reply dict holds at most 256 entries (RTE_TEL_MAX_DICT_ENTRIES): beyond that the
// reply carries "truncated": <entries left out>.
#ifndef CALLVAULT_DPDK_APP_TELEMETRY_H_
#define CALLVAULT_DPDK_APP_TELEMETRY_H_

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "dpdk_app/engine_counters.h"

namespace callvault::dpdk {

using CountersProvider = std::function<EngineCounters()>;

[[nodiscard]] absl::Status RegisterTelemetry(CountersProvider provider);
// Detaches the provider (commands then answer with an empty dict). Call before the
// engine that the provider reads is destroyed.
void UnregisterTelemetry();

// The telemetry socket of this process (valid after InitEal).
std::string TelemetrySocketPath();

}  // namespace callvault::dpdk

#endif  // CALLVAULT_DPDK_APP_TELEMETRY_H_
