// callgen: writes a pcap of synthetic SIP + RTP calls and a JSON manifest (see --help and
// tests/tools/README.md). Only main() turns a Status into an exit code: 2 for usage
// errors, 1 for anything else.
#include <chrono>
#include <cstdio>
#include <string>

#include "appliance/common/status.h"
#include "fmt/format.h"
#include "tests/tools/callgen/call_plan.h"
#include "tests/tools/callgen/generator.h"
#include "tests/tools/callgen/manifest.h"
#include "tests/tools/callgen/options.h"
#include "tests/tools/callgen/pcap_writer.h"
#include "tests/tools/callgen/tunnel.h"

namespace callvault::callgen {
namespace {

absl::Status Main(const Options& o) {
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<Agent> agents;
  if (!o.agents_file.empty()) {
    ASSIGN_OR_RETURN(agents, ReadAgents(o.agents_file));
  } else {
    agents = MakeAgents(o.concurrency);
  }
  if (!o.write_agents_file.empty()) RETURN_IF_ERROR(WriteAgents(o.write_agents_file, agents));
  const std::vector<CallPlan> plans = PlanCalls(o, agents);

  PcapWriter w;
  RETURN_IF_ERROR(w.Open(o.output));
  Tunnel tunnel(ParseTunnelKind(o.encap).value_or(TunnelKind::kNone), o.encap_id);
  if (tunnel.kind() != TunnelKind::kNone) w.set_tunnel(&tunnel);
  Generator gen(o, agents, plans);
  RETURN_IF_ERROR(gen.Run(w));
  RETURN_IF_ERROR(w.Close());
  if (!o.manifest_file.empty()) {
    RETURN_IF_ERROR(
        WriteJsonFile(o.manifest_file, BuildManifest(o, agents, plans, gen.results(), w)));
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr,
               "callgen: %d calls, %llu frames, %llu bytes -> %s in %.2f s (%.0f frames/s)\n",
               o.calls, static_cast<unsigned long long>(w.frames()),
               static_cast<unsigned long long>(w.file_bytes()), o.output.c_str(), secs,
               secs > 0 ? static_cast<double>(w.frames()) / secs : 0.0);
  return absl::OkStatus();
}

}  // namespace
}  // namespace callvault::callgen

int main(int argc, char** argv) {
  auto opts = callvault::callgen::ParseOptions(argc, argv);
  if (!opts.ok()) {
    std::fprintf(stderr, "callgen: %s\n", std::string(opts.status().message()).c_str());
    return 2;
  }
  if (opts->help) {
    std::fputs(callvault::callgen::UsageText().c_str(), stdout);
    return 0;
  }
  absl::Status s = callvault::callgen::Main(*opts);
  if (!s.ok()) {
    std::fprintf(stderr, "callgen: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  return 0;
}
