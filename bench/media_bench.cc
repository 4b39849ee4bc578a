// Media benchmarks: RTP packets/s through matching + per-leg stats + block append, and
// WAV export speed (x real time). Figures: docs/BENCHMARKS.md (release builds only).
#include <benchmark/benchmark.h>

#include <memory>
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
  s.call_id = CallId::Make(1700000000000000000ull, "bench" + std::to_string(call));
  for (int side = 0; side < 2; ++side) {
    calls::MediaStream m;
    m.rtp = side == 0 ? a : b;
    m.rtcp = {m.rtp.ip, uint16_t(m.rtp.port + 1)};
    m.payload_types = {{0, "PCMU", 8000, 1}};
    s.side[side].streams.push_back(m);
  }
  return s;
}

// state.range(0) concurrent calls (2 legs each), packets interleaved across calls.
void BM_Media_RtpMatchAppend(benchmark::State& state) {
  const int calls = int(state.range(0));
  CollectingSink sink;
  MediaEngineOptions o;
  o.max_legs = uint32_t(calls * 2 + 16);
  MediaEngine eng(o, &sink, nullptr);
  sink.recycle_to = &eng.pool();
  const int kPerLeg = 64;
  std::vector<std::unique_ptr<TestPacket>> pkts;
  for (int c = 0; c < calls; ++c) {
    Endpoint a = Ep(0x0a000000u + uint32_t(c), 16384), b = Ep(0x0b000000u + uint32_t(c), 20000);
    eng.OnMediaChanged(MakeSession(c, a, b));
  }
  for (int i = 0; i < kPerLeg; ++i) {
    for (int c = 0; c < calls; ++c) {
      Endpoint a = Ep(0x0a000000u + uint32_t(c), 16384), b = Ep(0x0b000000u + uint32_t(c), 20000);
      for (int d = 0; d < 2; ++d) {
        pkts.push_back(std::make_unique<TestPacket>(
            d ? b : a, d ? a : b,
            RtpBytes(uint16_t(i), 160u * uint32_t(i), uint32_t(c * 2 + d), 0,
                     std::vector<uint8_t>(160, 0xff)),
            1700000000000000000ull + uint64_t(i) * 20000000ull));
      }
    }
  }
  // Sequence numbers keep advancing across iterations: rewrite seq/ts in place.
  uint16_t round = 0;
  uint64_t bytes = 0;
  for (auto _ : state) {
    for (auto& p : pkts) {
      uint8_t* rtp = p->bytes.data() + 42;
      uint16_t seq = uint16_t((rtp[2] << 8 | rtp[3]) + (round ? kPerLeg : 0));
      rtp[2] = uint8_t(seq >> 8);
      rtp[3] = uint8_t(seq);
      benchmark::DoNotOptimize(eng.OnPacket(p->pkt));
      bytes += p->frame.caplen;
    }
    round = 1;
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(pkts.size()));
  state.SetBytesProcessed(int64_t(bytes));
}
BENCHMARK(BM_Media_RtpMatchAppend)->Arg(1)->Arg(1000)->Arg(20000);

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
