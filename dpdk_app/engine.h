// DpdkEngine: the DPDK capture engine — pinned worker lcores polling RX queues into
// per-worker Pipelines, a writer thread draining their rings into the store writer.
//
// Threads:
//  - one worker per EAL worker lcore (-l 0-N, or --lcores to place several lcores on one
//    CPU: lcore 0 is the main lcore, 1..N workers). RX queues of every port are dealt
//    round-robin to the workers; a worker polls its queues and runs
//    Pipeline::ProcessBurst() on each burst to completion. Symmetric RSS keeps both
//    directions of a flow on one queue, hence on one worker; a call's SIP and RTP may
//    land on different workers (the pipelines hand media over on their MediaBus,
//    appliance/pipeline/media_bus.h, which callvaultd creates through
//    EngineOptions::before_pipelines when there are >= 2 workers).
//  - Order: with >= 2 workers and every source a file replay (net_pcap rx_pcap=), every
//    frame that may carry signalling is processed in global capture-time order (ties:
//    lower worker index first) against every frame of every worker; media-only frames
//    (media_only.h, from EngineOptions::sip_ports) of different workers run in
//    parallel. Each worker publishes the time of its first unprocessed frame and a lower
//    bound on its next frame that may carry signalling, processes the prefix of its
//    burst the others' published times allow, and spins (rte_pause) otherwise
//    (capture_order.h: the rule and why it cannot deadlock). Live ports are real time and
//    are never held back: there the hand-over between workers is ordered only within the
//    microseconds it takes. One worker: no gate.
//  - Pipeline::Advance(now) runs about every millisecond of TSC time, with `now` the
//    newest frame time (file replays; with the gate at least the time every worker has
//    passed) or the wall clock (live ports), so timers follow capture time.
//  - Phased stop, on stop or end of every file: each worker stops reading; all advance to
//    the newest frame time any worker saw; then every worker runs
//    RunFinishStep(kSignalling), waits until all have (spin barrier), kMedia, waits,
//    kCalls. One worker runs the same steps without waiting.
//  - one writer thread (std::thread, unpinned: it inherits the main lcore's CPU set)
//    drains every worker's RingSink into the downstream PipelineSink (the store writer)
//    until all workers are done and the rings are empty.
//  - the main lcore (callvaultd, dpdk_run.h) sleeps between ticks; the control thread
//    (telemetry, status) reads Counters() at any time.
// Per packet: no allocation, lock, syscall or log in the worker loop. Pipeline counters
// are copied out at most twice a second with try_lock (a worker never waits).
// Drops: SourceDrop per queue, ring_full:<ring> per worker ring, NIC imissed/ierrors/
// rx_nombuf per port, plus whatever the pipelines count.
#ifndef CALLVAULT_DPDK_APP_ENGINE_H_
#define CALLVAULT_DPDK_APP_ENGINE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "appliance/pipeline/pipeline.h"
#include "dpdk_app/capture_order.h"
#include "dpdk_app/cpu_placement.h"
#include "dpdk_app/engine_counters.h"
#include "dpdk_app/media_only.h"
#include "dpdk_app/port.h"

namespace callvault::dpdk {

struct EngineOptions {
  bool stop_at_eof = false;      // dpdk.stop_at_eof
  uint32_t ring_size = 16384;    // dpdk.ring_size: messages per worker ring
  uint64_t ring_bytes = 0;       // dpdk.ring_bytes: payload bytes in flight (0 = unbounded)
  uint64_t advance_every_us = 1000;
  uint64_t publish_every_ms = 500;
  // Called on the writer thread about every writer_tick_ms and once after the last
  // drain (callvaultd: StoreWriter::FlushBehind(), so that ended calls become visible).
  std::function<void()> writer_tick;  // optional
  uint64_t writer_tick_ms = 1000;
  // Called once by Start() on the main thread with the number of workers, before the
  // factory makes their pipelines (callvaultd creates the pipelines' MediaBus here).
  std::function<absl::Status(unsigned workers)> before_pipelines;  // optional
  // sip.ports: frames to or from these UDP ports may carry signalling (the ordered
  // loop keeps them in strict order; media_only.h).
  std::vector<uint16_t> sip_ports = {5060};
};

// Creates worker `index`'s pipeline writing into `sink`. Called on the main thread by
// Start(). Returning nullptr runs that worker without a pipeline (frames are counted
// and dropped: the raw read floor).
using PipelineFactory =
    std::function<absl::StatusOr<std::unique_ptr<Pipeline>>(unsigned index, PipelineSink* sink)>;

class DpdkEngine {
 public:
  // `downstream` (may be nullptr) is used only on the writer thread and must outlive
  // the engine.
  DpdkEngine(std::vector<PortSetup> ports, EngineOptions options, PipelineFactory factory,
             PipelineSink* downstream);
  ~DpdkEngine();  // RequestStop() + Wait()
  DpdkEngine(const DpdkEngine&) = delete;
  DpdkEngine& operator=(const DpdkEngine&) = delete;

  // Creates sources, rings and pipelines, then launches workers and the writer. Fails
  // when there is no worker lcore or a pipeline cannot be made.
  [[nodiscard]] absl::Status Start();
  // Asks every worker to finish (also happens on SIGTERM/SIGINT, see signals.h).
  void RequestStop() { stop_.store(true, std::memory_order_relaxed); }
  // True when every worker has finished (end of files, or stop).
  bool Done() const;
  // Waits for the workers (each runs the finish steps) and for the writer to drain.
  [[nodiscard]] absl::Status Wait();

  EngineCounters Counters() const;
  const std::vector<PortSetup>& ports() const { return ports_; }
  // After Start(): placement problems to report (cpu_placement.h), one line each.
  const std::vector<std::string>& warnings() const { return warnings_; }

  struct Worker;  // one per worker lcore (engine.cc)

 private:
  static int WorkerMain(void* arg);
  void RunUnordered(Worker& w, bool all_files, uint64_t* newest_ts);
  void RunOrdered(Worker& w, uint64_t* newest_ts);
  void WriterMain();

  std::vector<PortSetup> ports_;
  EngineOptions options_;
  PipelineFactory factory_;
  PipelineSink* downstream_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::thread writer_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> writer_stop_{false};
  std::unique_ptr<CaptureClock> clock_;     // >= 2 workers replaying files, else null
  std::unique_ptr<MediaOnlyFilter> media_only_;  // with clock_
  std::unique_ptr<SpinBarrier> barrier_;   // the finish steps
  std::vector<std::string> warnings_;
  std::atomic<int> go_{0};                  // 1: all launched; -1: a launch failed
  std::atomic<uint64_t> newest_ts_{0};      // newest frame time of every worker, at stop
  bool started_ = false;
  bool waited_ = false;
};

}  // namespace callvault::dpdk

#endif  // CALLVAULT_DPDK_APP_ENGINE_H_
