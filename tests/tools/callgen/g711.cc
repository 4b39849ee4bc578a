#include "tests/tools/callgen/g711.h"

#include <cmath>
#include <numbers>

namespace callvault::callgen {

uint8_t LinearToUlaw(int16_t sample) {
  // G.711 §4, in the classic 16-bit formulation: add the bias 0x84, find the segment
  // (position of the highest set bit above bit 7), keep 4 mantissa bits, invert.
  constexpr int kBias = 0x84;
  constexpr int kClip = 32635;
  int s = sample;
  uint8_t sign = 0;
  if (s < 0) {
    s = -s;
    sign = 0x80;
  }
  if (s > kClip) s = kClip;
  s += kBias;
  int exponent = 7;
  for (int mask = 0x4000; (s & mask) == 0 && exponent > 0; mask >>= 1) --exponent;
  int mantissa = (s >> (exponent + 3)) & 0x0F;
  return static_cast<uint8_t>(~(sign | (exponent << 4) | mantissa));
}

uint8_t LinearToAlaw(int16_t sample) {
  // G.711 §3 works on 13-bit magnitudes: drop the 3 low bits of the 16-bit sample.
  int s = sample >> 3;
  uint8_t sign = 0x80;  // A-law: sign bit 1 = positive
  if (s < 0) {
    s = -s - 1;  // one's complement magnitude, as the reference encoder does
    sign = 0;
  }
  if (s > 0xFFF) s = 0xFFF;
  uint8_t code;
  if (s < 32) {
    code = static_cast<uint8_t>(s >> 1);  // segment 0: step 2 (13-bit scale)
  } else {
    int exponent = 1;
    for (int v = s >> 5; v > 1; v >>= 1) ++exponent;
    int mantissa = (s >> exponent) & 0x0F;
    code = static_cast<uint8_t>((exponent << 4) | mantissa);
  }
  return static_cast<uint8_t>((sign | code) ^ 0x55);
}

TonePayload MakeTonePayload(Codec codec, int frequency_hz, double amplitude) {
  TonePayload out{};
  for (int n = 0; n < kFrameSamples; ++n) {
    double v =
        amplitude * 32767.0 * std::sin(2.0 * std::numbers::pi * frequency_hz * n / kSampleRate);
    auto s = static_cast<int16_t>(std::lround(v));
    out[static_cast<size_t>(n)] = codec == Codec::kPcmu ? LinearToUlaw(s) : LinearToAlaw(s);
  }
  return out;
}

}  // namespace callvault::callgen
