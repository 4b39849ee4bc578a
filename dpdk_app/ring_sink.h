// RingSink: the PipelineSink a worker's Pipeline writes into; it carries blocks and call
// events over a DpdkRing to the writer thread, which hands them to the real sink (the
// store writer) in order.
//
// Input (worker lcore): Push(PlainBlock&&), OnCall*(const CallRecord&). Output (writer
// thread): Drain() calls the downstream PipelineSink. Messages come from a fixed pool
// (`size` of them, allocated once) that cycles worker -> writer (to_writer ring) ->
// worker (free ring), so the steady state allocates nothing (a CallRecord copy reuses
// the capacity of the message it lands in).
//
// Buffers go back too: the writer seals a block's payload and leaves the buffer in the
// message; the worker takes returned messages off the free ring eagerly (every Push and
// every Reclaim(), the worker loop calls it once per poll round) onto a LIFO stack, and
// Push() swaps the newest returned buffer into the pushed block's payload, where the
// caller (media::BlockBuilder) recycles it into its BufferPool. So buffers cycle
// media pool -> writer -> media pool, and only the few messages at the top of the stack
// ever hold one: messages never used keep no memory.
//
// Bounds (fixed, from config): at most `size` (dpdk.ring_size) items in flight, and at
// most `max_bytes` (dpdk.ring_bytes) of block payload capacity in flight to the writer.
// Drop: when no message is free, the ring is full or the byte budget is used up, the
// item is counted as "ring_full:<name>" and Push() returns false; never a wait — unless
// set_wait_when_full(true): a source replaying files cannot overrun, so there Push() and
// the call events wait (yielding) for the writer to return room instead of dropping.
// That mode needs a writer thread that drains concurrently (the engine's and the libpcap
// daemon's do until the producer is done). A worker replaying files also checks
// congested() before reading, so waits are rare (a timer or the final flush emitting
// many blocks at once): see engine.cc and daemon_pcap.cc.
#ifndef CALLVAULT_DPDK_APP_RING_SINK_H_
#define CALLVAULT_DPDK_APP_RING_SINK_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "appliance/common/block.h"
#include "appliance/common/call_record.h"
#include "appliance/pipeline/pipeline.h"
#include "dpdk_app/dpdk_ring.h"
#include "dpdk_app/engine_counters.h"

namespace callvault::dpdk {

struct SinkMessage {
  enum class Kind : uint8_t { kBlock, kCallStarted, kCallUpdated, kCallEnded };
  Kind kind = Kind::kBlock;
  bool touched = false;  // taken at least once (worker side)
  uint64_t charged = 0;  // payload capacity charged to the byte budget (blocks)
  PlainBlock block;
  CallRecord call;
};

class RingSink final : public PipelineSink {
 public:
  // `name` is the ring name shown in counters ("w1.writer"); `size` a power of two;
  // `max_bytes` the in-flight payload budget (0 = unbounded).
  static absl::StatusOr<std::unique_ptr<RingSink>> Create(const std::string& name,
                                                          uint32_t size, int socket,
                                                          uint64_t max_bytes = 0);
  // The same over rings in ordinary memory (DpdkRing::CreateLocal): no EAL needed.
  static absl::StatusOr<std::unique_ptr<RingSink>> CreateLocal(const std::string& name,
                                                               uint32_t size,
                                                               uint64_t max_bytes = 0);

  // Worker side. After Push() returns, block.payload may hold a buffer the writer
  // returned (empty, with capacity): the caller may reuse it.
  bool Push(PlainBlock&& block) override;
  void OnCallStarted(const CallRecord& call) override;
  void OnCallUpdated(const CallRecord& call) override;
  void OnCallEnded(const CallRecord& call) override;
  // Takes messages the writer returned off the free ring (cheap when there are none).
  void Reclaim();
  // Producer side: wait for room instead of dropping (file replays only, see above).
  void set_wait_when_full(bool wait) { wait_when_full_ = wait; }

  // Writer side: hands up to `max` waiting items to `downstream` (nullptr: discards
  // them) and returns how many it handled.
  size_t Drain(PipelineSink* downstream, size_t max);

  void FillCounters(RingCounters* out) const;
  const std::string& name() const { return name_; }
  // Payload capacity in flight to the writer now (worker side; for tests and status).
  uint64_t inflight_bytes() const {
    return sent_bytes_ - returned_bytes_.load(std::memory_order_acquire);
  }
  // Messages that ever carried something (the rest never touched their memory).
  size_t messages_used() const { return used_; }
  // Worker side: less than 1/8 of the byte budget or of the messages is left, so one
  // more burst could overflow. A worker replaying a file waits (stops reading) while
  // this holds instead of dropping: a file cannot overrun, only a live port can.
  bool congested() {
    Reclaim();
    bool bytes = max_bytes_ != 0 && inflight_bytes() > max_bytes_ / 8 * 7;
    return bytes || stack_.size() < storage_.size() / 8;
  }

 private:
  RingSink() = default;
  static absl::StatusOr<std::unique_ptr<RingSink>> Make(const std::string& name, uint32_t size,
                                                        int socket, uint64_t max_bytes,
                                                        bool local);
  SinkMessage* Take();  // a free message, or nullptr (counted as ring_full)
  bool Send(SinkMessage* m);
  void SendCall(SinkMessage::Kind kind, const CallRecord& call);

  std::string name_;
  std::unique_ptr<DpdkRing<SinkMessage>> to_writer_;
  std::unique_ptr<DpdkRing<SinkMessage>> free_;
  std::vector<std::unique_ptr<SinkMessage>> storage_;
  // Worker side.
  std::vector<SinkMessage*> stack_;  // free messages, newest returned on top
  uint64_t max_bytes_ = 0;
  uint64_t sent_bytes_ = 0;
  bool wait_when_full_ = false;
  size_t used_ = 0;
  std::atomic<uint64_t> bytes_peak_{0};  // written by the worker, read by FillCounters
  // Writer side (read by the worker).
  alignas(64) std::atomic<uint64_t> returned_bytes_{0};
};

// The writer thread's loop over the hand-offs of its producers (the DPDK engine's
// workers, the libpcap daemon's capture thread): hands what waits to `downstream`, calls
// `tick` about every `tick_ms` (may be empty), sleeps 100 us when nothing waited, and once
// `done()` holds (every producer finished: nothing more will be enqueued) drains what is
// left and returns. Thread: the writer thread only.
void DrainUntilDone(std::span<RingSink* const> rings, PipelineSink* downstream,
                    uint32_t tick_ms, const std::function<void()>& tick,
                    const std::function<bool()>& done);

}  // namespace callvault::dpdk

#endif  // CALLVAULT_DPDK_APP_RING_SINK_H_
