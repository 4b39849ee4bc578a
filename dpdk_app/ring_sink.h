// RingSink: the PipelineSink a worker's Pipeline writes into; it carries blocks and call
// events over a DpdkRing to the writer thread, which hands them to the real sink (the
// store writer) in order.
//
// Input (worker lcore): Push(PlainBlock&&), OnCall*(const CallRecord&). Output (writer
// thread): Drain() calls the downstream PipelineSink. Messages come from a fixed pool
// (ring_size of them, allocated once) that cycles worker -> writer -> worker over two
// rings, so the steady state allocates nothing (a CallRecord copy reuses the capacity of
// the message it lands in). Drop: when no message is free or the ring is full the item
// is counted as "ring_full:<name>" and Push() returns false; never a wait.
#ifndef CALLVAULT_DPDK_APP_RING_SINK_H_
#define CALLVAULT_DPDK_APP_RING_SINK_H_

#include <cstdint>
#include <memory>
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
  PlainBlock block;
  CallRecord call;
};

class RingSink final : public PipelineSink {
 public:
  // `name` is the ring name shown in counters ("w1.writer"); `size` a power of two.
  static absl::StatusOr<std::unique_ptr<RingSink>> Create(const std::string& name,
                                                          uint32_t size, int socket);

  // Worker side.
  bool Push(PlainBlock&& block) override;
  void OnCallStarted(const CallRecord& call) override;
  void OnCallUpdated(const CallRecord& call) override;
  void OnCallEnded(const CallRecord& call) override;

  // Writer side: hands up to `max` waiting items to `downstream` (nullptr: discards
  // them) and returns how many it handled.
  size_t Drain(PipelineSink* downstream, size_t max);

  void FillCounters(RingCounters* out) const;
  const std::string& name() const { return name_; }

 private:
  RingSink() = default;
  SinkMessage* Take();  // a free message, or nullptr (counted as ring_full)
  bool Send(SinkMessage* m);
  void SendCall(SinkMessage::Kind kind, const CallRecord& call);

  std::string name_;
  std::unique_ptr<DpdkRing<SinkMessage>> to_writer_;
  std::unique_ptr<DpdkRing<SinkMessage>> free_;
  std::vector<std::unique_ptr<SinkMessage>> storage_;
};

}  // namespace callvault::dpdk

#endif  // CALLVAULT_DPDK_APP_RING_SINK_H_
