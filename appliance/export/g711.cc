#include "appliance/export/g711.h"

#include <array>

namespace callvault::exporter {
namespace {

int16_t ExpandMulaw(uint8_t u) {
  // G.711 µ-law: complement, then sign, 3-bit segment, 4-bit mantissa; bias 0x84.
  u = uint8_t(~u);
  int t = ((u & 0x0f) << 3) + 0x84;
  t <<= (u & 0x70) >> 4;
  return int16_t((u & 0x80) ? (0x84 - t) : (t - 0x84));
}

int16_t ExpandAlaw(uint8_t a) {
  // G.711 A-law: even bits inverted (XOR 0x55), sign bit set = positive.
  a ^= 0x55;
  int t = (a & 0x0f) << 4;
  int seg = (a & 0x70) >> 4;
  if (seg == 0) {
    t += 8;
  } else {
    t += 0x108;
    t <<= seg - 1;
  }
  return int16_t((a & 0x80) ? t : -t);
}

struct Tables {
  std::array<int16_t, 256> mu, a;
  Tables() {
    for (int i = 0; i < 256; ++i) {
      mu[i] = ExpandMulaw(uint8_t(i));
      a[i] = ExpandAlaw(uint8_t(i));
    }
  }
};

const Tables& T() {
  static const Tables t;
  return t;
}

}  // namespace

int16_t MulawToLinear(uint8_t code) { return T().mu[code]; }
int16_t AlawToLinear(uint8_t code) { return T().a[code]; }

uint8_t LinearToMulaw(int16_t pcm) {
  constexpr int kBias = 0x84, kClip = 32635;
  int sign = (pcm >> 8) & 0x80;
  int v = pcm;
  if (sign) v = -v;
  if (v > kClip) v = kClip;
  v += kBias;
  int exp = 7;
  for (int mask = 0x4000; (v & mask) == 0 && exp > 0; mask >>= 1) --exp;
  int mant = (v >> (exp + 3)) & 0x0f;
  return uint8_t(~(sign | (exp << 4) | mant));
}

uint8_t LinearToAlaw(int16_t pcm) {
  int sign = pcm >= 0 ? 0x80 : 0;
  int v = pcm >= 0 ? pcm : -(int(pcm) + 1);
  v >>= 3;  // 13-bit magnitude
  int seg = 0;
  for (int lim = 0x1f; v > lim && seg < 7; lim = (lim << 1) | 1) ++seg;
  int mant = seg == 0 ? (v >> 1) & 0x0f : (v >> seg) & 0x0f;
  return uint8_t((sign | (seg << 4) | mant) ^ 0x55);
}

}  // namespace callvault::exporter
