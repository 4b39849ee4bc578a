// The steady-state RTP path allocates nothing: counts every operator new while packets
// of established legs flow (matching, stats, DTMF, block appends and block hand-over to a
// sink that recycles buffers into the pool, as the store writer does).
#include <gtest/gtest.h>

// GCC 12 flags free() in a replaced operator delete as mismatched; it is the pair of
// the malloc() in our operator new.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <array>
#include <atomic>
#include <cstdlib>
#include <memory>
#include <new>

#include "appliance/media/media_engine.h"
#include "appliance/media/test_util.h"

namespace {
std::atomic<uint64_t> g_news{0};
}  // namespace

void* operator new(std::size_t n) {
  g_news.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace callvault::media {
namespace {

using testing::CollectingSink;
using testing::Ep;
using testing::RtpBytes;
using testing::TestPacket;

TEST(MediaAlloc, SteadyStateRtpPathAllocatesNothing) {
  CollectingSink sink;
  MediaEngineOptions o;
  o.max_legs = 64;
  o.limits.block_bytes = 8192;  // several block hand-overs during the measured run
  MediaEngine eng(o, &sink, nullptr);
  sink.recycle_to = &eng.pool();
  const Endpoint a = Ep(0x0a000001, 16384), b = Ep(0x0a000002, 20000);
  calls::MediaSession s;
  s.call_id = CallId::Make(1700000000000000000ull, "alloc");
  for (int side = 0; side < 2; ++side) {
    calls::MediaStream m;
    m.rtp = side == 0 ? a : b;
    m.rtcp = {m.rtp.ip, uint16_t(m.rtp.port + 1)};
    m.payload_types = {{0, "PCMU", 8000, 1}, {101, "telephone-event", 8000, 1}};
    s.side[side].streams.push_back(m);
  }
  eng.OnMediaChanged(s);
  // Prebuild the packets (the test's own allocations are outside the measurement).
  std::vector<std::unique_ptr<TestPacket>> pkts;
  for (int i = 0; i < 2000; ++i) {
    uint64_t ts = 1700000000000000000ull + uint64_t(i) * 20000000ull;
    bool dtmf = i % 100 == 50;
    std::vector<uint8_t> payload = dtmf ? std::vector<uint8_t>{1, 0x8a, 0, 160}
                                        : std::vector<uint8_t>(160, 0x55);
    pkts.push_back(std::make_unique<TestPacket>(
        i % 2 ? a : b, i % 2 ? b : a,
        RtpBytes(uint16_t(i / 2), 160u * uint32_t(i / 2), i % 2 ? 1u : 2u, dtmf ? 101 : 0,
                 payload),
        ts));
  }
  // Warm up: legs opened (first packet of each direction) and a few blocks cycled.
  for (int i = 0; i < 200; ++i) eng.OnPacket(pkts[i]->pkt);
  // Half packet by packet, half through the burst entry point (bursts of 32).
  std::array<decode::DecodedPacket, 32> burst;
  uint64_t before = g_news.load();
  for (int i = 200; i < 1100; ++i) {
    ASSERT_TRUE(eng.OnPacket(pkts[i]->pkt));
    eng.Advance(pkts[i]->frame.ts_ns);
  }
  for (int i = 1100; i < 2000;) {
    std::size_t n = 0;
    while (n < burst.size() && i < 2000) burst[n++] = pkts[i++]->pkt;
    ASSERT_EQ(eng.OnBurst(std::span<const decode::DecodedPacket>(burst.data(), n)), n);
    eng.Advance(burst[n - 1].frame->ts_ns);
  }
  uint64_t after = g_news.load();
  EXPECT_EQ(after - before, 0u);
  EXPECT_GT(sink.pushed, 10u);  // blocks really were handed over meanwhile
  EXPECT_EQ(eng.events()[MediaEvent::kPoolMiss], 0u);
  EXPECT_EQ(eng.drops().Total(), 0u);
}

}  // namespace
}  // namespace callvault::media
