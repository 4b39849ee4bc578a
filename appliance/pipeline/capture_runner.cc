#include "appliance/pipeline/capture_runner.h"

#include <array>
#include <chrono>
#include <thread>

#include "appliance/common/status.h"
#include "appliance/common/time_util.h"

namespace callvault {

absl::Status RunCapture(capture::CaptureSource& source, Pipeline& pipeline,
                        const RunOptions& options, RunStats* stats) {
  std::array<Frame, kBurstSize> burst;
  RunStats local;
  RunStats& st = stats != nullptr ? *stats : local;
  uint64_t next_periodic_ns = 0;
  uint64_t idle_polls = 0;
  absl::Status result;
  while (options.stop == nullptr || !options.stop->load(std::memory_order_relaxed)) {
    absl::StatusOr<size_t> n = source.NextBurst(burst);
    if (!n.ok()) {
      if (absl::IsOutOfRange(n.status())) break;  // end of capture
      result = Annotate(n.status(), source.Name());
      break;
    }
    if (*n == 0) {
      // Live source, nothing now: keep timers moving by wall clock.
      if (++idle_polls % 1024 == 0) {
        pipeline.Advance(NowNs());
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      continue;
    }
    idle_polls = 0;
    for (size_t i = 0; i < *n; ++i) {
      st.bytes += burst[i].caplen;
      if (st.first_ts_ns == 0) st.first_ts_ns = burst[i].ts_ns;
      if (burst[i].ts_ns > st.last_ts_ns) st.last_ts_ns = burst[i].ts_ns;
    }
    st.frames += *n;
    pipeline.ProcessBurst(Burst(burst.data(), *n));
    if (next_periodic_ns == 0) next_periodic_ns = st.last_ts_ns + options.periodic_every_ns;
    if (st.last_ts_ns >= next_periodic_ns) {
      next_periodic_ns = st.last_ts_ns + options.periodic_every_ns;
      if (options.periodic) {
        result = options.periodic();
        if (!result.ok()) break;
      }
      if (options.progress) options.progress(st.frames, st.bytes);
    }
  }
  if (options.finish) pipeline.Finish();
  if (options.periodic) {
    absl::Status last = options.periodic();
    if (result.ok()) result = last;
  }
  if (options.progress) options.progress(st.frames, st.bytes);
  return result;
}

}  // namespace callvault
