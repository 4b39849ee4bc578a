#include "dpdk_app/eal.h"

#include <rte_eal.h>
#include <rte_errno.h>

#include <atomic>
#include <cstring>

#include <fmt/format.h>

namespace callvault::dpdk {

namespace {
std::atomic<bool> g_eal_started{false};
}  // namespace

absl::Status InitEal(const std::string& program, const std::vector<std::string>& eal_args) {
  if (g_eal_started.exchange(true)) {
    return absl::FailedPreconditionError("EAL init: already initialised in this process");
  }
  // EAL keeps pointers into argv for the life of the process: the copies are leaked on
  // purpose (one small allocation per argument, once).
  auto** argv = new char*[eal_args.size() + 2];
  int argc = 0;
  argv[argc++] = strdup(program.c_str());
  for (const std::string& a : eal_args) argv[argc++] = strdup(a.c_str());
  argv[argc] = nullptr;
  std::string joined;
  for (const std::string& a : eal_args) joined += " " + a;
  int ret = rte_eal_init(argc, argv);
  if (ret < 0) {
    int err = rte_errno;
    return absl::InvalidArgumentError(
        fmt::format("EAL init ({}):{}: {}", program, joined, rte_strerror(err)));
  }
  return absl::OkStatus();
}

void CleanupEal() {
  if (g_eal_started.load()) rte_eal_cleanup();
}

}  // namespace callvault::dpdk
