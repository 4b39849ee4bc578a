// cv-dpdk-read: the DPDK engine with no pipeline — polls every RX queue on the worker
// lcores, counts frames and bytes, stops at the end of replayed files (or on SIGINT),
// and prints the rate. It measures the engine's own read floor (DpdkSource + worker
// loop) on the same vdev as callvaultd, beside dpdk-testpmd's.
//
// Usage: cv-dpdk-read [EAL args...]   e.g.
//   cv-dpdk-read -l 0-1 --no-huge --no-pci --no-shconf -m 1024 --file-prefix cvread
//       --vdev net_pcap0,rx_pcap=/tmp/big.pcap       (one line)
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "dpdk_app/eal.h"
#include "dpdk_app/engine.h"
#include "dpdk_app/port.h"
#include "dpdk_app/signals.h"

int main(int argc, char** argv) {
  using namespace callvault::dpdk;
  std::vector<std::string> args(argv + 1, argv + argc);
  if (absl::Status s = InitEal("cv-dpdk-read", args); !s.ok()) {
    std::fprintf(stderr, "cv-dpdk-read: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  InstallSignalHandlers();
  PortOptions opts;
  opts.vdevs = VdevsFromEalArgs(args);
  opts.mbufs = 16383;
  auto ports = SetUpPorts(opts);
  if (!ports.ok()) {
    std::fprintf(stderr, "cv-dpdk-read: %s\n", std::string(ports.status().message()).c_str());
    return 2;
  }
  EngineOptions eo;
  eo.stop_at_eof = true;
  eo.ring_size = 64;
  int rc = 0;
  {
    DpdkEngine engine(*ports, eo, nullptr, nullptr);
    auto t0 = std::chrono::steady_clock::now();
    if (absl::Status s = engine.Start(); !s.ok()) {
      std::fprintf(stderr, "cv-dpdk-read: %s\n", std::string(s.message()).c_str());
      return 2;
    }
    while (!engine.Done() && !StopRequested()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    engine.RequestStop();
    (void)engine.Wait();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EngineCounters c = engine.Counters();
    uint64_t frames = 0, bytes = 0, drops = 0;
    for (const auto& q : c.queues) {
      frames += q.frames;
      bytes += q.bytes;
      for (uint64_t d : q.drops) drops += d;
    }
    for (const auto& p : c.ports) drops += p.imissed + p.ierrors + p.rx_nombuf;
    std::printf("frames=%llu bytes=%llu drops=%llu seconds=%.3f packets_per_s=%.0f MB_per_s=%.1f\n",
                static_cast<unsigned long long>(frames), static_cast<unsigned long long>(bytes),
                static_cast<unsigned long long>(drops), secs, frames / secs, bytes / secs / 1e6);
    rc = drops == 0 ? 0 : 1;
  }
  ClosePorts(*ports);
  CleanupEal();
  return rc;
}
