#include "dpdk_app/engine.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_pause.h>

#include <chrono>
#include <map>
#include <mutex>

#include <fmt/format.h>

#include "dpdk_app/dpdk_source.h"
#include "dpdk_app/ring_sink.h"
#include "dpdk_app/signals.h"

namespace callvault::dpdk {

struct alignas(64) DpdkEngine::Worker {
  DpdkEngine* engine = nullptr;
  unsigned index = 0;
  unsigned lcore = 0;
  std::vector<std::unique_ptr<DpdkSource>> sources;
  std::unique_ptr<RingSink> sink;
  std::unique_ptr<Pipeline> pipeline;
  std::atomic<bool> done{false};
  std::atomic<bool> launched{false};

  mutable std::mutex mu;  // guards the published copies below (try_lock from the worker)
  CounterSnapshot published;
  uint64_t active_calls = 0;

  void Publish() {
    if (pipeline == nullptr) return;
    std::unique_lock<std::mutex> lock(mu, std::try_to_lock);
    if (!lock.owns_lock()) return;  // the control thread is reading: next time
    published = pipeline->Counters();
    active_calls = pipeline->ActiveCalls();
  }
};

DpdkEngine::DpdkEngine(std::vector<PortSetup> ports, EngineOptions options,
                       PipelineFactory factory, PipelineSink* downstream)
    : ports_(std::move(ports)),
      options_(options),
      factory_(std::move(factory)),
      downstream_(downstream) {}

DpdkEngine::~DpdkEngine() {
  if (started_ && !waited_) {
    RequestStop();
    (void)Wait();
  }
}

absl::Status DpdkEngine::Start() {
  if (started_) return absl::FailedPreconditionError("engine: already started");
  std::vector<unsigned> lcores;
  unsigned lc;
  RTE_LCORE_FOREACH_WORKER(lc) { lcores.push_back(lc); }
  if (lcores.empty()) {
    return absl::FailedPreconditionError(
        "engine: no worker lcore; give EAL at least two cores (e.g. -l 0-1): the main lcore "
        "runs control, each worker lcore polls RX queues");
  }
  std::vector<std::pair<const PortSetup*, const RxQueueSpec*>> queues;
  for (const PortSetup& p : ports_) {
    for (const RxQueueSpec& q : p.queues) queues.emplace_back(&p, &q);
  }
  if (queues.empty()) return absl::FailedPreconditionError("engine: no RX queue");
  size_t nworkers = std::min(lcores.size(), queues.size());
  for (size_t i = 0; i < nworkers; ++i) {
    auto w = std::make_unique<Worker>();
    w->engine = this;
    w->index = static_cast<unsigned>(i);
    w->lcore = lcores[i];
    auto sink = RingSink::Create(fmt::format("w{}.writer", w->lcore), options_.ring_size,
                                 static_cast<int>(rte_lcore_to_socket_id(w->lcore)),
                                 options_.ring_bytes);
    if (!sink.ok()) return sink.status();
    w->sink = std::move(*sink);
    workers_.push_back(std::move(w));
  }
  for (size_t i = 0; i < queues.size(); ++i) {
    Worker& w = *workers_[i % nworkers];
    w.sources.push_back(
        std::make_unique<DpdkSource>(*queues[i].first, *queues[i].second, options_.stop_at_eof));
  }
  for (auto& w : workers_) {
    if (factory_) {
      auto p = factory_(w->index, w->sink.get());
      if (!p.ok()) {
        return absl::Status(p.status().code(),
                            fmt::format("engine: pipeline for worker {}: {}", w->index,
                                        std::string(p.status().message())));
      }
      w->pipeline = std::move(*p);
    }
  }
  started_ = true;
  writer_ = std::thread([this] { WriterMain(); });
  for (auto& w : workers_) {
    int ret = rte_eal_remote_launch(&DpdkEngine::WorkerMain, w.get(), w->lcore);
    if (ret != 0) {
      RequestStop();
      return absl::InternalError(fmt::format("engine: launch worker on lcore {}: {}", w->lcore,
                                             rte_strerror(-ret)));
    }
    w->launched.store(true);
  }
  return absl::OkStatus();
}

int DpdkEngine::WorkerMain(void* arg) {
  Worker& w = *static_cast<Worker*>(arg);
  DpdkEngine& e = *w.engine;
  const uint64_t hz = rte_get_tsc_hz();
  const uint64_t advance_cycles = hz / 1000000 * e.options_.advance_every_us;
  const uint64_t publish_cycles = hz / 1000 * e.options_.publish_every_ms;
  bool all_files = true;
  for (const auto& s : w.sources) all_files = all_files && s->file_replay();
  std::vector<bool> finished(w.sources.size(), false);  // sized before the loop
  size_t active = w.sources.size();
  uint64_t newest_ts = 0;
  uint64_t last_advance = rte_rdtsc();
  uint64_t last_publish = last_advance;
  Frame frames[kBurstSize];

  while (!e.stop_.load(std::memory_order_relaxed) && !StopRequested() && active > 0) {
    // Replaying files, the worker is paced by the writer: when the hand-off is nearly
    // full it waits instead of reading on (a live port cannot wait: there the ring's
    // byte budget decides and overflow is a counted ring_full drop).
    if (all_files && w.sink->congested()) {
      rte_pause();
      continue;
    }
    for (size_t i = 0; i < w.sources.size(); ++i) {
      if (finished[i]) continue;
      absl::StatusOr<size_t> n = w.sources[i]->NextBurst(frames);
      if (!n.ok()) {  // end of a replayed file (the only error DpdkSource returns)
        finished[i] = true;
        --active;
        continue;
      }
      if (*n == 0) continue;
      if (frames[*n - 1].ts_ns > newest_ts) newest_ts = frames[*n - 1].ts_ns;
      if (w.pipeline != nullptr) w.pipeline->ProcessBurst(Burst(frames, *n));
    }
    w.sink->Reclaim();  // buffers the writer returned go back to the top of the stack
    const uint64_t now = rte_rdtsc();
    if (now - last_advance >= advance_cycles) {
      last_advance = now;
      uint64_t t = newest_ts;
      if (!all_files) t = std::max(t, w.sources.front()->NowNs());
      if (t != 0 && w.pipeline != nullptr) w.pipeline->Advance(t);
    }
    if (now - last_publish >= publish_cycles) {
      last_publish = now;
      w.Publish();
    }
  }
  if (w.pipeline != nullptr) {
    if (newest_ts != 0) w.pipeline->Advance(newest_ts);
    w.pipeline->Finish();
  }
  for (auto& s : w.sources) s->Release();
  // Publish unconditionally at the end: wait for the lock this once (control path now).
  if (w.pipeline != nullptr) {
    std::lock_guard<std::mutex> lock(w.mu);
    w.published = w.pipeline->Counters();
    w.active_calls = w.pipeline->ActiveCalls();
  }
  w.done.store(true, std::memory_order_release);
  return 0;
}

void DpdkEngine::WriterMain() {
  auto next_tick = std::chrono::steady_clock::now() +
                   std::chrono::milliseconds(options_.writer_tick_ms);
  auto tick = [&] {
    if (!options_.writer_tick) return;
    auto now = std::chrono::steady_clock::now();
    if (now < next_tick) return;
    next_tick = now + std::chrono::milliseconds(options_.writer_tick_ms);
    options_.writer_tick();
  };
  for (;;) {
    size_t handled = 0;
    for (auto& w : workers_) handled += w->sink->Drain(downstream_, 256);
    tick();
    if (handled > 0) continue;
    bool all_done = true;
    for (auto& w : workers_) all_done = all_done && w->done.load(std::memory_order_acquire);
    if (all_done || writer_stop_.load()) {
      // Workers are finished: nothing more will be enqueued. Drain what is left.
      for (auto& w : workers_) {
        while (w->sink->Drain(downstream_, 1024) > 0) {
        }
      }
      if (options_.writer_tick) options_.writer_tick();
      return;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

bool DpdkEngine::Done() const {
  for (const auto& w : workers_) {
    if (!w->done.load(std::memory_order_acquire)) return false;
  }
  return started_;
}

absl::Status DpdkEngine::Wait() {
  if (!started_ || waited_) return absl::OkStatus();
  for (auto& w : workers_) {
    if (w->launched.load()) rte_eal_wait_lcore(w->lcore);
  }
  // A worker that was never launched (failed Start) will never set done.
  writer_stop_.store(true);
  if (writer_.joinable()) writer_.join();
  waited_ = true;
  return absl::OkStatus();
}

EngineCounters DpdkEngine::Counters() const {
  EngineCounters c;
  for (const PortSetup& p : ports_) {
    PortCounters pc;
    pc.port = p.port;
    pc.name = p.name;
    pc.driver = p.driver;
    rte_eth_stats st{};
    if (rte_eth_stats_get(p.port, &st) == 0) {
      pc.ipackets = st.ipackets;
      pc.ibytes = st.ibytes;
      pc.imissed = st.imissed;
      pc.ierrors = st.ierrors;
      pc.rx_nombuf = st.rx_nombuf;
    }
    c.ports.push_back(pc);
  }
  std::map<std::string, size_t> index;
  for (const auto& w : workers_) {
    for (const auto& s : w->sources) {
      QueueCounters qc;
      s->FillCounters(&qc);
      qc.lcore = w->lcore;
      c.queues.push_back(qc);
    }
    RingCounters rc;
    w->sink->FillCounters(&rc);
    c.rings.push_back(rc);
    ++c.workers;
    if (w->done.load(std::memory_order_acquire)) ++c.workers_finished;
    std::lock_guard<std::mutex> lock(w->mu);
    c.active_calls += w->active_calls;
    for (const auto& [name, v] : w->published) {
      auto [it, inserted] = index.emplace(name, c.pipeline.size());
      if (inserted) {
        c.pipeline.emplace_back(name, v);
      } else {
        c.pipeline[it->second].second += v;
      }
    }
  }
  return c;
}

}  // namespace callvault::dpdk
