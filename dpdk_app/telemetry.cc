#include "dpdk_app/telemetry.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_telemetry.h>

#include <mutex>

#include <fmt/format.h>

namespace callvault::dpdk {

namespace {

std::mutex g_mu;
CountersProvider* g_provider = nullptr;  // guarded by g_mu
bool g_registered = false;               // guarded by g_mu

using Flat = std::vector<std::pair<std::string, uint64_t>>;

// Telemetry names allow only [A-Za-z0-9_/]: every other character becomes '/'.
std::string TelemetryKey(const std::string& name) {
  std::string k = name;
  for (char& ch : k) {
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '/';
    if (!ok) ch = '/';
  }
  return k;
}

int Reply(rte_tel_data* d, const Flat& flat) {
  rte_tel_data_start_dict(d);
  const size_t room = RTE_TEL_MAX_DICT_ENTRIES - 1;  // one kept for "truncated"
  size_t n = 0;
  for (const auto& [name, v] : flat) {
    if (n == room) break;
    std::string key = TelemetryKey(name).substr(0, RTE_TEL_MAX_STRING_LEN - 1);
    if (rte_tel_data_add_dict_u64(d, key.c_str(), v) == 0) ++n;
  }
  if (flat.size() > n) rte_tel_data_add_dict_u64(d, "truncated", flat.size() - n);
  return 0;
}

bool Snapshot(EngineCounters* out) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_provider == nullptr) return false;
  *out = (*g_provider)();
  return true;
}

int HandleStats(const char*, const char*, rte_tel_data* d) {
  EngineCounters c;
  if (!Snapshot(&c)) return Reply(d, {});
  return Reply(d, Flatten(c));
}

int HandleDrops(const char*, const char*, rte_tel_data* d) {
  EngineCounters c;
  if (!Snapshot(&c)) return Reply(d, {});
  return Reply(d, Drops(c));
}

}  // namespace

absl::Status RegisterTelemetry(CountersProvider provider) {
  std::lock_guard<std::mutex> lock(g_mu);
  delete g_provider;
  g_provider = new CountersProvider(std::move(provider));
  if (g_registered) return absl::OkStatus();
  struct Cmd {
    const char* name;
    telemetry_cb fn;
    const char* help;
  };
  const Cmd cmds[] = {
      {"/callvault/stats", HandleStats,
       "Every callvault capture counter (ports, queues, rings, pipeline). No parameters."},
      {"/callvault/drops", HandleDrops,
       "callvault counters of frames not recorded, by reason, zeros included. No parameters."},
  };
  for (const Cmd& c : cmds) {
    int ret = rte_telemetry_register_cmd(c.name, c.fn, c.help);
    if (ret != 0) {
      return absl::InternalError(
          fmt::format("telemetry: register {}: {}", c.name, rte_strerror(-ret)));
    }
  }
  g_registered = true;
  return absl::OkStatus();
}

std::string TelemetrySocketPath() {
  return fmt::format("{}/dpdk_telemetry.v2", rte_eal_get_runtime_dir());
}

void UnregisterTelemetry() {
  std::lock_guard<std::mutex> lock(g_mu);
  delete g_provider;
  g_provider = nullptr;
}

}  // namespace callvault::dpdk
