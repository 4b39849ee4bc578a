#include "cli/commands/ingest.h"

#include <sys/stat.h>

#include <chrono>
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

  StorePipelineSink sink(writer);
  std::map<std::string, uint64_t> counters;
  uint64_t frames = 0, bytes = 0, done_file_bytes = 0;
  for (const std::string& f : files) {
    ASSIGN_OR_RETURN(std::unique_ptr<capture::CaptureSource> source,
                     capture::OpenPcapFile(f, /*port=*/0, config.capture.bpf_filter));
    ASSIGN_OR_RETURN(std::unique_ptr<Pipeline> pipeline,
                     MakeEnginePipeline(config, &sink, &directory));
    RunOptions run;
    run.periodic = [writer] { return writer->Flush(); };
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
  out.summary = {
      {"files", files.size()},
      {"frames", frames},
      {"bytes", bytes},
      {"sip_messages", counters["sip.messages"]},
      {"calls", sink.calls_ended()},
      {"blocks", sink.blocks()},
      {"block_bytes", sink.block_bytes()},
      {"drops", drops},
      {"seconds", seconds},
      {"frames_per_s", seconds > 0 ? double(frames) / seconds : 0.0},
  };
  for (CallId id : sink.ended_ids()) out.call_ids.push_back(id.ToString());
  return out;
}

}  // namespace callvault::cli
