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

#include "appliance/common/status.h"
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
  std::vector<WorkerCpus> placement;
  for (const auto& w : workers_) placement.push_back({w->lcore, rte_lcore_cpuset(w->lcore)});
  warnings_ = SharedCpuWarnings(placement);
  for (size_t i = 0; i < queues.size(); ++i) {
    Worker& w = *workers_[i % nworkers];
    w.sources.push_back(
        std::make_unique<DpdkSource>(*queues[i].first, *queues[i].second, options_.stop_at_eof));
  }
  if (options_.before_pipelines) {
    absl::Status s = options_.before_pipelines(static_cast<unsigned>(workers_.size()));
    if (!s.ok()) return Annotate(s, "engine");
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
  // Several workers replaying files process frames in global capture order; a live
  // port is real time and is never held back (capture_order.h).
  bool all_files = true;
  for (const auto& w : workers_) {
    for (const auto& s : w->sources) all_files = all_files && s->file_replay();
  }
  if (workers_.size() >= 2 && all_files) {
    clock_ = std::make_unique<CaptureClock>(static_cast<unsigned>(workers_.size()));
    media_only_ = std::make_unique<MediaOnlyFilter>(options_.sip_ports);
  }
  barrier_ = std::make_unique<SpinBarrier>(static_cast<unsigned>(workers_.size()));
  started_ = true;
  writer_ = std::thread([this] { WriterMain(); });
  for (auto& w : workers_) {
    int ret = rte_eal_remote_launch(&DpdkEngine::WorkerMain, w.get(), w->lcore);
    if (ret != 0) {
      RequestStop();
      go_.store(-1, std::memory_order_release);  // the launched ones finish alone
      return absl::InternalError(fmt::format("engine: launch worker on lcore {}: {}", w->lcore,
                                             rte_strerror(-ret)));
    }
    w->launched.store(true);
  }
  go_.store(1, std::memory_order_release);
  return absl::OkStatus();
}

namespace {

// One source's current burst in the ordered loop: frames [pos, n) are not processed yet.
// media[i]: frame i is media-only (media_only.h), classified once when read; sig: the
// first frame at or after pos that may carry signalling (n: none held); last_ts: the
// time of the last frame read from this source (kNotRead before the first).
struct HeldBurst {
  Frame frames[kBurstSize];
  bool media[kBurstSize];
  size_t n = 0;
  size_t pos = 0;
  size_t sig = 0;
  uint64_t last_ts = CaptureClock::kNotRead;
  bool ended = false;
  bool has_head() const { return pos < n; }
  uint64_t head() const { return frames[pos].ts_ns; }
  // Fills media[], sig and last_ts for a new burst of n frames.
  void Classify(const MediaOnlyFilter& filter) {
    for (size_t i = 0; i < n; ++i) media[i] = filter.IsMediaOnly(frames[i]);
    sig = 0;
    while (sig < n && media[sig]) ++sig;
    if (n > 0) last_ts = frames[n - 1].ts_ns;
  }
  // After pos moved on: the next frame that may carry signalling.
  void SkipToSignalling() {
    if (sig < pos) sig = pos;
    while (sig < n && media[sig]) ++sig;
  }
  // This source's share of sig_bound (capture_order.h): the first held frame that may
  // carry signalling, else the last frame read (later frames of a time-ordered queue
  // are not earlier), kDone once ended.
  uint64_t SigBound() const {
    if (ended) return CaptureClock::kDone;
    if (!has_head()) return last_ts;
    return sig < n ? frames[sig].ts_ns : last_ts;
  }
};

}  // namespace

// The unordered loop (live ports, or one worker): every source is read and processed as
// it comes. Returns when stopped or every source ended.
void DpdkEngine::RunUnordered(Worker& w, bool all_files, uint64_t* newest_ts) {
  const uint64_t hz = rte_get_tsc_hz();
  const uint64_t advance_cycles = hz / 1000000 * options_.advance_every_us;
  const uint64_t publish_cycles = hz / 1000 * options_.publish_every_ms;
  std::vector<bool> finished(w.sources.size(), false);  // sized before the loop
  size_t active = w.sources.size();
  uint64_t last_advance = rte_rdtsc();
  uint64_t last_publish = last_advance;
  Frame frames[kBurstSize];

  while (!stop_.load(std::memory_order_relaxed) && !StopRequested() && active > 0) {
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
      if (frames[*n - 1].ts_ns > *newest_ts) *newest_ts = frames[*n - 1].ts_ns;
      if (w.pipeline != nullptr) w.pipeline->ProcessBurst(Burst(frames, *n));
    }
    // Buffers the writer returned go back to the top of the stack (replaying files,
    // congested() at the top of the round has just done it).
    if (!all_files) w.sink->Reclaim();
    const uint64_t now = rte_rdtsc();
    if (now - last_advance >= advance_cycles) {
      last_advance = now;
      uint64_t t = *newest_ts;
      if (!all_files) t = std::max(t, w.sources.front()->NowNs());
      if (t != 0 && w.pipeline != nullptr) w.pipeline->Advance(t);
    }
    if (now - last_publish >= publish_cycles) {
      last_publish = now;
      w.Publish();
    }
  }
}

// The ordered loop (>= 2 workers, every source a file replay): frames that may carry
// signalling are processed in global (capture time, worker index) order against every
// frame of every worker; media-only frames only wait for the other workers' signalling
// (capture_order.h). Each of the worker's sources keeps its current burst until it is
// fully processed (NextBurst frees the previous burst's mbufs) and classifies it once
// when read (media_only.h); the worker merges its own sources by time, takes the longest
// prefix the other workers' published times allow (each frame by its class), and
// publishes its new next and sig_bound. A worker whose head frame is not allowed spins
// (rte_pause): some other worker can always move (the argument is in capture_order.h).
void DpdkEngine::RunOrdered(Worker& w, uint64_t* newest_ts) {
  const uint64_t hz = rte_get_tsc_hz();
  const uint64_t advance_cycles = hz / 1000000 * options_.advance_every_us;
  const uint64_t publish_cycles = hz / 1000 * options_.publish_every_ms;
  CaptureClock& clock = *clock_;
  const MediaOnlyFilter& filter = *media_only_;
  std::vector<HeldBurst> held(w.sources.size());  // sized before the loop
  size_t active = w.sources.size();
  uint64_t last_advance = rte_rdtsc();
  uint64_t last_publish = last_advance;
  uint64_t my_next = CaptureClock::kNotRead;  // as published (stored on change)
  uint64_t my_sig = CaptureClock::kNotRead;
  // SIP this worker handed to worker 0 (pipeline.h) counts as this worker's signalling
  // until worker 0 has processed it: the time of the oldest such message, or kDone.
  auto pending_sip = [&] {
    const uint64_t p = w.pipeline != nullptr ? w.pipeline->PendingSignallingNs() : UINT64_MAX;
    return p == UINT64_MAX ? CaptureClock::kDone : p;
  };
  // Publishes `next` and the worker's sig_bound (the minimum over its sources), when
  // either changed. sig_bound is raised to next at least: a no-op with time-ordered
  // queues, and it keeps the no-deadlock argument when a queue is not (capture_order.h).
  // Both are then lowered to the SIP handed over and not yet processed, which counts as
  // an unprocessed signalling frame of this worker (capture_order.h, "SIP handed over").
  auto publish = [&](uint64_t next) {
    uint64_t sig = CaptureClock::kDone;
    for (const HeldBurst& o : held) sig = std::min(sig, o.SigBound());
    const uint64_t pending = pending_sip();
    sig = std::min(std::max(sig, next), pending);
    next = std::min(next, pending);
    if (next != my_next || sig != my_sig) clock.Publish(w.index, my_next = next, my_sig = sig);
  };

  while (!stop_.load(std::memory_order_relaxed) && !StopRequested() && active > 0) {
    if (w.sink->congested()) {  // paced by the writer, as in the unordered loop
      rte_pause();
      continue;
    }
    // Refill every source whose burst is used up. Until each live source shows its
    // head frame the worker cannot know its own next, so it keeps the last published
    // value (a lower bound: every source is in time order) and processes nothing.
    bool all_heads = true;
    for (size_t i = 0; i < held.size(); ++i) {
      HeldBurst& h = held[i];
      if (h.ended || h.has_head()) continue;
      absl::StatusOr<size_t> n = w.sources[i]->NextBurst(h.frames);
      if (!n.ok()) {  // end of this replayed file
        h.ended = true;
        h.n = h.pos = 0;
        --active;
        continue;
      }
      h.n = *n;
      h.pos = 0;
      h.Classify(filter);
      if (*n == 0) {
        all_heads = false;
        continue;
      }
    }
    if (active == 0) break;
    if (all_heads) {
      // The worker's own next: the earliest head (ties to the lower source).
      size_t s = held.size();
      for (size_t i = 0; i < held.size(); ++i) {
        if (held[i].has_head() && (s == held.size() || held[i].head() < held[s].head())) s = i;
      }
      publish(held[s].head());
      // Within the worker, source s goes up to the next head of another source
      // (equal times: the lower source first); across workers, up to the clock's limit.
      const CaptureClock::Limits limits = clock.LimitsFor(w.index);
      // Nor does this worker go past its own SIP that worker 0 has not run yet.
      uint64_t own_limit = pending_sip();
      for (size_t i = 0; i < held.size(); ++i) {
        if (i == s || !held[i].has_head()) continue;
        const uint64_t hl = held[i].head() + (i > s ? 1 : 0);  // i > s: s wins the tie
        own_limit = std::min(own_limit, hl);
      }
      HeldBurst& h = held[s];
      const Frame* first = h.frames + h.pos;
      const bool* media = h.media + h.pos;
      const size_t k = CaptureClock::AllowedPrefix(
          limits, w.index, h.n - h.pos, [first](size_t i) { return first[i].ts_ns; },
          [media](size_t i) { return media[i]; });
      size_t take = 0;
      while (take < k && first[take].ts_ns < own_limit) ++take;
      if (take > 0) {
        if (w.pipeline != nullptr) w.pipeline->ProcessBurst(Burst(h.frames + h.pos, take));
        h.pos += take;
        h.SkipToSignalling();
        // Timers may only reach frames already processed (held ones come later).
        *newest_ts = std::max(*newest_ts, first[take - 1].ts_ns);
        // Publish the new next only when it is known (the source still holds frames);
        // otherwise the old value stays until the refill above shows the next head.
        // sig_bound is always known (a used-up source counts its last frame's time).
        uint64_t next = my_next;
        if (h.has_head()) {
          next = CaptureClock::kDone;
          for (const HeldBurst& o : held) {
            if (o.has_head()) next = std::min(next, o.head());
          }
        }
        publish(next);
      } else {
        // Another worker holds earlier frames (or worker 0 has not yet run SIP handed to
        // it): take what the others sent meanwhile, which is what may let them go on.
        if (w.pipeline != nullptr) w.pipeline->PollBus();
        rte_pause();
      }
    }
    w.sink->Reclaim();
    const uint64_t now = rte_rdtsc();
    if (now - last_advance >= advance_cycles) {
      last_advance = now;
      // Timers follow capture time: this worker's newest frame, or further when every
      // worker is past it (a quiet queue must not hold back this worker's timers).
      const uint64_t t = std::max(*newest_ts, clock.Frontier());
      if (t != 0 && w.pipeline != nullptr) w.pipeline->Advance(t);
    }
    if (now - last_publish >= publish_cycles) {
      last_publish = now;
      w.Publish();
    }
  }
  // Done (or stopped): never hold the others back again — once worker 0 has run the SIP
  // this worker handed it (it drains the bus while it works and while it waits).
  while (pending_sip() != CaptureClock::kDone) {
    if (w.pipeline != nullptr) w.pipeline->PollBus();
    rte_pause();
  }
  clock.Publish(w.index, CaptureClock::kDone);
}

int DpdkEngine::WorkerMain(void* arg) {
  Worker& w = *static_cast<Worker*>(arg);
  DpdkEngine& e = *w.engine;
  // Wait until Start() launched every worker: the barriers below count on all of them.
  int go;
  while ((go = e.go_.load(std::memory_order_acquire)) == 0) rte_pause();
  const bool together = go > 0;  // false: a launch failed, finish alone
  bool all_files = true;
  for (const auto& s : w.sources) all_files = all_files && s->file_replay();
  // A file replay cannot overrun: its hand-off waits for the writer instead of dropping
  // (the writer drains until every worker is done, so the wait ends).
  if (w.sink != nullptr) w.sink->set_wait_when_full(all_files);
  uint64_t newest_ts = 0;
  if (together && e.clock_ != nullptr) {
    e.RunOrdered(w, &newest_ts);
  } else {
    e.RunUnordered(w, all_files, &newest_ts);
  }

  // Phased stop (Pipeline::FinishStep): all workers stop reading; each advances to the
  // newest capture time any worker saw; then signalling, media and calls, each step on
  // every worker before any starts the next (a dialog ended on one worker must reach
  // the legs on the others before they close; their leg reports must reach the owner
  // before its final records). One worker: the same steps without waiting.
  // While waiting at a barrier a worker still takes what the others send it: worker 0
  // runs the SIP they hand over, which they may be waiting for (ordered loop).
  auto relax = [&w] {
    if (w.pipeline != nullptr) w.pipeline->PollBus();
    rte_pause();
  };
  if (together) {
    uint64_t seen = e.newest_ts_.load(std::memory_order_relaxed);
    while (newest_ts > seen &&
           !e.newest_ts_.compare_exchange_weak(seen, newest_ts, std::memory_order_acq_rel)) {
    }
    e.barrier_->Arrive(relax);
    newest_ts = e.newest_ts_.load(std::memory_order_acquire);
  }
  if (w.pipeline != nullptr && newest_ts != 0) w.pipeline->Advance(newest_ts);
  for (Pipeline::FinishStep step :
       {Pipeline::FinishStep::kSignalling, Pipeline::FinishStep::kMedia,
        Pipeline::FinishStep::kCalls}) {
    if (together) e.barrier_->Arrive(relax);
    if (w.pipeline != nullptr) w.pipeline->RunFinishStep(step);
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
  std::vector<RingSink*> rings;
  for (auto& w : workers_) rings.push_back(w->sink.get());
  DrainUntilDone(rings, downstream_, static_cast<uint32_t>(options_.writer_tick_ms),
                 options_.writer_tick, [this] {
                   bool all_done = true;
                   for (auto& w : workers_) {
                     all_done = all_done && w->done.load(std::memory_order_acquire);
                   }
                   return all_done || writer_stop_.load();
                 });
  if (options_.writer_tick) options_.writer_tick();  // after the last drain
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
