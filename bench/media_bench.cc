// Media benchmarks: RTP packets/s through matching + per-leg stats + block append, and
// WAV export speed (x real time). Figures: docs/BENCHMARKS.md (release builds only).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <random>
#include <span>
#include <vector>

#include "appliance/export/frame_source.h"
#include "appliance/export/g711.h"
#include "appliance/export/wav_export.h"
#include "appliance/media/media_engine.h"
#include "appliance/media/test_util.h"

namespace callvault::media {
namespace {

using testing::CollectingSink;
using testing::Ep;
using testing::RtpBytes;
using testing::TestPacket;

calls::MediaSession MakeSession(int call, const Endpoint& a, const Endpoint& b) {
  calls::MediaSession s;
  // One start millisecond per call: ids of calls started in the same ms may collide.
  s.call_id = CallId::Make(1700000000000000000ull + uint64_t(call) * 1000000ull,
                           "bench" + std::to_string(call));
  for (int side = 0; side < 2; ++side) {
    calls::MediaStream m;
    m.rtp = side == 0 ? a : b;
    m.rtcp = {m.rtp.ip, uint16_t(m.rtp.port + 1)};
    m.payload_types = {{0, "PCMU", 8000, 1}};
    s.side[side].streams.push_back(m);
  }
  return s;
}

// Realistic wire order: every leg sends one 214-byte G.711 frame (Ethernet + IPv4 + UDP +
// RTP + 160 B) per 20 ms tick, at its own phase within the tick (a fixed random order of
// the legs, as calls start at random times), so consecutive packets belong to different
// legs, and each leg's next packet comes after one packet of every other leg. Frames are
// written (addresses, ports, RTP header) into a 1,024-entry receive ring as a NIC would,
// inside the timed loop (a few ns per packet), handed to the engine in bursts of 32, and
// Advance() runs every 10 ms of capture time as EnginePipeline does. Block buffers are
// recycled by the sink, as the store writer does. Each iteration is one 20 ms tick.
//   range(0): concurrent calls (2 legs each); range(1): 1 = OnBurst, 0 = OnPacket each.
class WireRtp {
 public:
  static constexpr int kRing = 1024;
  static constexpr int kFrameBytes = 14 + 20 + 8 + 12 + 160;
  static constexpr int kStride = 256;

  explicit WireRtp(int calls) : legs_(2 * calls), ring_(std::size_t(kRing) * kStride) {
    order_.resize(std::size_t(legs_));
    for (int i = 0; i < legs_; ++i) order_[std::size_t(i)] = uint32_t(i);
    std::mt19937 rng(42);
    std::shuffle(order_.begin(), order_.end(), rng);
    for (int k = 0; k < kRing; ++k) {
      uint8_t* f = &ring_[std::size_t(k) * kStride];
      f[12] = 0x08;
      f[14] = 0x45;
      f[16] = 0;
      f[17] = 20 + 8 + 12 + 160;
      f[22] = 64;
      f[23] = 17;
      f[38] = 0;
      f[39] = 8 + 12 + 160;
      f[42] = 0x80;  // RTP v2, PT 0 (PCMU)
      std::memset(f + 54, 0xff, 160);
      frames_[std::size_t(k)].data = f;
      frames_[std::size_t(k)].caplen = frames_[std::size_t(k)].wirelen = kFrameBytes;
    }
  }
  static Endpoint A(uint32_t call) { return Ep(0x0a000000u + call, 16384); }
  static Endpoint B(uint32_t call) { return Ep(0x0b000000u + call, 20000); }
  int legs() const { return legs_; }

  // The next packet on the wire, written into the ring. Leg L sends from tick
  // start(L) = L * 2654435761 % kStartTicks on: calls start at different times, so their
  // blocks fill (and their buffers recycle) at different ticks, as on a real link.
  static constexpr uint32_t kStartTicks = 100;
  static uint32_t Start(uint32_t leg) { return uint32_t(uint64_t(leg) * 2654435761u % kStartTicks); }
  const decode::DecodedPacket& Next() {
    while (tick_ < kStartTicks && Start(order_[pos_]) > tick_) Advance();
    const uint32_t pos = pos_;
    const uint32_t leg = order_[pos];
    const uint32_t call = leg >> 1;
    const bool from_b = leg & 1;
    const int k = int(seq_ring_++ & (kRing - 1));
    uint8_t* f = &ring_[std::size_t(k) * kStride];
    uint32_t src_ip = (from_b ? 0x0b000000u : 0x0a000000u) + call;
    uint32_t dst_ip = (from_b ? 0x0a000000u : 0x0b000000u) + call;
    uint16_t sport = from_b ? 20000 : 16384, dport = from_b ? 16384 : 20000;
    Put32(f + 26, src_ip);
    Put32(f + 30, dst_ip);
    Put16(f + 34, sport);
    Put16(f + 36, dport);
    Put16(f + 44, uint16_t(tick_));
    Put32(f + 46, tick_ * 160u);
    Put32(f + 50, leg);
    Frame& fr = frames_[std::size_t(k)];
    fr.ts_ns = 1700000000000000000ull + uint64_t(tick_) * 20000000ull +
               uint64_t(pos) * 20000000ull / uint64_t(legs_);
    decode::DecodedPacket& p = pkts_[std::size_t(k)];
    p.frame = &fr;
    p.ip_version = 4;
    p.l4 = decode::L4Proto::kUdp;
    p.src = from_b ? B(call) : A(call);
    p.dst = from_b ? A(call) : B(call);
    p.payload = {f + 42, 12 + 160};
    Advance();
    return p;
  }
  // Packets of one tick once every leg has started.
  int per_tick() const { return legs_; }

 private:
  void Advance() {
    if (++pos_ == uint32_t(legs_)) {
      pos_ = 0;
      ++tick_;
    }
  }
  static void Put16(uint8_t* p, uint16_t v) {
    p[0] = uint8_t(v >> 8);
    p[1] = uint8_t(v);
  }
  static void Put32(uint8_t* p, uint32_t v) {
    for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (24 - 8 * i));
  }

  int legs_;
  std::vector<uint32_t> order_;
  std::vector<uint8_t> ring_;
  std::array<Frame, kRing> frames_{};
  std::array<decode::DecodedPacket, kRing> pkts_{};
  uint32_t pos_ = 0;
  uint32_t tick_ = 0;
  uint32_t seq_ring_ = 0;
};

void BM_Media_RtpMatchAppend(benchmark::State& state) {
  const int calls = int(state.range(0));
  const bool burst = state.range(1) != 0;
  CollectingSink sink;
  MediaEngineOptions o;
  o.max_legs = uint32_t(calls * 2 + 16);
  MediaEngine eng(o, &sink, nullptr);
  sink.recycle_to = &eng.pool();
  for (int c = 0; c < calls; ++c) {
    eng.OnMediaChanged(MakeSession(c, WireRtp::A(uint32_t(c)), WireRtp::B(uint32_t(c))));
  }
  WireRtp wire(calls);
  std::array<decode::DecodedPacket, 32> batch;
  uint64_t last_advance = 0;
  auto run_tick = [&] {
    const int n = wire.per_tick();
    for (int done = 0; done < n;) {
      const int k = std::min(32, n - done);
      for (int i = 0; i < k; ++i) batch[std::size_t(i)] = wire.Next();
      if (burst) {
        eng.OnBurst(std::span<const decode::DecodedPacket>(batch.data(), std::size_t(k)));
      } else {
        for (int i = 0; i < k; ++i) eng.OnPacket(batch[std::size_t(i)]);
      }
      done += k;
      uint64_t now = batch[std::size_t(k - 1)].frame->ts_ns;
      if (now >= last_advance + 10000000ull) {
        eng.Advance(now);
        last_advance = now;
      }
    }
  };
  // Warm-up, 4 s: legs start over the first 2 s, open, and block buffers circulate.
  for (uint32_t t = 0; t < WireRtp::kStartTicks + 100; ++t) run_tick();
  const uint64_t misses = eng.events()[MediaEvent::kPoolMiss];
  for (auto _ : state) run_tick();
  if (eng.drops().Total() != 0) state.SkipWithError("frames dropped");
  state.counters["pool_misses"] = double(eng.events()[MediaEvent::kPoolMiss] - misses);
  state.counters["legs"] = double(eng.active_legs());
  state.SetItemsProcessed(int64_t(state.iterations()) * wire.legs());
  state.SetBytesProcessed(int64_t(state.iterations()) * wire.legs() * WireRtp::kFrameBytes);
}
BENCHMARK(BM_Media_RtpMatchAppend)
    ->ArgsProduct({{1, 1000, 5000, 20000}, {0, 1}})
    ->ArgNames({"calls", "burst"});

// Export of a 60 s two-party G.711 call; "x real time" = items/s / 1 call-second.
void BM_Export_WavG711(benchmark::State& state) {
  CollectingSink sink;
  MediaEngineOptions o;
  o.max_legs = 16;
  MediaEngine eng(o, &sink, nullptr);
  Endpoint a = Ep(0x0a000001, 16384), b = Ep(0x0a000002, 20000);
  eng.OnMediaChanged(MakeSession(0, a, b));
  const int kPackets = 3000;  // 60 s per direction
  std::vector<uint8_t> tone(160);
  for (int i = 0; i < 160; ++i) tone[i] = exporter::LinearToMulaw(int16_t((i % 20) * 300));
  for (int i = 0; i < kPackets; ++i) {
    for (int d = 0; d < 2; ++d) {
      TestPacket p(d ? b : a, d ? a : b, RtpBytes(uint16_t(i), 160u * uint32_t(i), uint32_t(d), 0, tone),
                   1700000000000000000ull + uint64_t(i) * 20000000ull);
      eng.OnPacket(p.pkt);
    }
  }
  eng.Finish();
  std::vector<std::span<const uint8_t>> leg[2];
  for (const auto& blk : sink.blocks) {
    if (blk.info.kind == StreamKind::kRtp) leg[blk.info.leg & 1].push_back(blk.payload);
  }
  std::string path = "/tmp/callvault_bench_export.wav";
  for (auto _ : state) {
    exporter::BlockFrameSource s0(leg[0]), s1(leg[1]);
    std::vector<exporter::ExportStream> streams(2);
    streams[0].direction = LegDirection::kCallerToAgent;
    streams[0].frames = &s0;
    streams[1].direction = LegDirection::kAgentToCaller;
    streams[1].frames = &s1;
    exporter::WavExportStats st;
    if (!exporter::ExportWav(streams, path, {}, &st).ok()) state.SkipWithError("export failed");
  }
  // One item = one second of call audio.
  state.SetItemsProcessed(int64_t(state.iterations()) * 60);
  state.SetBytesProcessed(int64_t(state.iterations()) * 60 * 8000 * 2 * 2);
  std::remove(path.c_str());
}
BENCHMARK(BM_Export_WavG711)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace callvault::media
