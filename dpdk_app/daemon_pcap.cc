#include "dpdk_app/daemon_pcap.h"

#include <pthread.h>

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "appliance/capture/pcap_source.h"
#include "appliance/common/status.h"
#include "appliance/common/time_util.h"
#include "appliance/pipeline/engine_pipeline.h"
#include "dpdk_app/ring_sink.h"
#include "dpdk_app/signals.h"
#include "storage/store_pipeline_sink.h"

namespace callvault::dpdk {

namespace {

using Clock = std::chrono::steady_clock;

EngineCounters Collect(const std::vector<std::unique_ptr<capture::CaptureSource>>& sources,
                       const Pipeline& pipeline, const RingSink& ring) {
  EngineCounters c;
  c.rings.emplace_back();
  ring.FillCounters(&c.rings.back());
  for (size_t i = 0; i < sources.size(); ++i) {
    if (sources[i] == nullptr) continue;
    const capture::SourceStats s = sources[i]->Stats();
    PortCounters p;
    p.port = static_cast<uint16_t>(i);
    p.name = sources[i]->Name();
    p.driver = "libpcap";
    p.ipackets = s.frames;
    p.ibytes = s.bytes;
    p.imissed = s.kernel_drops;
    p.ierrors = s.if_drops;
    p.rx_nombuf = s.no_buffer;
    c.ports.push_back(p);
    QueueCounters q;
    q.port = p.port;
    q.frames = s.frames;
    q.bytes = s.bytes;
    c.queues.push_back(q);
  }
  c.pipeline = pipeline.Counters();
  c.active_calls = pipeline.ActiveCalls();
  c.workers = 1;
  return c;
}

}  // namespace

absl::Status RunPcapDaemon(const Config& config, const calls::AgentDirectoryHandle* directory,
                           StoreWriter* writer, DaemonState* state,
                           const PcapDaemonOptions& options) {
  const bool files = !config.capture.files.empty();
  if (!files && config.capture.interfaces.empty()) {
    return absl::InvalidArgumentError(
        "capture.interfaces: empty (and no capture.files) with capture.source = \"pcap\"");
  }
  StorePipelineSink sink(writer, options.disk);  // on the writer thread only
  // The capture thread's pipeline hands blocks and call events to the writer thread over
  // the same bounded ring as a DPDK worker's (ring_sink.h), built without the EAL.
  ASSIGN_OR_RETURN(std::unique_ptr<RingSink> ring,
                   RingSink::CreateLocal("pcap.writer", config.dpdk.ring_size,
                                         config.dpdk.ring_bytes));
  ASSIGN_OR_RETURN(std::unique_ptr<Pipeline> pipeline,
                   MakeEnginePipeline(config, ring.get(), directory));
  ring->set_wait_when_full(files);  // a file cannot overrun: wait, never drop

  // Every source is opened up front, so a bad file or interface fails before capture.
  std::vector<std::unique_ptr<capture::CaptureSource>> sources;
  const std::vector<std::string>& names = files ? config.capture.files : config.capture.interfaces;
  for (size_t i = 0; i < names.size(); ++i) {
    absl::StatusOr<std::unique_ptr<capture::CaptureSource>> s =
        files ? capture::OpenPcapFile(names[i], static_cast<uint16_t>(i),
                                      config.capture.bpf_filter)
              : capture::OpenPcapLive(names[i], config.capture, static_cast<uint16_t>(i));
    if (!s.ok()) {
      return Annotate(s.status(), fmt::format("capture.{}[{}]", files ? "files" : "interfaces", i));
    }
    sources.push_back(*std::move(s));
  }

  // Writer thread: drains the ring into the store and seals every flush_every_ms
  // (FlushBehind: the disk waits are the store's sealer thread's). Its first error stops
  // the capture.
  std::atomic<bool> capture_done{false};
  std::atomic<bool> writer_failed{false};
  std::mutex writer_mu;
  absl::Status writer_result;  // guarded by writer_mu
  std::thread writer_thread([&] {
    pthread_setname_np(pthread_self(), "cv-writer");
    RingSink* rings[] = {ring.get()};
    DrainUntilDone(rings, &sink, options.flush_every_ms,
                   [&] {
                     if (writer_failed.load(std::memory_order_relaxed)) return;
                     absl::Status f = writer->FlushBehind();
                     if (f.ok()) return;
                     std::lock_guard<std::mutex> lock(writer_mu);
                     writer_result = StoreFlushFailed(f);
                     writer_failed.store(true, std::memory_order_release);
                   },
                   [&] { return capture_done.load(std::memory_order_acquire); });
  });

  std::array<Frame, kBurstSize> burst;
  const auto publish_every = std::chrono::milliseconds(options.publish_every_ms);
  auto next_publish = Clock::now();
  auto next_idle_advance = Clock::now();
  absl::Status result;
  size_t current = 0;  // files: the file being read
  auto stopping = [&] {
    return StopRequested() ||
           (options.stop != nullptr && options.stop->load(std::memory_order_relaxed));
  };
  state->SetRunning(true);
  if (options.on_started) options.on_started();
  while (!stopping() && !writer_failed.load(std::memory_order_acquire)) {
    bool any = false;
    // A file cannot overrun: while the hand-off is nearly full the capture waits for the
    // writer instead of reading on (live interfaces cannot wait: a full ring is a counted
    // ring_full drop, and the kernel's buffer absorbs a short stall first).
    if (files && ring->congested()) {
      std::this_thread::sleep_for(std::chrono::microseconds(50));
      continue;
    }
    if (!files) ring->Reclaim();
    if (files) {
      if (current >= sources.size()) break;
      absl::StatusOr<size_t> n = sources[current]->NextBurst(burst);
      if (!n.ok()) {
        if (!absl::IsOutOfRange(n.status())) {
          result = Annotate(n.status(), sources[current]->Name());
          break;
        }
        ++current;
        continue;
      }
      if (*n > 0) {
        pipeline->ProcessBurst(Burst(burst.data(), *n));
        any = true;
      }
    } else {
      for (auto& s : sources) {
        absl::StatusOr<size_t> n = s->NextBurst(burst);
        if (!n.ok()) {
          result = Annotate(n.status(), s->Name());
          break;
        }
        if (*n > 0) {
          pipeline->ProcessBurst(Burst(burst.data(), *n));
          any = true;
        }
      }
      if (!result.ok()) break;
    }
    const auto now = Clock::now();
    if (!any && !files && now >= next_idle_advance) {
      next_idle_advance = now + std::chrono::milliseconds(100);
      pipeline->Advance(NowNs());
    }
    if (now >= next_publish) {
      next_publish = now + publish_every;
      state->Publish(Collect(sources, *pipeline, *ring));
    }
  }
  pipeline->Finish();  // every active call ends, every leg flushes
  capture_done.store(true, std::memory_order_release);
  writer_thread.join();  // everything handed over is in the writer now
  {
    std::lock_guard<std::mutex> lock(writer_mu);
    if (result.ok()) result = writer_result;
  }
  absl::Status synced = Annotate(writer->Sync(), "store sync");
  if (result.ok()) result = synced;
  state->Publish(Collect(sources, *pipeline, *ring));
  state->SetRunning(false);
  if (options.calls_ended != nullptr) *options.calls_ended = sink.calls_ended();
  return result;
}

}  // namespace callvault::dpdk
