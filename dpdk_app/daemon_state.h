// DaemonState: what callvaultd's control path knows about the running capture — the
// newest counter snapshot (DPDK engine or libpcap loop, both as EngineCounters), the
// source description and store-writer alarms — rendered for `callvault status` (JSON,
// CaptureStatusFn) and as Prometheus text (written to a textfile-collector file).
//
// Input: Publish() from the capture side (DPDK main-lcore tick, or the libpcap loop
// about every 500 ms); AddAlarm() from any thread. Output: StatusJson(), Prometheus()
// on the control thread. Thread-safe (one mutex, control path only: the per-packet
// path never touches it). No drops of its own.
#ifndef CALLVAULT_DPDK_APP_DAEMON_STATE_H_
#define CALLVAULT_DPDK_APP_DAEMON_STATE_H_

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "dpdk_app/engine_counters.h"

namespace callvault::dpdk {

class DaemonState {
 public:
  // `source`: "dpdk" or "pcap"; `detail`: what is captured (vdevs/ports, files, ifaces).
  DaemonState(std::string source, std::string detail);

  void Publish(EngineCounters counters);
  // A sticky alarm line (deduplicated), e.g. a store flush error.
  void AddAlarm(const std::string& alarm);
  void SetRunning(bool running);
  // More Prometheus text appended after the engine's (e.g. the disk guard's metrics,
  // storage/retention/disk_guard.h); called on the control thread by Prometheus().
  void SetExtraPrometheus(std::function<std::string()> render);

  EngineCounters Snapshot() const;
  bool running() const;
  // "running" is true once every source is open and polled (tests wait for it).
  // {"source","detail","running","active_calls","ports":[..],"queues":[..],"rings":[..],
  //  "drops":{name:value} (every drop counter, zeros included),"dropped_total",
  //  "pipeline":{name:value},"alarms":[..]}. A non-zero drop adds an alarm line.
  nlohmann::json StatusJson() const;
  // RenderPrometheus() of the snapshot plus callvault_daemon_up / _running, then the
  // extra text (SetExtraPrometheus).
  std::string Prometheus() const;
  // Writes Prometheus() to `path` atomically (path.tmp, rename): node_exporter's
  // textfile collector reads it.
  [[nodiscard]] absl::Status WritePrometheusFile(const std::string& path) const;

 private:
  mutable std::mutex mu_;
  std::string source_;
  std::string detail_;
  bool running_ = false;
  EngineCounters counters_;
  std::vector<std::string> alarms_;
  std::function<std::string()> extra_prometheus_;
};

// The error a capture stops with when its store writer failed (both capture paths):
// "store flush: <the writer's error>" as Unavailable, whatever the writer's own code was
// (an EINVAL would otherwise exit 2, which the systemd unit does not restart: a failed
// writer is not a configuration error, a restart gets a fresh one).
absl::Status StoreFlushFailed(const absl::Status& writer_error);

}  // namespace callvault::dpdk

#endif  // CALLVAULT_DPDK_APP_DAEMON_STATE_H_
