// EnginePipeline: the Pipeline (pipeline.h) built from the real stages —
//   Decoder -> SipExtractor -> DialogTracker (calls) -> MediaEngine (legs) -> sink.
//
// Contract: as Pipeline. Per frame: decode (named drop or held fragment), then SIP
// (signalling ports or a SIP start line on any port, TCP reassembled), else media (UDP
// matched to a call leg, or an orphan candidate). TCP/SCTP/ICMP traffic that is not SIP
// is counted under pipeline.not_voice and not recorded. The SIP frames of each call are
// kept (kSignalling blocks) next to its media; a call's final record is handed to the
// sink once its legs have closed (the media grace window after the BYE), so that the
// stored record carries the legs' packet counts, loss, jitter and DTMF.
//
// Thread: one per worker; not thread-safe. Timers follow capture time: Advance() is
// also called by ProcessBurst() every 10 ms of capture time.
#ifndef CALLVAULT_APPLIANCE_PIPELINE_ENGINE_PIPELINE_H_
#define CALLVAULT_APPLIANCE_PIPELINE_ENGINE_PIPELINE_H_

#include <memory>

#include "absl/status/statusor.h"
#include "appliance/calls/agent_directory.h"
#include "appliance/config/config.h"
#include "appliance/pipeline/pipeline.h"

namespace callvault {

// Builds the pipeline from the config. `directory` (may be null) is the agent directory
// handle, shared so that SIGHUP can swap it; it must outlive the pipeline. `sink` must
// outlive the pipeline too.
[[nodiscard]] absl::StatusOr<std::unique_ptr<Pipeline>> MakeEnginePipeline(
    const Config& config, PipelineSink* sink, const calls::AgentDirectoryHandle* directory);

}  // namespace callvault

#endif  // CALLVAULT_APPLIANCE_PIPELINE_ENGINE_PIPELINE_H_
