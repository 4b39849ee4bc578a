#include "cli/commands/ingest.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>

#include <fmt/format.h>

#include "appliance/calls/agent_directory.h"
#include "appliance/capture/pcap_source.h"
#include "appliance/common/status.h"
#include "appliance/pipeline/capture_runner.h"
#include "appliance/pipeline/engine_pipeline.h"
#include "storage/store_pipeline_sink.h"

namespace callvault::cli {

absl::StatusOr<IngestResult> IngestFiles(const Config& config, Store& store,
                                         const std::vector<std::string>& files,
                                         const control::ProgressFn& progress) {
  return IngestFiles(config, store, files, progress, IngestDiskOptions{});
}

absl::StatusOr<IngestResult> IngestFiles(const Config& config, Store& store,
                                         const std::vector<std::string>& files,
                                         const control::ProgressFn& progress,
                                         const IngestDiskOptions& disk) {
  StoreWriter* writer = store.writer();
  if (writer == nullptr) return absl::FailedPreconditionError("ingest: store is read-only");
  calls::AgentDirectoryHandle directory;
  if (!config.agents.directory.empty()) {
    RETURN_IF_ERROR(Annotate(directory.Reload(config.agents.directory), "agents.directory"));
  }

  auto t0 = std::chrono::steady_clock::now();
  uint64_t total_bytes = 0;
  for (const std::string& f : files) {
    struct stat st;
    if (::stat(f.c_str(), &st) != 0) {
      // A missing input is a usage error (exit 2), not "nothing found" (exit 1).
      absl::Status err = ErrnoToStatus(errno, fmt::format("ingest {}", f));
      if (absl::IsNotFound(err)) err = absl::InvalidArgumentError(std::string(err.message()));
      return err;
    }
    total_bytes += static_cast<uint64_t>(st.st_size);
  }

  // Disk pressure, as in callvaultd (ingest.h): an alarm below the floor, media dropped
  // (counted) only below the hard reserve, nothing stored ever deleted.
  std::function<void(std::string_view)> log = disk.log;
  if (!log) {
    log = [](std::string_view line) {
      std::fprintf(stderr, "callvault: %.*s\n", int(line.size()), line.data());
    };
  }
  retention::DiskGuardOptions dgo;
  dgo.path = store.config().path;
  dgo.floor_bytes = store.config().disk_floor_bytes;
  dgo.hard_reserve_bytes = disk.hard_reserve_bytes;
  dgo.stat = disk.stat;
  dgo.log = log;
  retention::DiskGuard guard(std::move(dgo));
  retention::DiskState worst = retention::DiskState::kOk;
  bool stat_failed = false;
  auto poll_disk = [&] {
    absl::StatusOr<retention::DiskState> st = guard.Poll();
    if (!st.ok()) {
      // The last known state stays in force; say so once.
      if (!stat_failed) log(fmt::format("disk check: {}", std::string(st.status().message())));
      stat_failed = true;
      return;
    }
    worst = std::max(worst, *st);
  };

  StorePipelineSink sink(writer, &guard);
  std::map<std::string, uint64_t> counters;
  uint64_t frames = 0, bytes = 0, done_file_bytes = 0;
  for (const std::string& f : files) {
    ASSIGN_OR_RETURN(std::unique_ptr<capture::CaptureSource> source,
                     capture::OpenPcapFile(f, /*port=*/0, config.capture.bpf_filter));
    ASSIGN_OR_RETURN(std::unique_ptr<Pipeline> pipeline,
                     MakeEnginePipeline(config, &sink, &directory));
    RunOptions run;
    poll_disk();
    run.periodic = [writer, &poll_disk] {
      poll_disk();
      return writer->Flush();
    };
    if (progress) {
      run.progress = [&](uint64_t, uint64_t b) {
        progress("ingest", done_file_bytes + b, total_bytes);
      };
    }
    RunStats rs;
    RETURN_IF_ERROR(Annotate(RunCapture(*source, *pipeline, run, &rs), fmt::format("ingest {}", f)));
    RETURN_IF_ERROR(Annotate(writer->Sync(), fmt::format("ingest {}: store", f)));
    frames += rs.frames;
    bytes += rs.bytes;
    struct stat st;
    if (::stat(f.c_str(), &st) == 0) done_file_bytes += static_cast<uint64_t>(st.st_size);
    for (const auto& [name, value] : pipeline->Counters()) counters[name] += value;
  }
  RETURN_IF_ERROR(writer->status());
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  IngestResult out;
  nlohmann::json drops = nlohmann::json::object();
  for (const auto& [name, value] : counters) {
    if (value != 0 && name.rfind("drop.", 0) == 0) drops[name.substr(5)] = value;
  }
  if (writer->blocks_dropped() != 0) drops["store.blocks_refused"] = writer->blocks_dropped();
  const uint64_t disk_full = guard.drops(retention::DiskDrop::kMediaDiskFull);
  if (disk_full != 0) drops["disk.media_disk_full"] = disk_full;
  out.summary = {
      {"files", files.size()},
      {"frames", frames},
      {"bytes", bytes},
      {"sip_messages", counters["sip.messages"]},
      {"calls", sink.calls_ended()},
      {"blocks", sink.blocks()},
      {"block_bytes", sink.block_bytes()},
      {"drops", drops},
      {"disk",
       {{"state", std::string(retention::DiskStateName(guard.state()))},
        {"worst_state", std::string(retention::DiskStateName(worst))},
        {"free_bytes", guard.free_bytes()},
        {"floor_bytes", guard.floor_bytes()},
        {"reserve_bytes", guard.hard_reserve_bytes()},
        {"media_disk_full", disk_full}}},
      {"seconds", seconds},
      {"frames_per_s", seconds > 0 ? double(frames) / seconds : 0.0},
  };
  for (CallId id : sink.ended_ids()) out.call_ids.push_back(id.ToString());
  return out;
}

}  // namespace callvault::cli
