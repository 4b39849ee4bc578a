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
// dialog lingers. The tracker asks for a dialog's last RTP time when an answered call's
// idle deadline passes (calls/media_activity.h): a call with RTP but no SIP is not
// expired.
//
// Several workers (PipelineWorker with a MediaBus, media_bus.h): the SIP and the RTP of a
// call may arrive on different workers. The worker whose tracker saw the call's SIP owns
// it: it assembles the record and emits it. Every MediaSession its tracker publishes is
// applied locally and sent to every other worker, which applies it to its own MediaEngine
// (a replica: each worker matches every call's RTP with its own tables) and remembers the
// owner while the session lives. A leg that closes on a non-owner is relayed to the owner
// (MediaLeg, DTMF, its kEvents block) and merged as a local leg — also after the final
// record went out (OnCallUpdated); reports of one leg from two workers (RTP on one, RTCP
// on the other) are combined. Non-owners report, once per second of capture time, the
// last packet time of each owner's session that got packets; the owner answers the
// tracker with max(local, reported). The bus is drained at the start of ProcessBurst(),
// Advance() and every RunFinishStep(); the per-packet path never touches it. Ordering:
// a publication must reach the other workers before the RTP that follows it on the wire —
// guaranteed for file replays by the engine's capture-time barrier, and within the
// microseconds of the hand-over on live ports (earlier RTP is an orphan candidate).
// Limits: B2BUA / transfer linking (calls/call_linking.cc) works within one worker's
// tracker, so dialogs whose SIP lands on different workers are separate calls; a SIP
// dialog seen on two workers (e.g. two proxy hops with different flows) is two calls.
// Counters: bus.sent.{session,leg,activity}, bus.received.*, bus.remote_sessions, and
// drop.pipeline.bus_full (a full queue: the message is lost, e.g. a worker misses a
// session and records its RTP as an orphan), drop.pipeline.bus_leg_unknown_call.
//
// Thread: one per worker; not thread-safe. Timers follow capture time: Advance() is
// also called by ProcessBurst() every 10 ms of capture time.
#ifndef CALLVAULT_APPLIANCE_PIPELINE_ENGINE_PIPELINE_H_
#define CALLVAULT_APPLIANCE_PIPELINE_ENGINE_PIPELINE_H_

#include <memory>

#include "absl/status/statusor.h"
#include "appliance/calls/agent_directory.h"
#include "appliance/config/config.h"
#include "appliance/pipeline/media_bus.h"
#include "appliance/pipeline/pipeline.h"

namespace callvault {

// Builds the pipeline from the config. `directory` (may be null) is the agent directory
// handle, shared so that SIGHUP can swap it; it must outlive the pipeline. `sink` must
// outlive the pipeline too, and so must `worker.bus` (shared by the workers' pipelines,
// each with its own index < bus->workers(); an index out of range is an error).
[[nodiscard]] absl::StatusOr<std::unique_ptr<Pipeline>> MakeEnginePipeline(
    const Config& config, PipelineSink* sink, const calls::AgentDirectoryHandle* directory,
    PipelineWorker worker = {});

}  // namespace callvault

#endif  // CALLVAULT_APPLIANCE_PIPELINE_ENGINE_PIPELINE_H_
