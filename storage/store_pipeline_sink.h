// StorePipelineSink: the store's side of the engine hand-off — adapts the StoreWriter to
// the PipelineSink a Pipeline writes into (appliance/pipeline/pipeline.h).
//
// Contract: same thread as the pipeline (offline ingest, the libpcap loop) or the DPDK
// writer thread. Counts what went through so that ingest can report it. Blocks refused by
// the writer (after a write error) are counted by the writer (blocks_dropped). With a
// DiskGuard, media blocks (RTP, RTCP, other) are discarded while the disk is full and
// signalling blocks and call records are always written: nothing already stored is ever
// deleted to make room. A discarded block is counted once, by the guard
// (disk.media_disk_full), and Push() returns true: the sink took it and applied the disk
// policy, so the caller's "sink refused" counter (media.sink_refused, meant for a full
// ring) does not count the same block a second time. The DPDK writer thread ignores the
// result anyway, so the guard's counter is the one both paths report.
#ifndef CALLVAULT_STORAGE_STORE_PIPELINE_SINK_H_
#define CALLVAULT_STORAGE_STORE_PIPELINE_SINK_H_

#include <cstdint>
#include <set>

#include "appliance/pipeline/pipeline.h"
#include "storage/retention/disk_guard.h"
#include "storage/store.h"

namespace callvault {

class StorePipelineSink final : public PipelineSink {
 public:
  explicit StorePipelineSink(StoreWriter* writer, retention::DiskGuard* disk = nullptr)
      : writer_(writer), disk_(disk) {}

  void OnCallStarted(const CallRecord& call) override {
    ++calls_started_;
    writer_->OnCallStarted(call);
  }
  void OnCallUpdated(const CallRecord& call) override { writer_->OnCallUpdated(call); }
  void OnCallEnded(const CallRecord& call) override {
    ++calls_ended_;
    ended_ids_.insert(call.call_id);
    writer_->OnCallEnded(call);
  }
  bool Push(PlainBlock&& block) override {
    if (disk_ != nullptr && block.info.kind != StreamKind::kSignalling &&
        block.info.kind != StreamKind::kEvents && !disk_->AdmitMedia()) {
      return true;  // discarded and counted by the guard (see above)
    }
    ++blocks_;
    block_bytes_ += block.payload.size();
    return writer_->Push(std::move(block));
  }

  uint64_t calls_started() const { return calls_started_; }
  uint64_t calls_ended() const { return calls_ended_; }
  uint64_t blocks() const { return blocks_; }
  uint64_t block_bytes() const { return block_bytes_; }
  const std::set<CallId>& ended_ids() const { return ended_ids_; }

 private:
  StoreWriter* writer_;
  retention::DiskGuard* disk_;
  uint64_t calls_started_ = 0;
  uint64_t calls_ended_ = 0;
  uint64_t blocks_ = 0;
  uint64_t block_bytes_ = 0;
  std::set<CallId> ended_ids_;
};

}  // namespace callvault

#endif  // CALLVAULT_STORAGE_STORE_PIPELINE_SINK_H_
