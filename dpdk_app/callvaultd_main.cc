// callvaultd --config FILE: the capture daemon.
//
// Start-up: config (an error names the key: one line on stderr, exit 2), agent directory,
// store (writer) + audit log + CommandService (cli/commands), the control socket
// (ControlServer, mode "online", served on its own thread), then capture per
// capture.source:
//   "dpdk": RunDpdkCapture (dpdk_app/dpdk_run.h) with one EnginePipeline per worker
//           lcore (>= 2 workers: one MediaBus, dpdk.bus_capacity, shared by all of them,
//           so a call's SIP and RTP may arrive on different queues); the engine's
//           writer thread hands blocks and call events to the store writer and flushes
//           it every min(store.block_ms, 1000) ms and at the end.
//   "pcap": RunPcapDaemon (dpdk_app/daemon_pcap.h): one pipeline thread over every
//           interface, or over capture.files one after the other.
// Signals: SIGTERM/SIGINT end every active call, flush and seal, exit 0. SIGHUP reloads
// agents.directory (AgentDirectoryHandle::Reload; an error keeps the old directory and
// is printed). Files (net_pcap with dpdk.stop_at_eof, or capture.files): at the end of
// the input callvaultd exits 0 with everything sealed when dpdk.stop_at_eof is true, and
// otherwise keeps serving the control socket until a signal.
// Metrics: Prometheus text written every second to <dir of control.socket>/callvaultd.prom
// (node_exporter textfile collector); `callvault status` shows the same counters and
// `callvault metrics` returns the same text over the control socket.
// systemd (Type=notify, dpdk_app/daemon_notify.h): READY=1 once capture runs, STATUS=
// once a second, WATCHDOG=1 every WatchdogSec/2 from the main loop, STOPPING=1 when the
// stop begins (signal, or end of input with stop_at_eof).
// Online `ingest` is refused (the capture owns the single store writer).
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "appliance/calls/agent_directory.h"
#include "appliance/common/status.h"
#include "appliance/config/config.h"
#include "appliance/control/server.h"
#include "appliance/pipeline/engine_pipeline.h"
#include "appliance/pipeline/media_bus.h"
#include "cli/commands/hooks.h"
#include "cli/commands/session.h"
#include "dpdk_app/daemon_notify.h"
#include "dpdk_app/daemon_pcap.h"
#include "dpdk_app/daemon_state.h"
#include "dpdk_app/dpdk_run.h"
#include "dpdk_app/signals.h"
#include "storage/retention/disk_guard.h"
#include "storage/store_pipeline_sink.h"

namespace {

using namespace callvault;

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "callvaultd: %s\n", std::string(s.message()).c_str());
  return static_cast<int>(ExitCodeFor(s));
}

void Usage(std::FILE* out) {
  std::fprintf(out,
               "usage: callvaultd --config FILE\n"
               "  Captures SIP and RTP per [capture] into the store of [store] and serves\n"
               "  the control socket of [control]. SIGTERM/SIGINT: end calls, seal, exit 0.\n"
               "  SIGHUP: reload [agents] directory.\n");
}

std::string Dirname(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string Describe(const Config& c) {
  if (c.capture.source == "dpdk") {
    std::string s;
    for (size_t i = 0; i < c.dpdk.eal_args.size(); ++i) {
      if ((c.dpdk.eal_args[i] == "--vdev" || c.dpdk.eal_args[i] == "-a") &&
          i + 1 < c.dpdk.eal_args.size()) {
        if (!s.empty()) s += " ";
        s += c.dpdk.eal_args[i + 1];
      }
    }
    return s.empty() ? "every DPDK port" : s;
  }
  const auto& v = c.capture.files.empty() ? c.capture.interfaces : c.capture.files;
  std::string s = c.capture.files.empty() ? "interfaces:" : "files:";
  for (const auto& x : v) s += " " + x;
  return s;
}

// Runs on the main thread about every 20-200 ms while capturing: SIGHUP reload,
// metrics, systemd notification (the watchdog pings prove the main loop turns).
class Ticker {
 public:
  Ticker(const Config& config, calls::AgentDirectoryHandle* directory,
         dpdk::DaemonState* state)
      : config_(config), directory_(directory), state_(state),
        metrics_path_(Dirname(config.control.socket) + "/callvaultd.prom"),
        notify_(dpdk::SdNotifier::FromEnvironment()) {}

  void Tick() {
    if (dpdk::TakeReloadRequest()) {
      if (config_.agents.directory.empty()) {
        std::fprintf(stderr, "callvaultd: SIGHUP: no agents.directory configured\n");
      } else {
        absl::Status s = directory_->Reload(config_.agents.directory);
        if (s.ok()) {
          std::fprintf(stderr, "callvaultd: SIGHUP: reloaded %s\n",
                       config_.agents.directory.c_str());
        } else {
          std::fprintf(stderr, "callvaultd: SIGHUP: agents.directory: %s (kept the old one)\n",
                       std::string(s.message()).c_str());
        }
      }
    }
    auto now = std::chrono::steady_clock::now();
    if (now >= next_metrics_) {
      next_metrics_ = now + std::chrono::seconds(1);
      WriteMetrics();
    }
    if (state_->running()) notify_.Ready();
    if (dpdk::StopRequested()) notify_.Stopping();
    notify_.Tick(now, [this] { return StatusLine(); });
  }
  // The input ended (files): ready for control-socket use even if capture never ran.
  void InputEnded() {
    input_ended_ = true;
    notify_.Ready();
  }
  void Stopping() { notify_.Stopping(); }
  void WriteMetrics() {
    absl::Status s = state_->WritePrometheusFile(metrics_path_);
    if (!s.ok() && !metrics_warned_) {
      metrics_warned_ = true;
      std::fprintf(stderr, "callvaultd: %s\n", std::string(s.message()).c_str());
    }
  }

 private:
  const Config& config_;
  calls::AgentDirectoryHandle* directory_;
  dpdk::DaemonState* state_;
  // systemd's STATUS= line: what runs, frames, drops, active calls.
  std::string StatusLine() const {
    const dpdk::EngineCounters c = state_->Snapshot();
    uint64_t frames = 0, dropped = 0;
    for (const auto& q : c.queues) frames += q.frames;
    for (const auto& [name, value] : dpdk::Drops(c)) dropped += value;
    const char* what = dpdk::StopRequested() ? "stopping"
                       : input_ended_        ? "input ended, serving"
                       : state_->running()   ? "capturing"
                                             : "starting";
    return fmt::format("{} ({}): {} frames, {} dropped, {} active calls", what,
                       config_.capture.source, frames, dropped, c.active_calls);
  }

  std::string metrics_path_;
  dpdk::SdNotifier notify_;
  bool input_ended_ = false;
  std::chrono::steady_clock::time_point next_metrics_{};
  bool metrics_warned_ = false;
};

// One line on stderr at the end of a capture run: what went through, how fast, what
// was lost (bench/e2e/run.sh parses it). `seconds` spans the whole capture call (DPDK:
// EAL start, pools and the final drain included), so `frames_per_s` is a lower bound;
// `startup_s` is the part before the first read (EAL, ports, pools, pipelines) and
// `capture_s` the rest, from the first read to the final seal on disk (ports closed): `capture_frames_per_s` is the rate the engine sustained while capturing.
struct RunClock {
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point started{};  // set by the on_started hooks
  void Started() { started = std::chrono::steady_clock::now(); }
};

void PrintSummary(const dpdk::DaemonState& state, const RunClock& clock, uint64_t calls) {
  const auto end = std::chrono::steady_clock::now();
  const auto started = clock.started == std::chrono::steady_clock::time_point{} ? clock.start
                                                                                  : clock.started;
  const double seconds = std::chrono::duration<double>(end - clock.start).count();
  const double startup = std::chrono::duration<double>(started - clock.start).count();
  const double capture = std::chrono::duration<double>(end - started).count();
  const dpdk::EngineCounters c = state.Snapshot();
  uint64_t frames = 0, bytes = 0, dropped = 0;
  for (const auto& q : c.queues) {
    frames += q.frames;
    bytes += q.bytes;
  }
  for (const auto& [name, value] : dpdk::Drops(c)) dropped += value;
  uint64_t handoff_peak = 0;  // sum over rings of their peaks (an upper bound of the total)
  for (const auto& r : c.rings) handoff_peak += r.bytes_peak;
  std::fprintf(stderr,
               "callvaultd: summary frames=%llu bytes=%llu seconds=%.3f frames_per_s=%.0f "
               "calls=%llu drops=%llu startup_s=%.3f capture_s=%.3f capture_frames_per_s=%.0f "
               "handoff_peak_bytes=%llu\n",
               static_cast<unsigned long long>(frames), static_cast<unsigned long long>(bytes),
               seconds, seconds > 0 ? double(frames) / seconds : 0.0,
               static_cast<unsigned long long>(calls), static_cast<unsigned long long>(dropped),
               startup, capture, capture > 0 ? double(frames) / capture : 0.0,
               static_cast<unsigned long long>(handoff_peak));
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
      config_path = argv[++i];
    } else if (std::strncmp(argv[i], "--config=", 9) == 0) {
      config_path = argv[i] + 9;
    } else if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      Usage(stdout);
      return 0;
    } else if (std::strcmp(argv[i], "--version") == 0) {
      std::printf("callvaultd %s\n", CALLVAULT_VERSION);
      return 0;
    } else {
      std::fprintf(stderr, "callvaultd: unknown argument '%s' (usage: callvaultd --config FILE)\n",
                   argv[i]);
      return 2;
    }
  }
  if (config_path.empty()) {
    std::fprintf(stderr, "callvaultd: --config FILE is required\n");
    return 2;
  }
  absl::StatusOr<Config> loaded = LoadConfig(config_path);
  if (!loaded.ok()) {
    std::fprintf(stderr, "callvaultd: %s\n", std::string(loaded.status().message()).c_str());
    return 2;
  }
  const Config& config = *loaded;

  dpdk::InstallSignalHandlers();
  std::signal(SIGPIPE, SIG_IGN);

  calls::AgentDirectoryHandle directory;
  if (!config.agents.directory.empty()) {
    absl::Status s = directory.Reload(config.agents.directory);
    if (!s.ok()) return Fail(absl::InvalidArgumentError(
        fmt::format("agents.directory: {}", std::string(s.message()))));
  }

  dpdk::DaemonState state(config.capture.source, Describe(config));

  StoreOptions so;
  so.config = config.store;
  so.create = true;
  cli::ServiceOptions base;
  base.mode = "online";
  base.region = config.agents.default_country;
  base.mask_dtmf = config.media.mask_dtmf;
  base.disk_floor_bytes = config.store.disk_floor_bytes;
  // Disk pressure (docs/RETENTION.md): polled once a second from the ticks below; below
  // the floor it is an alarm, below the hard reserve media blocks are refused (counted),
  // signalling and call records are still written, and nothing stored is deleted.
  retention::DiskGuardOptions dgo;
  dgo.path = config.store.path;
  dgo.floor_bytes = config.store.disk_floor_bytes;
  dgo.log = [](std::string_view line) {
    std::fprintf(stderr, "callvaultd: %.*s\n", int(line.size()), line.data());
  };
  retention::DiskGuard disk(std::move(dgo));
  (void)disk.Poll();
  auto last_disk_poll = std::chrono::steady_clock::now();
  auto poll_disk = [&] {
    auto now = std::chrono::steady_clock::now();
    if (now - last_disk_poll < std::chrono::seconds(1)) return;
    last_disk_poll = now;
    (void)disk.Poll();  // an error keeps the last state; the next poll retries
  };
  // The same state in the Prometheus metrics file (callvault_disk_*).
  state.SetExtraPrometheus([&disk] { return retention::RenderDiskPrometheus(disk); });
  base.capture_status = [&state, &disk] {
    nlohmann::json j = state.StatusJson();
    j["disk"] = {{"state", std::string(retention::DiskStateName(disk.state()))},
                 {"free_bytes", disk.free_bytes()},
                 {"total_bytes", disk.total_bytes()},
                 {"media_disk_full", disk.drops(retention::DiskDrop::kMediaDiskFull)}};
    if (disk.alarm()) {
      j["alarms"].push_back(fmt::format("disk {}: {} bytes free",
                                        retention::DiskStateName(disk.state()),
                                        disk.free_bytes()));
    }
    return j;
  };
  // `callvault metrics`: the text of the metrics file, built fresh for each request.
  base.capture_metrics = [&state] { return state.Prometheus(); };
  cli::InstallHooks(base, &config);
  base.ingest = nullptr;  // the capture owns the store's single writer
  absl::StatusOr<cli::LocalSession> session = cli::OpenLocalSession(so, std::move(base));
  if (!session.ok()) return Fail(Annotate(session.status(), "store"));
  StoreWriter* writer = session->store->writer();
  if (writer == nullptr) return Fail(absl::InternalError("store: no writer"));

  absl::StatusOr<std::unique_ptr<control::ControlServer>> server =
      control::ControlServer::Listen(config.control,
                                     control::RoleMap::FromConfig(config.control),
                                     session->service->AsHandler());
  if (!server.ok()) return Fail(Annotate(server.status(), "control.socket"));
  std::atomic<bool> control_stop{false};
  std::thread control_thread([&] { (*server)->Serve(control_stop); });

  Ticker ticker(config, &directory, &state);
  absl::Status result;
  RunClock clock;            // the summary line's clocks
  uint64_t calls_ended = 0;  // calls handed to the store
  std::mutex store_mu;
  absl::Status store_error;  // the DPDK writer thread's first flush error (store_mu)
  if (config.capture.source == "dpdk") {
    StorePipelineSink store_sink(writer, &disk);  // used on the engine's writer thread only
    dpdk::RunHooks hooks;
    hooks.program = argc > 0 ? argv[0] : "callvaultd";
    hooks.writer_tick_ms = std::min<uint32_t>(config.store.block_ms, 1000);
    // A failed store writer refuses every block from then on (its error is sticky), so
    // the capture stops with the error, as the libpcap path does: exit non-zero and let
    // systemd restart the daemon with a fresh writer, instead of running on and dropping
    // every call.
    hooks.writer_tick = [writer, &state, &store_mu, &store_error] {
      absl::Status s = writer->FlushBehind();
      if (s.ok()) return;
      std::lock_guard<std::mutex> lock(store_mu);
      if (!store_error.ok()) return;
      store_error = dpdk::StoreFlushFailed(s);
      state.AddAlarm(fmt::format("store: {}", std::string(s.message())));
      dpdk::RequestStop();
    };
    hooks.on_tick = [&](const dpdk::DpdkEngine& engine) {
      state.Publish(engine.Counters());
      state.SetRunning(!engine.Done());  // ports started, workers polling
      ticker.Tick();
      poll_disk();
    };
    // Two or more workers share one MediaBus (a call's SIP and RTP may land on different
    // RX queues); it outlives the engine, which destroys the pipelines.
    std::unique_ptr<MediaBus> bus;
    hooks.before_pipelines = [&bus, &config](unsigned workers) {
      if (workers >= 2) bus = std::make_unique<MediaBus>(workers, config.dpdk.bus_capacity);
      return absl::OkStatus();
    };
    dpdk::PipelineFactory factory = [&config, &directory, &bus](unsigned index,
                                                                PipelineSink* sink) {
      return MakeEnginePipeline(config, sink, &directory, PipelineWorker{bus.get(), index});
    };
    hooks.on_started = [&clock] { clock.Started(); };
    result = dpdk::RunDpdkCapture(config, factory, &store_sink, hooks);
    state.SetRunning(false);
    std::lock_guard<std::mutex> lock(store_mu);
    if (result.ok() && !store_error.ok()) result = store_error;
    calls_ended = store_sink.calls_ended();
  } else {
    dpdk::PcapDaemonOptions po;
    po.flush_every_ms = std::min<uint32_t>(config.store.block_ms, 1000);
    po.calls_ended = &calls_ended;
    po.disk = &disk;
    std::atomic<bool> capture_done{false};
    po.on_started = [&clock] { clock.Started(); };  // before the thread starts reading
    std::thread capture([&] {
      result = dpdk::RunPcapDaemon(config, &directory, writer, &state, po);
      capture_done = true;
    });
    while (!capture_done.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      ticker.Tick();
      poll_disk();
    }
    capture.join();
  }
  // A short file can end before the first tick saw the capture running: it did run.
  if (result.ok() && !dpdk::StopRequested()) ticker.InputEnded();
  const bool keep_serving = result.ok() && !dpdk::StopRequested() && !config.dpdk.stop_at_eof;
  if (!keep_serving) ticker.Stopping();  // before the final sync, which may take a while
  if (result.ok()) result = Annotate(writer->Sync(), "store sync");
  PrintSummary(state, clock, calls_ended);  // after the final seal: it is part of the run
  if (result.ok()) result = writer->status();
  if (result.ok() && writer->blocks_dropped() != 0) {
    state.AddAlarm(fmt::format("store: {} blocks refused", writer->blocks_dropped()));
  }
  ticker.WriteMetrics();

  // Input ended without a stop request (files) and stop_at_eof is off: keep serving the
  // control socket (searches of what was captured) until a signal.
  if (keep_serving && result.ok()) {
    std::fprintf(stderr, "callvaultd: input ended; serving the control socket until SIGTERM\n");
    while (!dpdk::StopRequested()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      ticker.Tick();
    }
  }
  ticker.Stopping();
  control_stop = true;
  control_thread.join();
  if (!result.ok()) return Fail(result);
  return 0;
}
