#include "dpdk_app/daemon_state.h"

#include <cerrno>
#include <cstdio>

#include <fmt/format.h>

#include "appliance/common/status.h"

namespace callvault::dpdk {

absl::Status StoreFlushFailed(const absl::Status& writer_error) {
  return absl::UnavailableError(
      fmt::format("store flush: {}", std::string(writer_error.message())));
}

DaemonState::DaemonState(std::string source, std::string detail)
    : source_(std::move(source)), detail_(std::move(detail)) {}

void DaemonState::Publish(EngineCounters counters) {
  std::lock_guard<std::mutex> lock(mu_);
  counters_ = std::move(counters);
}

void DaemonState::AddAlarm(const std::string& alarm) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& a : alarms_) {
    if (a == alarm) return;
  }
  alarms_.push_back(alarm);
}

void DaemonState::SetRunning(bool running) {
  std::lock_guard<std::mutex> lock(mu_);
  running_ = running;
}

void DaemonState::SetExtraPrometheus(std::function<std::string()> render) {
  std::lock_guard<std::mutex> lock(mu_);
  extra_prometheus_ = std::move(render);
}

EngineCounters DaemonState::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

bool DaemonState::running() const {
  std::lock_guard<std::mutex> lock(mu_);
  return running_;
}

nlohmann::json DaemonState::StatusJson() const {
  std::lock_guard<std::mutex> lock(mu_);
  const EngineCounters& c = counters_;
  nlohmann::json j;
  j["source"] = source_;
  j["detail"] = detail_;
  j["running"] = running_;
  j["active_calls"] = c.active_calls;
  nlohmann::json ports = nlohmann::json::array();
  for (const PortCounters& p : c.ports) {
    ports.push_back({{"port", p.port}, {"name", p.name}, {"driver", p.driver},
                     {"ipackets", p.ipackets}, {"ibytes", p.ibytes}, {"imissed", p.imissed},
                     {"ierrors", p.ierrors}, {"rx_nombuf", p.rx_nombuf}});
  }
  j["ports"] = ports;
  nlohmann::json queues = nlohmann::json::array();
  for (const QueueCounters& q : c.queues) {
    queues.push_back({{"port", q.port}, {"queue", q.queue}, {"lcore", q.lcore},
                      {"frames", q.frames}, {"bytes", q.bytes}, {"at_eof", q.at_eof}});
  }
  j["queues"] = queues;
  nlohmann::json rings = nlohmann::json::array();
  for (const RingCounters& r : c.rings) {
    rings.push_back({{"name", r.name}, {"enqueued", r.enqueued},
                     {"full_drops", r.full_drops}, {"in_use", r.in_use}});
  }
  j["rings"] = rings;
  nlohmann::json drops = nlohmann::json::object();
  uint64_t dropped = 0;
  for (const auto& [name, value] : Drops(c)) {
    drops[name] = value;
    dropped += value;
  }
  j["drops"] = drops;
  j["dropped_total"] = dropped;
  nlohmann::json pipeline = nlohmann::json::object();
  for (const auto& [name, value] : c.pipeline) pipeline[name] = value;
  j["pipeline"] = pipeline;
  nlohmann::json alarms = nlohmann::json::array();
  for (const auto& a : alarms_) alarms.push_back(a);
  if (dropped != 0) {
    alarms.push_back(fmt::format("capture: {} frames or items not recorded (see drops)",
                                 dropped));
  }
  j["alarms"] = alarms;
  return j;
}

std::string DaemonState::Prometheus() const {
  EngineCounters c;
  bool running;
  std::function<std::string()> extra;
  {
    std::lock_guard<std::mutex> lock(mu_);
    c = counters_;
    running = running_;
    extra = extra_prometheus_;
  }
  std::string out = RenderPrometheus(c);
  out += "# HELP callvault_daemon_running 1 while callvaultd captures.\n";
  out += "# TYPE callvault_daemon_running gauge\n";
  out += fmt::format("callvault_daemon_running{{source=\"{}\"}} {}\n", source_,
                     running ? 1 : 0);
  if (extra) out += extra();
  return out;
}

absl::Status DaemonState::WritePrometheusFile(const std::string& path) const {
  const std::string text = Prometheus();
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) return ErrnoToStatus(errno, fmt::format("metrics file {}", tmp));
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  const int err = errno;
  if (std::fclose(f) != 0 || !ok) {
    return ErrnoToStatus(ok ? errno : err, fmt::format("metrics file {}", tmp));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return ErrnoToStatus(errno, fmt::format("metrics file {}", path));
  }
  return absl::OkStatus();
}

}  // namespace callvault::dpdk
