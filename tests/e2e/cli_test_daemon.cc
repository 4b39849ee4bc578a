// cli_test_daemon CONFIG: a stand-in for callvaultd's control plane in the CLI end-to-end
// tests — opens the store of CONFIG, serves its control socket with the real
// ControlServer and CommandService (the code callvaultd links), and stops on SIGTERM or
// SIGINT. No capture. Prints "ready" on stdout once the socket listens.
#include <csignal>
#include <cstdio>
#include <string>

#include "appliance/common/status.h"
#include "appliance/config/config.h"
#include "appliance/control/server.h"
#include "cli/commands/hooks.h"
#include "cli/commands/session.h"

namespace {
std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }
}  // namespace

int main(int argc, char** argv) {
  using namespace callvault;
  if (argc != 2) {
    std::fprintf(stderr, "usage: cli_test_daemon CONFIG\n");
    return 2;
  }
  auto fail = [](const absl::Status& s) {
    std::fprintf(stderr, "cli_test_daemon: %s\n", std::string(s.message()).c_str());
    return static_cast<int>(ExitCodeFor(s));
  };
  auto config = LoadConfig(argv[1]);
  if (!config.ok()) return fail(config.status());
  StoreOptions so;
  so.config = config->store;
  cli::ServiceOptions base;
  base.mode = "online";
  base.region = config->agents.default_country;
  base.mask_dtmf = config->media.mask_dtmf;
  base.disk_floor_bytes = config->store.disk_floor_bytes;
  base.capture_status = [] {
    return nlohmann::json{{"source", "none (cli_test_daemon)"}, {"active_calls", 0},
                          {"alarms", nlohmann::json::array()}};
  };
  cli::InstallHooks(base, &*config);
  auto session = cli::OpenLocalSession(so, std::move(base));
  if (!session.ok()) return fail(session.status());
  auto server = control::ControlServer::Listen(
      config->control, control::RoleMap::FromConfig(config->control),
      session->service->AsHandler());
  if (!server.ok()) return fail(server.status());
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  std::printf("ready\n");
  std::fflush(stdout);
  (*server)->Serve(g_stop);
  return 0;
}
