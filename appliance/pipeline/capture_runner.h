// RunCapture: drives one Pipeline from one CaptureSource on the calling thread — the
// libpcap capture loop of callvaultd and the offline `callvault ingest`.
//
// Contract: reads bursts of kBurstSize until the source ends (OutOfRange) or `stop`
// becomes true, feeds them to the pipeline, and calls `periodic` (e.g. the store's
// Flush) every `periodic_every_ns` of capture time and once at the end; an error from
// `periodic` or from the source stops the run and is returned with context. When
// `finish` is set the pipeline's Finish() is called at the end (every call ended and
// flushed) before the last `periodic`. Live sources returning 0 frames make the loop
// advance timers by wall clock instead of spinning.
#ifndef CALLVAULT_APPLIANCE_PIPELINE_CAPTURE_RUNNER_H_
#define CALLVAULT_APPLIANCE_PIPELINE_CAPTURE_RUNNER_H_

#include <atomic>
#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "appliance/capture/source.h"
#include "appliance/pipeline/pipeline.h"

namespace callvault {

struct RunOptions {
  bool finish = true;
  uint64_t periodic_every_ns = 1'000'000'000;
  std::function<absl::Status()> periodic;                 // may be empty
  std::function<void(uint64_t frames, uint64_t bytes)> progress;  // may be empty
  const std::atomic<bool>* stop = nullptr;                // may be null
};

struct RunStats {
  uint64_t frames = 0;
  uint64_t bytes = 0;
  uint64_t first_ts_ns = 0;
  uint64_t last_ts_ns = 0;
};

[[nodiscard]] absl::Status RunCapture(capture::CaptureSource& source, Pipeline& pipeline,
                                      const RunOptions& options, RunStats* stats);

}  // namespace callvault

#endif  // CALLVAULT_APPLIANCE_PIPELINE_CAPTURE_RUNNER_H_
