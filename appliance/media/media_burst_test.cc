// MediaEngine::OnBurst() must behave exactly like OnPacket() on each packet in order: the
// prefetch passes are hints only. Two engines get the same traffic (several calls, NAT
// latching, RTCP, STUN, DTMF, comfort noise, duplicates, reordering, a re-INVITE that
// moves a port, a call end with its grace window, an orphan flow, unmatched UDP), one
// packet by packet and one in bursts of varying size (1..40, so also above kMaxBurst),
// with the same control events and Advance() calls between them; every pushed block
// (identity and bytes, in push order), every closed leg, every orphan and every counter
// must be equal. Also the block_ms flush by Advance() (which now skips legs that cannot
// be due) against its definition.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <vector>

#include "appliance/media/media_engine.h"
#include "appliance/media/test_util.h"

namespace callvault::media {
namespace {

using testing::CollectingObserver;
using testing::CollectingSink;
using testing::Ep;
using testing::RtpBytes;
using testing::TestPacket;

constexpr uint64_t kT0 = 1700000000000000000ull;
constexpr uint64_t kTick = 20000000ull;  // 20 ms

calls::MediaSession Session(int call, const Endpoint& a, const Endpoint& b, uint64_t ts) {
  calls::MediaSession s;
  s.call_id = CallId::Make(kT0 + uint64_t(call) * 1000000ull, "burst" + std::to_string(call));
  s.ts_ns = ts;
  s.agent_side = call % 2 ? 1 : -1;
  for (int side = 0; side < 2; ++side) {
    calls::MediaStream m;
    m.rtp = side == 0 ? a : b;
    m.rtcp = {m.rtp.ip, uint16_t(m.rtp.port + 1)};
    m.payload_types = {{0, "PCMU", 8000, 1}, {101, "telephone-event", 8000, 1}, {13, "CN", 8000, 1}};
    s.side[side].streams.push_back(m);
  }
  return s;
}

// One step of the scenario: a packet, or a control event applied between packets.
struct Step {
  std::unique_ptr<TestPacket> pkt;
  std::unique_ptr<calls::MediaSession> control;
  uint64_t advance_ns = 0;
};

std::vector<Step> Scenario() {
  std::vector<Step> steps;
  std::mt19937 rng(7);
  auto control = [&](calls::MediaSession s) {
    Step st;
    st.control = std::make_unique<calls::MediaSession>(std::move(s));
    steps.push_back(std::move(st));
  };
  const int kCalls = 6;
  std::vector<Endpoint> a, b;
  for (int c = 0; c < kCalls; ++c) {
    a.push_back(Ep(0x0a000001u + uint32_t(c), uint16_t(16384 + 2 * c)));
    b.push_back(Ep(0x0b000001u + uint32_t(c), uint16_t(20000 + 2 * c)));
    control(Session(c, a.back(), b.back(), kT0));
  }
  const Endpoint nat = Ep(0xc0a80001u, 40000);           // call 1's side B sends from here
  const Endpoint orphan_x = Ep(0x0c000001u, 30000), orphan_y = Ep(0x0c000002u, 30002);
  const Endpoint moved = Ep(0x0a000001u, 17000);         // call 0's side A after re-INVITE
  std::vector<uint8_t> stun = {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42,
                               1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  std::vector<uint8_t> rr = {0x80, 201, 0x00, 0x01, 0, 0, 0, 9};
  for (int t = 0; t < 400; ++t) {  // 8 s: several 5 s block_ms flushes, grace expiry
    const uint64_t tick_ns = kT0 + uint64_t(t) * kTick;
    std::vector<std::unique_ptr<TestPacket>> tick;
    for (int c = 0; c < kCalls; ++c) {
      if (c == 3 && t >= 200) continue;  // call 3 ended at t = 200 (below)
      for (int d = 0; d < 2; ++d) {
        Endpoint src = d ? b[c] : a[c], dst = d ? a[c] : b[c];
        if (c == 1 && d == 1) src = nat;
        if (c == 0 && t >= 150) {
          if (d == 0) src = moved;
          if (d == 1 && t >= 160) dst = moved;  // the far end follows 200 ms later
        }
        uint16_t seq = uint16_t(t);
        if (c == 2 && t % 50 == 10) seq = uint16_t(t + 1);  // reorder: t+1 then t
        if (c == 2 && t % 50 == 11) seq = uint16_t(t - 1);
        uint8_t pt = 0;
        std::vector<uint8_t> payload(160, uint8_t(0x55 + c));
        if (c == 4 && t >= 100 && t < 108) {  // a DTMF key press with 3 end packets
          pt = 101;
          payload = {5, uint8_t(t >= 105 ? 0x8a : 0x0a), 0, uint8_t(160 * (t - 99))};
        }
        if (c == 5 && t >= 300 && t < 320) {
          pt = 13;
          payload = {40};
        }
        const uint64_t ts = tick_ns + uint64_t(c * 2 + d) * 1000000ull;
        tick.push_back(std::make_unique<TestPacket>(
            src, dst, RtpBytes(seq, 160u * uint32_t(seq), uint32_t(100 + c * 2 + d), pt, payload),
            ts));
        if (c == 2 && t % 70 == 5) {  // SPAN duplicate
          tick.push_back(std::make_unique<TestPacket>(
              src, dst, RtpBytes(seq, 160u * seq, uint32_t(100 + c * 2 + d), pt, payload), ts));
        }
        if (t % 25 == 3) {  // RTCP on port + 1
          tick.push_back(std::make_unique<TestPacket>(
              Endpoint{src.ip, uint16_t(src.port + 1)}, Endpoint{dst.ip, uint16_t(dst.port + 1)},
              rr, ts + 500));
        }
        if (t % 97 == 1) tick.push_back(std::make_unique<TestPacket>(src, dst, stun, ts + 700));
      }
    }
    if (t >= 20 && t < 260) {  // an orphan flow, both directions
      for (int d = 0; d < 2; ++d) {
        tick.push_back(std::make_unique<TestPacket>(
            d ? orphan_y : orphan_x, d ? orphan_x : orphan_y,
            RtpBytes(uint16_t(t), 160u * uint32_t(t), uint32_t(900 + d), 8,
                     std::vector<uint8_t>(160, 0xd5)),
            tick_ns + 15000000ull + uint64_t(d)));
      }
    }
    if (t % 33 == 0) {  // unmatched UDP that is not RTP
      tick.push_back(std::make_unique<TestPacket>(Ep(0x0d000001u, 5000), Ep(0x0d000002u, 5001),
                                                  std::vector<uint8_t>{1, 2, 3}, tick_ns));
    }
    std::shuffle(tick.begin(), tick.end(), rng);  // wire order within the tick
    std::stable_sort(tick.begin(), tick.end(), [](const auto& x, const auto& y) {
      return x->frame.ts_ns < y->frame.ts_ns;
    });
    // Reordering of call 2 is by sequence number, not arrival: keep arrival order sorted.
    for (auto& p : tick) {
      Step st;
      st.pkt = std::move(p);
      steps.push_back(std::move(st));
    }
    if (t == 150) control(Session(0, moved, b[0], tick_ns));  // re-INVITE moves A's port
    if (t == 200) {
      calls::MediaSession end = Session(3, a[3], b[3], tick_ns);
      end.ended = true;
      control(std::move(end));
    }
    Step adv;
    adv.advance_ns = tick_ns + kTick - 1;
    steps.push_back(std::move(adv));
  }
  return steps;
}

struct EngineRun {
  CollectingSink sink;
  CollectingObserver observer;
  std::unique_ptr<MediaEngine> engine;
  explicit EngineRun(uint32_t block_bytes) {
    MediaEngineOptions o;
    o.max_legs = 64;
    o.limits.block_bytes = block_bytes;
    o.grace_ns = 1000000000ull;
    o.idle_ns = 2000000000ull;
    engine = std::make_unique<MediaEngine>(o, &sink, &observer);
  }
};

void ExpectSame(EngineRun& x, EngineRun& y) {
  ASSERT_EQ(x.sink.blocks.size(), y.sink.blocks.size());
  for (std::size_t i = 0; i < x.sink.blocks.size(); ++i) {
    const PlainBlock& p = x.sink.blocks[i];
    const PlainBlock& q = y.sink.blocks[i];
    SCOPED_TRACE(i);
    EXPECT_EQ(p.info.call_id.value, q.info.call_id.value);
    EXPECT_EQ(p.info.leg, q.info.leg);
    EXPECT_EQ(p.info.direction, q.info.direction);
    EXPECT_EQ(p.info.kind, q.info.kind);
    EXPECT_EQ(p.info.seq, q.info.seq);
    EXPECT_EQ(p.info.first_ts_ns, q.info.first_ts_ns);
    EXPECT_EQ(p.info.last_ts_ns, q.info.last_ts_ns);
    EXPECT_EQ(p.info.frames, q.info.frames);
    EXPECT_TRUE(p.payload == q.payload);
  }
  ASSERT_EQ(x.observer.closed.size(), y.observer.closed.size());
  for (std::size_t i = 0; i < x.observer.closed.size(); ++i) {
    const auto& p = x.observer.closed[i];
    const auto& q = y.observer.closed[i];
    EXPECT_EQ(p.call.value, q.call.value);
    EXPECT_EQ(p.leg.leg, q.leg.leg);
    EXPECT_EQ(p.leg.packets, q.leg.packets);
    EXPECT_EQ(p.leg.lost, q.leg.lost);
    EXPECT_EQ(p.leg.duplicates, q.leg.duplicates);
    EXPECT_EQ(p.leg.codec, q.leg.codec);
    EXPECT_EQ(p.leg.jitter_ms, q.leg.jitter_ms);
    EXPECT_EQ(p.dtmf.size(), q.dtmf.size());
  }
  ASSERT_EQ(x.observer.orphans_started.size(), y.observer.orphans_started.size());
  ASSERT_EQ(x.observer.orphans_ended.size(), y.observer.orphans_ended.size());
  for (std::size_t i = 0; i < x.observer.orphans_ended.size(); ++i) {
    EXPECT_EQ(x.observer.orphans_ended[i].call_id.value, y.observer.orphans_ended[i].call_id.value);
    EXPECT_EQ(x.observer.orphans_ended[i].start_ns, y.observer.orphans_ended[i].start_ns);
    EXPECT_EQ(x.observer.orphans_ended[i].end_ns, y.observer.orphans_ended[i].end_ns);
  }
  for (int r = 0; r < int(MediaDrop::kCount); ++r) {
    EXPECT_EQ(x.engine->drops()[MediaDrop(r)], y.engine->drops()[MediaDrop(r)])
        << DropName(MediaDrop(r));
  }
  for (int r = 0; r < int(MediaEvent::kCount); ++r) {
    EXPECT_EQ(x.engine->events()[MediaEvent(r)], y.engine->events()[MediaEvent(r)])
        << EventName(MediaEvent(r));
  }
}

void Play(const std::vector<Step>& steps, EngineRun& run, bool burst, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<decode::DecodedPacket> pending;
  std::size_t want = 1 + rng() % 40;
  auto flush = [&] {
    if (!pending.empty()) run.engine->OnBurst(pending);
    pending.clear();
    want = 1 + rng() % 40;
  };
  for (const Step& s : steps) {
    if (s.pkt) {
      if (!burst) {
        run.engine->OnPacket(s.pkt->pkt);
        continue;
      }
      pending.push_back(s.pkt->pkt);
      if (pending.size() >= want) flush();
      continue;
    }
    flush();
    if (s.control) run.engine->OnMediaChanged(*s.control);
    if (s.advance_ns) run.engine->Advance(s.advance_ns);
  }
  flush();
  run.engine->Finish();
}

TEST(MediaBurst, SameResultsAsPacketByPacket) {
  std::vector<Step> steps = Scenario();
  for (uint32_t block_bytes : {4096u, 65536u}) {
    SCOPED_TRACE(block_bytes);
    EngineRun single(block_bytes), bursts(block_bytes);
    Play(steps, single, /*burst=*/false, 1);
    Play(steps, bursts, /*burst=*/true, 2);
    ExpectSame(single, bursts);
    // The scenario really exercised what it claims to.
    const MediaEvents& ev = single.engine->events();
    EXPECT_GT(ev[MediaEvent::kRtcp], 0u);
    EXPECT_GT(ev[MediaEvent::kStun], 0u);
    EXPECT_GT(ev[MediaEvent::kDtmf], 0u);
    EXPECT_GT(ev[MediaEvent::kDuplicate], 0u);
    EXPECT_GT(ev[MediaEvent::kLatched], 0u);
    EXPECT_EQ(ev[MediaEvent::kOrphanCall], 1u);
    EXPECT_GT(single.engine->drops()[MediaDrop::kNotRtp], 0u);
    // 6 calls x 2 legs + the orphan's 2 legs, all closed (call 3 early, the rest at Finish).
    EXPECT_EQ(single.observer.closed.size(), 14u);
  }
}

// Advance() skips legs whose oldest open block cannot be due: a block of a quiet leg still
// leaves at the first scan at or after its first frame + block_ms, for every leg.
TEST(MediaBurst, AdvanceFlushesEachBlockAtBlockMs) {
  CollectingSink sink;
  MediaEngineOptions o;
  o.max_legs = 64;
  o.limits.block_bytes = 1 << 20;     // never by size
  o.limits.block_ns = 1000000000ull;  // 1 s
  MediaEngine eng(o, &sink, nullptr);
  const int kCalls = 8;
  std::vector<std::unique_ptr<TestPacket>> pkts;
  for (int c = 0; c < kCalls; ++c) {
    Endpoint a = Ep(0x0a000001u + uint32_t(c), 16384), b = Ep(0x0b000001u + uint32_t(c), 20000);
    eng.OnMediaChanged(Session(c, a, b, kT0));
    // Leg c starts at c * 100 ms and sends 10 + c packets, one per 20 ms, then is quiet.
    for (int t = 0; t < 10 + c; ++t) {
      pkts.push_back(std::make_unique<TestPacket>(
          a, b, RtpBytes(uint16_t(t), 160u * uint32_t(t), uint32_t(c), 0, std::vector<uint8_t>(160)),
          kT0 + uint64_t(c) * 100000000ull + uint64_t(t) * kTick + 1));
    }
  }
  std::stable_sort(pkts.begin(), pkts.end(),
                   [](const auto& x, const auto& y) { return x->frame.ts_ns < y->frame.ts_ns; });
  std::vector<uint64_t> pushed_at;
  std::size_t next = 0;
  for (uint64_t now = kT0; now < kT0 + 3000000000ull; now += 1000000ull) {  // 1 ms clock
    std::vector<decode::DecodedPacket> burst;
    while (next < pkts.size() && pkts[next]->frame.ts_ns <= now) burst.push_back(pkts[next++]->pkt);
    eng.OnBurst(burst);
    eng.Advance(now);
    while (pushed_at.size() < sink.blocks.size()) pushed_at.push_back(now);
  }
  ASSERT_EQ(sink.blocks.size(), std::size_t(kCalls));
  for (std::size_t i = 0; i < sink.blocks.size(); ++i) {
    const PlainBlock& blk = sink.blocks[i];
    const uint64_t deadline = blk.info.first_ts_ns + o.limits.block_ns;
    const uint32_t c = uint32_t((blk.info.first_ts_ns - kT0) / 100000000ull);
    EXPECT_EQ(blk.info.frames, 10u + c);
    EXPECT_GE(pushed_at[i], deadline);
    EXPECT_LT(pushed_at[i], deadline + MediaEngine::kScanIntervalNs + 1000000ull);
  }
}

}  // namespace
}  // namespace callvault::media
