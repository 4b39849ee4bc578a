// The decoder's steady state allocates nothing: a counting global operator new in this
// test binary, a warm-up pass, then many more frames (every encapsulation, fragments,
// evictions) with the counter reset.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "appliance/decode/decoder.h"
#include "appliance/decode/test_frames.h"

namespace {
std::atomic<uint64_t> g_allocs{0};
}  // namespace

void* operator new(std::size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace callvault::decode {
namespace {

using namespace callvault::decode::testing;  // NOLINT

TEST(DecoderAlloc, SteadyStateAllocatesNothing) {
  // Frames built before measuring.
  std::vector<Bytes> frames;
  frames.push_back(RtpFrame());
  frames.push_back(Cat(Cat(Ether(0x8100), Vlan(5, 0x0800)), Ipv4(17, Udp4(1, 2, Rtp()))));
  frames.push_back(Cat(Ether(0x86dd), Ipv6(0, Cat(Ext8(17), Udp6(1, 2, Text("six"))))));
  frames.push_back(Cat(Ether(0x0800), Ipv4(6, Tcp4(1, 2, 3, 4, kTcpAck, Text("tcp")))));
  Bytes e2 = {0x10, 0, 0, 1, 0, 0, 0, 0};
  frames.push_back(Cat(Ether(0x0800),
                       Ipv4(47, Cat(Bytes{0x10, 0, 0x88, 0xbe, 0, 0, 0, 1},
                                    Cat(e2, RtpFrame())))));
  frames.push_back(Cat(Ether(0x0806), Pattern(28)));  // a drop
  // Fragmented datagrams with distinct ids: 2 fragments each, plus an orphan first
  // fragment per id that only a timeout or eviction removes.
  Bytes udp = Udp4(5060, 5060, Pattern(2000));
  for (uint16_t id = 1; id <= 64; ++id) {
    V4Opts a;
    a.id = id;
    a.more = true;
    frames.push_back(Cat(Ether(0x0800),
                         Ipv4(17, Bytes(udp.begin(), udp.begin() + 1480), a)));
    V4Opts b;
    b.id = id;
    b.frag_offset = 1480;
    frames.push_back(Cat(Ether(0x0800), Ipv4(17, Bytes(udp.begin() + 1480, udp.end()), b)));
    V4Opts orphan;
    orphan.id = uint16_t(id + 1000);
    orphan.more = true;
    frames.push_back(Cat(Ether(0x0800), Ipv4(17, Pattern(800), orphan)));
  }

  DecodeConfig cfg;
  cfg.frag_max_datagrams = 16;  // small: evictions happen in the measured loop
  cfg.frag_timeout_ms = 1;
  const uint64_t before = g_allocs.load();
  Decoder dec(cfg);
  EXPECT_GT(g_allocs.load(), before);  // the hook sees the constructor's allocations
  DecodedPacket pkt;
  uint64_t ts = 1;
  auto pass = [&] {
    for (const Bytes& b : frames) {
      Frame f;
      f.data = b.data();
      f.caplen = f.wirelen = static_cast<uint32_t>(b.size());
      f.ts_ns = ts += 50000;  // 50 us apart: some datagrams time out
      (void)dec.Decode(f, &pkt);
    }
  };
  pass();
  g_allocs.store(0);
  for (int i = 0; i < 200; ++i) pass();
  uint64_t allocs = g_allocs.load();
  const DecodeStats& s = dec.stats();
  EXPECT_EQ(allocs, 0u);
  // The measured loop really exercised reassembly, evictions and timeouts.
  EXPECT_GT(s.frag_datagrams_completed, 1000u);
  EXPECT_GT(s.drops[DecodeDrop::kFragTableFull] + s.drops[DecodeDrop::kFragTimeout], 1000u);
  EXPECT_EQ(s.frames, 201u * frames.size());
}

}  // namespace
}  // namespace callvault::decode
