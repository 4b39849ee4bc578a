// Pipeline: one worker's engine — decode -> classify -> SIP (dialogs, calls) / RTP
// (legs) -> blocks and call records to the store writer.
//
// Contract: one Pipeline per worker thread (DPDK lcore or the libpcap loop); not
// thread-safe. ProcessBurst() consumes a burst of frames whose bytes are valid only for
// the duration of the call; everything kept is copied into blocks. Advance() runs timers
// (fragment, TCP, dialog and leg expiry) driven by capture time, so a file replays the
// same as live traffic. Finish() ends every active call and flushes every leg (end of
// input or shutdown). Per-packet path: no allocation in steady state, no locks, no
// syscalls; every frame not recorded increments a named drop reason.
//
// Output goes to a PipelineSink (implemented by the store writer, or a ring in front of
// it in the DPDK engine). Workers of one engine may share a MediaBus (media_bus.h) so that
// a call's SIP and its RTP can arrive on different workers: each worker's pipeline stays
// single-threaded; the bus is their only link, drained in ProcessBurst(), Advance(),
// RunFinishStep() and PollBus(). Worker 0 runs every dialog (the others hand it their
// SIP), so a call's records come from worker 0; its blocks may come from several
// workers' sinks, in any order.
#ifndef CALLVAULT_APPLIANCE_PIPELINE_PIPELINE_H_
#define CALLVAULT_APPLIANCE_PIPELINE_PIPELINE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "appliance/common/block.h"
#include "appliance/common/call_record.h"
#include "appliance/common/frame.h"

namespace callvault {

struct Config;

// Receives what the pipeline produces. Calls are reported when they start, when their
// metadata changes (answer, media, hold) and when they end; blocks as they fill.
class PipelineSink : public BlockSink {
 public:
  virtual void OnCallStarted(const CallRecord& call) = 0;
  virtual void OnCallUpdated(const CallRecord& call) = 0;
  virtual void OnCallEnded(const CallRecord& call) = 0;
};

// Every counter the pipeline keeps, flattened as ("layer.reason", value) for status,
// telemetry and Prometheus. Names are stable.
using CounterSnapshot = std::vector<std::pair<std::string, uint64_t>>;

class Pipeline {
 public:
  virtual ~Pipeline() = default;
  virtual void ProcessBurst(Burst frames) = 0;
  virtual void Advance(uint64_t now_ns) = 0;
  virtual void Finish() = 0;
  // Shutdown in steps for several workers sharing a MediaBus (media_bus.h): every worker
  // runs kSignalling (end every dialog), all wait until all did, then kMedia (drain the
  // bus, close every leg, relay leg reports to their owners), all wait, then kCalls
  // (drain the bus, emit every call's final record). A pipeline that shares nothing does
  // all of Finish() at kCalls, so Finish() == the three steps in order for every pipeline.
  enum class FinishStep : uint8_t { kSignalling = 0, kMedia = 1, kCalls = 2 };
  virtual void RunFinishStep(FinishStep step) {
    if (step == FinishStep::kCalls) Finish();
  }
  virtual CounterSnapshot Counters() const = 0;
  virtual uint64_t ActiveCalls() const = 0;

  // Several workers sharing a MediaBus: worker 0 runs every dialog, the others hand it
  // their SIP (media_bus.h, BusSip). PollBus() handles what other workers sent to this
  // one, nothing else (no frame, no timer): a worker that waits for others calls it so
  // that they can go on. PendingSignallingNs() is the capture time of the oldest SIP
  // message this worker handed over that worker 0 has not processed yet (UINT64_MAX:
  // none): a worker replaying files processes none of its own frames after that time,
  // and holds the other workers' frames there too, until it has (engine.cc).
  virtual void PollBus() {}
  virtual uint64_t PendingSignallingNs() { return UINT64_MAX; }
};

}  // namespace callvault

#endif  // CALLVAULT_APPLIANCE_PIPELINE_PIPELINE_H_
