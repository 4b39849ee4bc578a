// Capture-time order across workers replaying files, and the spin barrier of the phased
// stop. Pure C++ (no DPDK): the engine (engine.cc) uses it on its worker lcores, the unit
// test (capture_order_test.cc) drives it from simulated and real threads.
//
// Why an order at all: the one cross-worker dependency is signalling. A SIP message on
// worker A publishes media endpoints on the MediaBus (appliance/pipeline/media_bus.h)
// that worker B's RTP must see; RTP on one worker does not affect RTP on another. So
// frames that may carry signalling keep exact global order against EVERY frame, while
// media-only frames (media_only.h: a conservative predicate) of different workers may
// run in parallel.
//
// CaptureClock: each of N workers publishes (release) two capture times:
//  - next: the time of its first unprocessed frame: 0 (kNotRead) before its first read
//    (it may still hold anything), the head of its held burst(s) while it has frames,
//    kDone (UINT64_MAX) once every one of its files has ended;
//  - sig_bound: a lower bound on the time of its next unprocessed frame that may carry
//    signalling: per source, the time of the first such frame among its held (read,
//    unprocessed) frames, or, when it holds none, the time of the LAST frame read from
//    it (frames not read yet come later in a time-ordered queue); the minimum over its
//    sources; kNotRead before the first read, kDone when every file has ended. Always
//    sig_bound >= next (the bound is at or after the first unprocessed frame; the
//    publisher raises it to next, which only matters for a queue out of time order).
// Worker `self` may process a frame of time t:
//  - may carry signalling (strict rule): iff for every other worker j, t < next_j, or
//    t == next_j and self < j (ties go to the lower index);
//  - media-only: iff for every other worker j, t < sig_bound_j, or t == sig_bound_j and
//    self < j.
// Result, provided each worker's own frames are in time order (a pcap file written by a
// capture is; callgen's are; tests/tools/pcap_split reports a queue that is not): every
// signalling frame s is processed after every frame (of any worker) that precedes it in
// the global (time, worker index) merge and before every frame that follows it. For a
// frame x of worker i before s = (t_s, j): s waited for (t_s, j) < (next_i, i), so x
// was processed; for a media frame x after s: x waited for (t_x, i) < (sig_bound_j, j)
// <= (t_s, j) impossible until s was processed (a signalling x: the strict rule, as
// before). Media frames of different workers are not ordered against each other.
// A queue NOT in time order breaks the "lower bound" premise: the frames out of order
// are processed late against the others (a SIP publication may then reach RTP that
// followed it on the wire late: the result may differ from one worker's); progress is
// not affected (below: the argument uses only the published values and that reads are
// never gated).
//
// Progress (no deadlock): reads are never gated, so every worker eventually holds a head
// frame or has ended. Among the workers that have not ended, take the one with the
// smallest (next, index). Its head frame has t = next_self, and for every other j
// (next_self, self) < (next_j, j) <= (sig_bound_j, j): whichever its class, the head is
// allowed. It processes at least that frame, so the multiset of unprocessed frames
// shrinks while some worker is not done; a worker only waits while another one can
// move. (A worker with next = 0 has not read yet: it blocks the others only until its
// first burst arrives.) The two values of a slot are separate atomics, each a valid
// bound once visible (published after the frames it accounts for); a stale value is
// lower than the truth, so a reader can only wait longer, and a worker that waits
// changes nothing, so the others' next reading is exact. Publish stores sig_bound
// before next and LimitsFor loads next before sig_bound, so a reader never sees
// sig_bound < next of one slot. Tested by CaptureOrder.* in dpdk_app/capture_order_test.cc.
//
// SIP handed over (several workers share a MediaBus, worker 0 runs every dialog: the
// others hand it each SIP message they read, appliance/pipeline/pipeline.h): such a
// message counts as an unprocessed signalling frame of the worker that read it, at its
// capture time t_p, until worker 0 acknowledges it. That worker publishes next and
// sig_bound lowered to t_p (sig_bound >= next still holds) and processes none of its own
// frames after t_p meanwhile, so the order above holds for what worker 0 runs for it.
// Progress: worker 0 runs handed-over messages without any gate (it drains the bus in
// every wait: for an allowed frame, at the stop barriers), so the lowered values only
// last until it does; the argument above then applies unchanged.
//
// Threads: slot `self` is written only by worker `self` (release, after the frames it
// accounts for were processed), read by all (acquire). No lock, no allocation after
// construction. Live ports are real time and never use it.
//
// SpinBarrier: N threads call Arrive(); each returns once all N arrived (reusable: a
// generation counter). Waiting spins with the caller's relax function (rte_pause on an
// lcore). Used between the finish steps (Pipeline::FinishStep) of several workers.
#ifndef CALLVAULT_DPDK_APP_CAPTURE_ORDER_H_
#define CALLVAULT_DPDK_APP_CAPTURE_ORDER_H_

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>

namespace callvault::dpdk {

class CaptureClock {
 public:
  static constexpr uint64_t kNotRead = 0;
  static constexpr uint64_t kDone = std::numeric_limits<uint64_t>::max();

  // The first frame time a worker may NOT process (with the tie rule): the smallest
  // (next_j, j) over the other workers.
  struct Limit {
    uint64_t next = kDone;
    unsigned index = std::numeric_limits<unsigned>::max();
    // True when a frame of capture time `t` may be processed by worker `self`.
    bool Allows(uint64_t t, unsigned self) const {
      return t < next || (t == next && self < index);
    }
  };

  explicit CaptureClock(unsigned workers)
      : workers_(workers), slots_(std::make_unique<Slot[]>(workers)) {}
  CaptureClock(const CaptureClock&) = delete;
  CaptureClock& operator=(const CaptureClock&) = delete;

  // Both limits of worker `self`: `strict` for frames that may carry signalling (from
  // the others' next), `media` for media-only frames (from the others' sig_bound).
  struct Limits {
    Limit strict;
    Limit media;
    bool Allows(uint64_t t, unsigned self, bool media_only) const {
      return media_only ? media.Allows(t, self) : strict.Allows(t, self);
    }
  };

  unsigned workers() const { return workers_; }
  // Publishes both values (sig_bound >= next; see the top of this file). Store order:
  // sig_bound first, then next (LimitsFor loads them the other way round).
  void Publish(unsigned self, uint64_t next, uint64_t sig_bound) {
    slots_[self].sig.store(sig_bound, std::memory_order_release);
    slots_[self].next.store(next, std::memory_order_release);
  }
  // Every held frame may carry signalling: sig_bound = next (the strict rule only).
  void Publish(unsigned self, uint64_t next) { Publish(self, next, next); }
  uint64_t Next(unsigned j) const { return slots_[j].next.load(std::memory_order_acquire); }
  uint64_t SigBound(unsigned j) const { return slots_[j].sig.load(std::memory_order_acquire); }

  Limit LimitFor(unsigned self) const {
    Limit l;
    for (unsigned j = 0; j < workers_; ++j) {
      if (j == self) continue;
      const uint64_t n = Next(j);
      if (n < l.next || (n == l.next && j < l.index)) {
        l.next = n;
        l.index = j;
      }
    }
    return l;
  }

  Limits LimitsFor(unsigned self) const {
    Limits l;
    for (unsigned j = 0; j < workers_; ++j) {
      if (j == self) continue;
      const uint64_t n = Next(j);
      if (n < l.strict.next || (n == l.strict.next && j < l.strict.index)) {
        l.strict.next = n;
        l.strict.index = j;
      }
      const uint64_t b = SigBound(j);
      if (b < l.media.next || (b == l.media.next && j < l.media.index)) {
        l.media.next = b;
        l.media.index = j;
      }
    }
    return l;
  }

  // How many of `n` frames (in order; `ts(i)` their capture times) worker `self` may
  // process now: the longest allowed prefix.
  template <typename TimeOf>
  static size_t AllowedPrefix(const Limit& limit, unsigned self, size_t n, TimeOf ts) {
    size_t k = 0;
    while (k < n && limit.Allows(ts(k), self)) ++k;
    return k;
  }
  // The same with both rules: `media_only(i)` tells the class of frame i.
  template <typename TimeOf, typename MediaOnly>
  static size_t AllowedPrefix(const Limits& limits, unsigned self, size_t n, TimeOf ts,
                              MediaOnly media_only) {
    size_t k = 0;
    while (k < n && limits.Allows(ts(k), self, media_only(k))) ++k;
    return k;
  }

  // Every frame at or before the returned time has been processed by every worker (the
  // smallest published next, minus one), or 0 when some worker has not read yet. For
  // Pipeline::Advance: a quiet worker's timers follow the others' capture time.
  uint64_t Frontier() const {
    uint64_t m = kDone;
    for (unsigned j = 0; j < workers_; ++j) m = std::min(m, Next(j));
    if (m == kNotRead || m == kDone) return 0;
    return m - 1;
  }

 private:
  struct alignas(64) Slot {
    std::atomic<uint64_t> next{kNotRead};
    std::atomic<uint64_t> sig{kNotRead};
  };
  unsigned workers_;
  std::unique_ptr<Slot[]> slots_;
};

class SpinBarrier {
 public:
  explicit SpinBarrier(unsigned parties) : parties_(parties) {}
  SpinBarrier(const SpinBarrier&) = delete;
  SpinBarrier& operator=(const SpinBarrier&) = delete;

  template <typename Relax>
  void Arrive(Relax relax) {
    const uint64_t gen = generation_.load(std::memory_order_acquire);
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == parties_) {
      arrived_.store(0, std::memory_order_relaxed);
      generation_.store(gen + 1, std::memory_order_release);
      return;
    }
    while (generation_.load(std::memory_order_acquire) == gen) relax();
  }

 private:
  const unsigned parties_;
  alignas(64) std::atomic<unsigned> arrived_{0};
  alignas(64) std::atomic<uint64_t> generation_{0};
};

}  // namespace callvault::dpdk

#endif  // CALLVAULT_DPDK_APP_CAPTURE_ORDER_H_
