// MediaBus: the media hand-over between the workers of one engine, so that the SIP of a
// call and its RTP may arrive on different RX queues (docs/ARCHITECTURE.md, threading).
//
// Shape: one fixed-size lock-free single-producer/single-consumer queue for every ordered
// pair of workers (N*(N-1)), all slots allocated at construction. Worker `from` is the
// only producer of queue (from, to), worker `to` its only consumer. A message is moved
// into a preallocated slot: the bus allocates nothing per message; what a message carries
// (a MediaSession's vectors, a relayed leg's DTMF and events block) was allocated by its
// producer and is freed by its consumer. A full queue refuses the message (Send() returns
// false, the message is left to the caller): the caller counts the drop
// (drop.pipeline.bus_full) — a sender never waits.
//
// Messages (BusMessage, tagged with the sending worker):
//   - BusSession: a MediaSession the sender's DialogTracker published; the sender owns the
//     call (its calls_ assembles the record). Receivers apply it to their own MediaEngine:
//     every worker holds a replica of every session, so every worker matches every call's
//     RTP with its own tables (nothing shared is written: lock-free by construction).
//   - BusLegReport: a leg that closed on a worker that does not own its call (MediaLeg,
//     its RFC 4733 DTMF and the leg's kEvents block), sent to the owner, which merges it
//     as a local leg.
//   - BusActivity: from a non-owner to an owner, about once per second of capture time:
//     the last packet time of each of the owner's sessions that got packets here since
//     the previous report (calls/media_activity.h).
//   - BusSip: a complete SIP transport message (its bytes and its evidence frames, copied
//     by the sender) from any worker to worker 0, which runs every dialog: B2BUA legs
//     and a dialog's fragmented and unfragmented messages meet in one tracker whatever
//     queue they came in on. Worker 0 acknowledges each by its per-sender sequence number
//     (AckSip/SipAcked) once processed, so a sender replaying files can hold its later
//     frames until the dialog state they depend on exists (engine.cc, ordered loop).
//
// Drain(): the consumer's check is one relaxed load of its `posted` counter when nothing
// is queued (what a worker pays per burst); producers bump that counter (release) after
// publishing a slot. Memory: N*(N-1) * capacity * SlotBytes() (232 B a slot on x86-64
// with GCC 12; 4096 slots: 1.8 MiB for 2 workers, 10.9 MiB for 4).
//
// Thread: Send(from, ...) only on worker `from`'s thread; Drain(to, ...) and Pending(to)
// only on worker `to`'s thread; workers() and capacity() anywhere. Construct and destroy
// while no worker runs.
#ifndef CALLVAULT_APPLIANCE_PIPELINE_MEDIA_BUS_H_
#define CALLVAULT_APPLIANCE_PIPELINE_MEDIA_BUS_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <variant>
#include <vector>

#include "appliance/calls/media_session.h"
#include "appliance/common/block.h"
#include "appliance/common/call_record.h"
#include "appliance/common/frame.h"
#include "appliance/sip/transport.h"

namespace callvault {

struct BusSession {
  calls::MediaSession session;
};

struct BusLegReport {
  CallId call;
  MediaLeg leg;
  std::vector<DtmfEvent> dtmf;
  bool has_events = false;
  PlainBlock events;  // the leg's kEvents block (media's LegSummary), seq set by the owner
};

struct BusActivityEntry {
  CallId call;
  uint16_t dialog = 0;
  uint64_t last_packet_ns = 0;
};
struct BusActivity {
  std::vector<BusActivityEntry> entries;
};

struct BusSip {
  // A copy of `tm`: its bytes, its evidence frames (pointing into the copy), its metadata.
  static BusSip CopyOf(const sip::TransportMessage& tm, uint64_t seq);
  // The message again, viewing this object's bytes (valid while it lives, unmoved or not:
  // a move keeps the buffers).
  sip::TransportMessage View() const;

  uint64_t seq = 0;                // per sender, from 1 (acknowledged by the receiver)
  std::vector<uint8_t> bytes;      // the message, then each evidence frame's bytes
  uint32_t message_len = 0;        // the message: bytes[0, message_len)
  std::vector<Frame> frames;       // evidence; data points into `bytes` (moves keep it)
  sip::Transport transport = sip::Transport::kUdp;
  Endpoint src;
  Endpoint dst;
  uint64_t first_ts_ns = 0;
  uint64_t last_ts_ns = 0;
  uint32_t segments = 1;
};

enum class BusKind : uint8_t { kSession = 0, kLegReport = 1, kActivity = 2, kSip = 3, kCount };
std::string_view BusKindName(BusKind k);  // "session", "leg", "activity", "sip"

struct BusMessage {
  unsigned from = 0;  // the sending worker
  std::variant<BusSession, BusLegReport, BusActivity, BusSip> body;
  BusKind kind() const { return static_cast<BusKind>(body.index()); }
};

class MediaBus {
 public:
  // `capacity_per_queue` is rounded up to a power of two (at least 2); config validates
  // it as one (dpdk.bus_capacity). `workers` >= 1 (one worker: no queues).
  MediaBus(unsigned workers, size_t capacity_per_queue);
  ~MediaBus();
  MediaBus(const MediaBus&) = delete;
  MediaBus& operator=(const MediaBus&) = delete;

  unsigned workers() const { return workers_; }
  size_t capacity() const { return mask_ + 1; }
  static constexpr size_t SlotBytes() { return sizeof(Slot); }

  // Moves `msg` into queue (from, to); false when the queue is full (msg untouched).
  [[nodiscard]] bool Send(unsigned from, unsigned to, BusMessage&& msg);

  // BusSip acknowledgements: the receiver stores the sequence number of the last message
  // from `from` it has processed; the sender reads it. Any thread.
  void AckSip(unsigned from, uint64_t seq) {
    acked_[from].seq.store(seq, std::memory_order_release);
  }
  uint64_t SipAcked(unsigned from) const {
    return acked_[from].seq.load(std::memory_order_acquire);
  }

  // True when some message for `to` may be queued (one relaxed load).
  bool Pending(unsigned to) const {
    return dest_[to].posted.load(std::memory_order_relaxed) != dest_[to].seen;
  }

  // Calls fn(BusMessage&&) for every message queued for `to`, queue by queue (each
  // queue in send order); returns how many. One relaxed load when nothing is queued.
  template <typename Fn>
  size_t Drain(unsigned to, Fn&& fn) {
    Dest& d = dest_[to];
    if (d.posted.load(std::memory_order_relaxed) == d.seen) return 0;
    d.seen = d.posted.load(std::memory_order_acquire);  // (no fence: TSan models loads)
    size_t n = 0;
    for (unsigned from = 0; from < workers_; ++from) {
      if (from == to) continue;
      Queue& q = queue(from, to);
      uint64_t head = q.head.load(std::memory_order_relaxed);
      const uint64_t tail = q.tail.load(std::memory_order_acquire);
      while (head != tail) {
        BusMessage m = std::move(q.slots[head & mask_].msg);
        ++head;
        q.head.store(head, std::memory_order_release);  // the slot is free again
        fn(std::move(m));
        ++n;
      }
    }
    return n;
  }

 private:
  struct Slot {
    BusMessage msg;
  };
  struct Queue {
    alignas(64) std::unique_ptr<Slot[]> slots;  // read-only once constructed
    alignas(64) std::atomic<uint64_t> head{0};  // consumer: next slot to read
    alignas(64) std::atomic<uint64_t> tail{0};  // producer: next slot to write
    uint64_t head_seen = 0;                     // producer's copy of head
  };
  struct Dest {
    alignas(64) std::atomic<uint64_t> posted{0};  // messages sent to this worker (producers)
    alignas(64) uint64_t seen = 0;                // `posted` at the last drain (consumer)
  };
  struct Acked {
    alignas(64) std::atomic<uint64_t> seq{0};
  };
  Queue& queue(unsigned from, unsigned to) { return queues_[size_t(from) * workers_ + to]; }

  unsigned workers_;
  size_t mask_;
  std::unique_ptr<Queue[]> queues_;  // workers x workers, the diagonal unused
  std::unique_ptr<Dest[]> dest_;
  std::unique_ptr<Acked[]> acked_;  // by sender
};

// Which worker a pipeline is, and its bus (nullptr = the pipeline is alone: it owns every
// call it sees and sends nothing).
struct PipelineWorker {
  MediaBus* bus = nullptr;
  unsigned index = 0;
};

}  // namespace callvault

#endif  // CALLVAULT_APPLIANCE_PIPELINE_MEDIA_BUS_H_
