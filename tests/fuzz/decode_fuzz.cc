// libFuzzer target for the decode entry point (Decoder::Decode), reassembly included.
//
// Run it (one core, 10 minutes, seeds extracted from tests/data), from the repo root:
//   CXX=clang++ meson setup build-fuzz -Dfuzz=true -Ddpdk=disabled -Dbench=false  # once
//   ninja -C build-fuzz appliance/decode/decode_fuzz &&
//   python3 tests/fuzz/make_decode_seeds.py tests/data build-fuzz/decode_seeds &&
//   mkdir -p build-fuzz/decode_corpus && build-fuzz/appliance/decode/decode_fuzz
//     -max_total_time=600 build-fuzz/decode_corpus build-fuzz/decode_seeds
//
// Input format: byte 0 selects the link type (mod 8: Ethernet, SLL, SLL2, null, loop, raw,
// IPv4, IPv6); the rest is one or more frames, each prefixed by a 2-byte big-endian
// length (a short or missing prefix makes the rest one frame). Frames are decoded by one
// Decoder 10 ms apart, so fragments of one input can reassemble, time out or be evicted.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "appliance/decode/decoder.h"

using callvault::DecodeConfig;
using callvault::Frame;
using callvault::LinkType;
using callvault::decode::DecodedPacket;
using callvault::decode::DecodeDrop;
using callvault::decode::Decoder;

namespace {

constexpr LinkType kLinks[8] = {LinkType::kEthernet, LinkType::kLinuxSll,
                                LinkType::kLinuxSll2, LinkType::kNull,
                                LinkType::kLoop,      LinkType::kRaw,
                                LinkType::kIpv4,      LinkType::kIpv6};

// Reads every byte of the decoded views so ASan checks their bounds.
uint64_t Touch(const DecodedPacket& p) {
  uint64_t s = 0;
  for (uint8_t b : p.l3) s += b;
  for (uint8_t b : p.payload) s += b;
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  DecodeConfig cfg;
  cfg.frag_max_datagrams = 4;
  cfg.frag_max_bytes = 8192;
  cfg.frag_timeout_ms = 25;
  Decoder dec(cfg);
  const LinkType link = kLinks[data[0] % 8];
  size_t pos = 1;
  uint64_t ts = 1000000000ull;
  volatile uint64_t sink = 0;
  while (pos < size) {
    size_t len = size - pos;
    size_t start = pos;
    if (size - pos >= 2) {
      size_t want = (size_t(data[pos]) << 8) | data[pos + 1];
      if (want <= size - pos - 2) {
        len = want;
        start = pos + 2;
      }
    }
    // Copy so that reading one byte past the frame is caught.
    std::vector<uint8_t> buf(data + start, data + start + len);
    Frame f;
    f.data = buf.data();
    f.caplen = f.wirelen = static_cast<uint32_t>(len);
    f.ts_ns = ts;
    f.link = link;
    DecodedPacket pkt;
    DecodeDrop r = dec.Decode(f, &pkt);
    if (r == DecodeDrop::kOk) sink = sink + Touch(pkt);
    ts += 10000000ull;
    pos = start + len;
  }
  const auto& s = dec.stats();
  // Every frame is accounted for exactly once.
  if (s.decoded + s.held + s.drops.Total() - s.frag_held_dropped != s.frames) __builtin_trap();
  return 0;
}
