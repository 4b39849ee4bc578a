// CaptureClock (the capture-time gate between workers replaying files) and SpinBarrier.
// The gate is driven by a simulated scheduler that runs workers in a random order, each
// with its own time-ordered stream of media-only and may-carry-signalling frames read in
// bursts, as engine.cc's ordered loop does: every signalling frame must sit at its global
// (time, worker) merge position relative to every frame (all frames when none is
// media-only: the whole merge), and at every step at least one worker must be able to
// move (no deadlock). Then the same with real threads.
#include "dpdk_app/capture_order.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace callvault::dpdk {
namespace {

TEST(CaptureOrder, LimitIsTheSmallestOtherWorkerWithTiesByIndex) {
  CaptureClock clock(3);
  clock.Publish(0, 100);
  clock.Publish(1, 50);
  clock.Publish(2, 50);
  CaptureClock::Limit l0 = clock.LimitFor(0);
  EXPECT_EQ(l0.next, 50u);
  EXPECT_EQ(l0.index, 1u);
  EXPECT_TRUE(l0.Allows(49, 0));
  EXPECT_TRUE(l0.Allows(50, 0));   // tie with worker 1: worker 0 goes first
  EXPECT_FALSE(l0.Allows(51, 0));
  CaptureClock::Limit l2 = clock.LimitFor(2);
  EXPECT_EQ(l2.index, 1u);
  EXPECT_FALSE(l2.Allows(50, 2));  // tie with worker 1: worker 1 goes first
  EXPECT_TRUE(l2.Allows(49, 2));
  CaptureClock::Limit l1 = clock.LimitFor(1);
  EXPECT_EQ(l1.next, 50u);
  EXPECT_EQ(l1.index, 2u);
  EXPECT_TRUE(l1.Allows(50, 1));
}

TEST(CaptureOrder, NotReadBlocksEverythingAndDoneBlocksNothing) {
  CaptureClock clock(2);
  EXPECT_FALSE(clock.LimitFor(0).Allows(1, 0));  // worker 1 has not read yet
  EXPECT_EQ(clock.Frontier(), 0u);
  clock.Publish(1, CaptureClock::kDone);
  EXPECT_TRUE(clock.LimitFor(0).Allows(CaptureClock::kDone - 1, 0));
  clock.Publish(0, 1000);
  EXPECT_EQ(clock.Frontier(), 999u);
  clock.Publish(0, CaptureClock::kDone);
  EXPECT_EQ(clock.Frontier(), 0u);
}

TEST(CaptureOrder, AllowedPrefixStopsAtTheFirstFrameNotAllowed) {
  CaptureClock clock(2);
  clock.Publish(1, 30);
  const std::vector<uint64_t> ts = {10, 20, 30, 30, 31, 40};
  auto at = [&](size_t i) { return ts[i]; };
  EXPECT_EQ(CaptureClock::AllowedPrefix(clock.LimitFor(0), 0, ts.size(), at), 4u);
  clock.Publish(0, 30);
  EXPECT_EQ(CaptureClock::AllowedPrefix(clock.LimitFor(1), 1, 2, at), 2u);  // 10, 20
  EXPECT_EQ(CaptureClock::AllowedPrefix(clock.LimitFor(1), 1, 0, at), 0u);
}

TEST(CaptureOrder, MediaOnlyFramesWaitOnlyForTheOthersSignalling) {
  CaptureClock clock(3);
  clock.Publish(0, 10, 40);
  clock.Publish(1, 20, 30);
  clock.Publish(2, 15);  // every held frame may carry signalling: sig_bound = next
  const CaptureClock::Limits l0 = clock.LimitsFor(0);
  EXPECT_EQ(l0.strict.next, 15u);
  EXPECT_EQ(l0.strict.index, 2u);
  EXPECT_EQ(l0.media.next, 15u);
  const CaptureClock::Limits l2 = clock.LimitsFor(2);
  EXPECT_EQ(l2.strict.next, 10u);
  EXPECT_EQ(l2.media.next, 30u);
  EXPECT_EQ(l2.media.index, 1u);
  EXPECT_TRUE(l2.Allows(29, 2, /*media_only=*/true));
  EXPECT_FALSE(l2.Allows(30, 2, true));   // tie with worker 1's bound: worker 1 first
  EXPECT_FALSE(l2.Allows(11, 2, false));  // signalling: worker 0 still holds time 10
  EXPECT_TRUE(l2.Allows(9, 2, false));
  const CaptureClock::Limits l1 = clock.LimitsFor(1);
  EXPECT_TRUE(l1.Allows(14, 1, true));
  EXPECT_TRUE(l1.Allows(15, 1, true));    // tie with worker 2's bound: 1 < 2 goes first
  EXPECT_FALSE(l1.Allows(16, 1, true));
  const std::vector<uint64_t> ts = {12, 13, 14, 16};
  const std::vector<bool> media = {true, true, false, true};
  clock.Publish(0, 14, 100);
  clock.Publish(2, 50, 50);
  // Worker 1: 12, 13 media (< 50), 14 signalling waits for worker 0's next (14, index 0).
  EXPECT_EQ(CaptureClock::AllowedPrefix(
                clock.LimitsFor(1), 1, ts.size(), [&](size_t i) { return ts[i]; },
                [&](size_t i) { return static_cast<bool>(media[i]); }),
            2u);
}

// One simulated worker: a time-ordered stream read in bursts of up to `burst` frames;
// media[i]: frame i is media-only.
struct SimWorker {
  std::vector<uint64_t> stream;
  std::vector<bool> media;
  size_t read = 0;  // frames handed out by "NextBurst"
  size_t pos = 0;   // frames processed
  bool done() const { return pos == stream.size(); }
  // As engine.cc's HeldBurst::SigBound, for one source.
  uint64_t SigBound() const {
    if (done()) return CaptureClock::kDone;
    if (read == 0) return CaptureClock::kNotRead;
    for (size_t j = pos; j < read; ++j) {
      if (!media[j]) return stream[j];
    }
    return stream[read - 1];
  }
};

// The clock and the streams, for a failure message.
std::string DebugState(const CaptureClock& c, const std::vector<SimWorker>& w, unsigned best) {
  std::string s = " best=" + std::to_string(best);
  for (unsigned i = 0; i < w.size(); ++i) {
    s += " [" + std::to_string(i) + " next=" + std::to_string(c.Next(i)) + " sig=" +
         std::to_string(c.SigBound(i)) + " pos=" + std::to_string(w[i].pos) + " read=" +
         std::to_string(w[i].read) + " len=" + std::to_string(w[i].stream.size()) +
         "]";
    if (w[i].pos < w[i].stream.size()) {
      s += " head=" + std::to_string(w[i].stream[w[i].pos]) + (w[i].media[w[i].pos] ? "m" : "s");
    }
  }
  return s;
}

struct Processed {
  uint64_t t;
  unsigned worker;
  size_t seq;  // index in the worker's stream
  bool operator==(const Processed&) const = default;
};

// Runs the ordered loop's decision for `workers` streams under a random schedule; returns
// the processed sequence. At every step the worker with the smallest (published next,
// index) can move: it either holds nothing (it reads, which is never gated) or its head
// frame is allowed whatever its class. That is the no-deadlock argument of
// capture_order.h, checked as the run goes.
std::vector<Processed> Simulate(std::vector<SimWorker> w, size_t burst, std::mt19937_64& rng) {
  const unsigned n = static_cast<unsigned>(w.size());
  CaptureClock clock(n);
  std::vector<Processed> out;
  std::vector<uint64_t> published(n, CaptureClock::kNotRead);  // next, as engine.cc keeps it
  auto publish = [&](unsigned i, uint64_t next) {
    published[i] = next;
    clock.Publish(i, next, std::max(next, w[i].SigBound()));
  };
  for (;;) {
    bool all_done = true;
    for (auto& x : w) all_done = all_done && x.done();
    if (all_done) break;
    unsigned best = n;
    bool unpublished_end = false;  // a worker whose stream ended can move: it publishes kDone
    for (unsigned i = 0; i < n; ++i) {
      if (w[i].done()) {
        unpublished_end = unpublished_end || clock.Next(i) != CaptureClock::kDone;
        continue;
      }
      if (best == n || clock.Next(i) < clock.Next(best)) best = i;
    }
    if (best != n && !unpublished_end && w[best].pos < w[best].read) {
      const SimWorker& b = w[best];
      EXPECT_EQ(clock.Next(best), b.stream[b.pos]);  // the head, published
      EXPECT_TRUE(clock.LimitsFor(best).Allows(clock.Next(best), best, b.media[b.pos]))
          << "the earliest worker is blocked: deadlock" << DebugState(clock, w, best);
    }
    const unsigned i = static_cast<unsigned>(rng() % n);
    SimWorker& x = w[i];
    if (x.done()) {
      clock.Publish(i, CaptureClock::kDone);
      continue;
    }
    if (x.pos == x.read) {  // NextBurst
      x.read = std::min(x.stream.size(), x.read + 1 + rng() % burst);
      publish(i, x.stream[x.pos]);
      continue;
    }
    const size_t k = CaptureClock::AllowedPrefix(
        clock.LimitsFor(i), i, x.read - x.pos, [&](size_t j) { return x.stream[x.pos + j]; },
        [&](size_t j) { return static_cast<bool>(x.media[x.pos + j]); });
    for (size_t j = 0; j < k; ++j) out.push_back({x.stream[x.pos + j], i, x.pos + j});
    x.pos += k;
    if (x.done()) {
      clock.Publish(i, CaptureClock::kDone);
    } else if (x.pos < x.read) {
      publish(i, x.stream[x.pos]);
    } else {
      publish(i, published[i]);  // next unknown until the next read; sig_bound moves on
    }
  }
  return out;
}

// Checks `got` against the global (time, worker) merge of `w`: the same frames, each
// worker's in its own order, and every frame that may carry signalling at exactly its
// merge position relative to EVERY frame (all frames before it in the merge were
// processed before it, none after). Media-only frames of different workers may swap.
void ExpectSignallingInGlobalOrder(const std::vector<SimWorker>& w,
                                   const std::vector<Processed>& got, const std::string& what) {
  std::vector<Processed> want;
  for (unsigned i = 0; i < w.size(); ++i) {
    for (size_t j = 0; j < w[i].stream.size(); ++j) want.push_back({w[i].stream[j], i, j});
  }
  std::stable_sort(want.begin(), want.end(), [](const Processed& a, const Processed& b) {
    return std::tie(a.t, a.worker) < std::tie(b.t, b.worker);
  });
  ASSERT_EQ(got.size(), want.size()) << what;
  std::vector<std::vector<size_t>> rank(w.size());
  for (unsigned i = 0; i < w.size(); ++i) rank[i].assign(w[i].stream.size(), SIZE_MAX);
  for (size_t r = 0; r < want.size(); ++r) rank[want[r].worker][want[r].seq] = r;
  std::vector<size_t> next_seq(w.size(), 0);
  size_t prefix_max = 0;  // the largest rank processed so far, plus one
  for (size_t p = 0; p < got.size(); ++p) {
    const Processed& g = got[p];
    ASSERT_LT(g.worker, w.size()) << what;
    ASSERT_EQ(g.seq, next_seq[g.worker]++) << what << ": worker " << g.worker << " out of order";
    ASSERT_EQ(g.t, w[g.worker].stream[g.seq]) << what;
    const size_t r = rank[g.worker][g.seq];
    if (!w[g.worker].media[g.seq]) {
      // Exactly the frames before it in the merge were processed before it.
      ASSERT_EQ(p, r) << what << ": signalling frame at t=" << g.t << " of worker " << g.worker
                      << " processed at position " << p << ", merge position " << r;
      ASSERT_LE(prefix_max, r) << what << ": a later frame went before signalling at t=" << g.t;
    }
    prefix_max = std::max(prefix_max, r + 1);
  }
}

TEST(CaptureOrder, RandomSchedulesKeepSignallingInGlobalOrderAndNeverDeadlock) {
  std::mt19937_64 rng(20261207);
  // Share of media-only frames: none (the strict rule: the whole merge), some, most, all.
  const unsigned kMediaPercent[] = {0, 50, 90, 100};
  for (int round = 0; round < 600; ++round) {
    const unsigned n = 2 + static_cast<unsigned>(rng() % 3);
    const unsigned media_pct = kMediaPercent[round % 4];
    std::vector<SimWorker> w(n);
    for (unsigned i = 0; i < n; ++i) {
      const size_t len = rng() % 200;
      uint64_t t = 1 + rng() % 5;
      for (size_t j = 0; j < len; ++j) {
        t += rng() % 4;  // many equal times: ties across and within workers
        w[i].stream.push_back(t);
        w[i].media.push_back(rng() % 100 < media_pct);
      }
    }
    std::vector<Processed> got = Simulate(w, 32, rng);
    ExpectSignallingInGlobalOrder(
        w, got, "round " + std::to_string(round) + " with " + std::to_string(n) + " workers");
    if (HasFatalFailure()) return;
    if (media_pct == 0) {  // every frame is signalling: exactly the global merge
      for (size_t p = 1; p < got.size(); ++p) {
        ASSERT_LE(std::tie(got[p - 1].t, got[p - 1].worker), std::tie(got[p].t, got[p].worker));
      }
    }
  }
}

TEST(CaptureOrder, RealThreadsKeepSignallingInGlobalOrder) {
  constexpr unsigned kWorkers = 3;
  std::mt19937_64 rng(7);
  std::vector<SimWorker> w(kWorkers);
  for (unsigned i = 0; i < kWorkers; ++i) {
    uint64_t t = 1;
    for (int j = 0; j < 20000; ++j) {
      t += rng() % 3;
      w[i].stream.push_back(t);
      w[i].media.push_back(rng() % 10 != 0);  // one frame in ten may carry signalling
    }
  }
  CaptureClock clock(kWorkers);
  std::vector<Processed> got(w[0].stream.size() * kWorkers);
  std::atomic<size_t> slot{0};
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < kWorkers; ++i) {
    threads.emplace_back([&, i] {
      SimWorker x = w[i];
      while (!x.done()) {
        x.read = std::min(x.stream.size(), x.pos + 32);  // one burst held at a time
        clock.Publish(i, x.stream[x.pos], std::max(x.stream[x.pos], x.SigBound()));
        const size_t k = CaptureClock::AllowedPrefix(
            clock.LimitsFor(i), i, x.read - x.pos, [&](size_t j) { return x.stream[x.pos + j]; },
            [&](size_t j) { return static_cast<bool>(x.media[x.pos + j]); });
        // Only the gate orders these slots: a misplaced signalling frame shows in the check.
        for (size_t j = 0; j < k; ++j) got[slot.fetch_add(1)] = {x.stream[x.pos + j], i, x.pos + j};
        x.pos += k;
        if (k == 0) std::this_thread::yield();
      }
      clock.Publish(i, CaptureClock::kDone);
    });
  }
  for (auto& t : threads) t.join();
  ExpectSignallingInGlobalOrder(w, got, "real threads");
}

TEST(SpinBarrier, NobodyPassesUntilAllArriveAndItIsReusable) {
  constexpr unsigned kThreads = 4;
  constexpr int kRounds = 200;
  SpinBarrier barrier(kThreads);
  std::atomic<int> arrived[kRounds] = {};
  std::atomic<int> violations{0};
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      for (int r = 0; r < kRounds; ++r) {
        arrived[r].fetch_add(1);
        barrier.Arrive([] { std::this_thread::yield(); });
        if (arrived[r].load() != static_cast<int>(kThreads)) violations.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(violations.load(), 0);
}

}  // namespace
}  // namespace callvault::dpdk
