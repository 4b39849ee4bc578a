#include "dpdk_app/dpdk_run.h"

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "appliance/common/status.h"
#include "dpdk_app/eal.h"
#include "dpdk_app/port.h"
#include "dpdk_app/signals.h"
#include "dpdk_app/telemetry.h"

namespace callvault::dpdk {

absl::Status RunDpdkCapture(const Config& config, PipelineFactory factory,
                            PipelineSink* downstream, const RunHooks& hooks) {
  RETURN_IF_ERROR(Annotate(InitEal(hooks.program, config.dpdk.eal_args), "dpdk"));
  auto ports = SetUpPorts(PortOptionsFromConfig(config));
  if (!ports.ok()) {
    CleanupEal();
    return Annotate(ports.status(), "dpdk");
  }
  EngineOptions eo;
  eo.stop_at_eof = config.dpdk.stop_at_eof;
  eo.ring_size = config.dpdk.ring_size;
  eo.ring_bytes = config.dpdk.ring_bytes;
  eo.writer_tick = hooks.writer_tick;
  eo.writer_tick_ms = hooks.writer_tick_ms;
  eo.before_pipelines = hooks.before_pipelines;
  eo.sip_ports = config.sip.ports;
  absl::Status result;
  {
    DpdkEngine engine(*ports, eo, std::move(factory), downstream);
    result = Annotate(engine.Start(), "dpdk");
    if (result.ok()) {
      for (const std::string& w : engine.warnings()) {
        std::fprintf(stderr, "callvaultd: warning: %s\n", w.c_str());
      }
      if (hooks.on_started) hooks.on_started();
      // Telemetry is an aid, not a requirement (EAL may run with --no-telemetry).
      (void)RegisterTelemetry([&engine] { return engine.Counters(); });
      while (!engine.Done() && !StopRequested()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(hooks.tick_ms));
        if (hooks.on_tick) hooks.on_tick(engine);
      }
    }
    engine.RequestStop();
    absl::Status waited = engine.Wait();
    if (result.ok()) result = Annotate(waited, "dpdk");
    if (hooks.on_tick) hooks.on_tick(engine);  // final counters
    UnregisterTelemetry();
  }
  ClosePorts(*ports);
  CleanupEal();
  return result;
}

}  // namespace callvault::dpdk
