// EnginePipeline: the Pipeline (pipeline.h) built from the real stages —
//   Decoder -> SipExtractor -> DialogTracker (calls) -> MediaEngine (legs) -> sink.
//
// Contract: as Pipeline. Per frame: decode (named drop or held fragment), then SIP
// (signalling ports or a SIP start line on any port, TCP reassembled), else media (UDP
// matched to a call leg, or an orphan candidate). TCP/SCTP/ICMP traffic that is not SIP
// is counted under pipeline.not_voice and not recorded. The SIP frames of each call are
// kept (kSignalling blocks) next to its media; a call's final record is handed to the
// sink once its legs have closed (the media grace window after the BYE), so that the
// stored record carries the legs' packet counts, loss, jitter and DTMF. The tracker ends a
// call at its BYE (not after its 32 s linger), so the final record reaches the sink
// grace_ms + 0.5 s after the BYE; SIP frames that trail the end (200 to BYE,
// retransmissions) are still stored as signalling blocks of the call while the tracker's
// dialog lingers. The tracker asks this pipeline's MediaEngine for a dialog's last RTP
// time when an answered call's idle deadline passes (calls/media_activity.h): a call with
// RTP but no SIP is not expired; same thread, no lock (SIP and RTP of a call on one worker).
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
