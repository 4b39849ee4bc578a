// Decode benchmarks: frames/s (items/s) and bytes/s for the frame shapes a SPAN port
// delivers. Figures are quoted from release builds only (docs/BENCHMARKS.md):
//   meson setup build-decode-rel --buildtype=release -Ddpdk=disabled
//   ninja -C build-decode-rel appliance/decode/decode_bench
//   taskset -c 0 build-decode-rel/appliance/decode/decode_bench
#include <benchmark/benchmark.h>

#include <vector>

#include "appliance/decode/decoder.h"
#include "appliance/decode/test_frames.h"

namespace callvault::decode {
namespace {

using namespace callvault::decode::testing;  // NOLINT

// Decodes `frames` round-robin; every frame must decode to kOk (or kHeld for fragments).
void RunFrames(benchmark::State& state, const std::vector<Bytes>& frames,
               DecoderOptions opts = {}) {
  Decoder dec(DecodeConfig{}, opts);
  std::vector<Frame> fs;
  uint64_t bytes = 0;
  for (const Bytes& b : frames) {
    Frame f;
    f.data = b.data();
    f.caplen = f.wirelen = static_cast<uint32_t>(b.size());
    f.ts_ns = 1;
    fs.push_back(f);
    bytes += b.size();
  }
  DecodedPacket pkt;
  uint64_t ok = 0;
  for (auto _ : state) {
    for (const Frame& f : fs) {
      DecodeDrop r = dec.Decode(f, &pkt);
      ok += r == DecodeDrop::kOk;
      benchmark::DoNotOptimize(pkt);
    }
  }
  if (dec.stats().drops.Total() != 0) state.SkipWithError("frames were dropped");
  benchmark::DoNotOptimize(ok);
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(fs.size()));
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(bytes));
}

void BM_Decode_RtpFrame(benchmark::State& state) { RunFrames(state, {RtpFrame()}); }
BENCHMARK(BM_Decode_RtpFrame);

void BM_Decode_RtpFrameNoL4Checksum(benchmark::State& state) {
  RunFrames(state, {RtpFrame()}, DecoderOptions{.verify_l4_checksums = false});
}
BENCHMARK(BM_Decode_RtpFrameNoL4Checksum);

void BM_Decode_VlanRtp(benchmark::State& state) {
  RunFrames(state, {Cat(Cat(Ether(0x8100), Vlan(100, 0x0800)),
                        Ipv4(17, Udp4(16384, 16386, Rtp())))});
}
BENCHMARK(BM_Decode_VlanRtp);

void BM_Decode_ErspanRtp(benchmark::State& state) {
  const uint8_t a[4] = {172, 16, 0, 1}, b[4] = {172, 16, 0, 2};
  Bytes gre = {0x10, 0x00, 0x88, 0xbe, 0, 0, 0, 1};
  Bytes e2 = {0x10, 0x64, 0x00, 0x05, 0, 0, 0, 0};
  RunFrames(state, {Cat(Ether(0x0800), Ipv4(47, Cat(Cat(gre, e2), RtpFrame()), {}, a, b))});
}
BENCHMARK(BM_Decode_ErspanRtp);

// Two fragments of one 1800-byte SIP datagram; one item = one frame.
void BM_Decode_FragmentedPair(benchmark::State& state) {
  Bytes udp = Udp4(5060, 5060, Pattern(1800));
  V4Opts first;
  first.more = true;
  V4Opts second;
  second.frag_offset = 1480;
  RunFrames(state,
            {Cat(Ether(0x0800), Ipv4(17, Bytes(udp.begin(), udp.begin() + 1480), first)),
             Cat(Ether(0x0800), Ipv4(17, Bytes(udp.begin() + 1480, udp.end()), second))});
}
BENCHMARK(BM_Decode_FragmentedPair);

}  // namespace
}  // namespace callvault::decode
