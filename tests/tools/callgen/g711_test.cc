// G.711 encoder and tone tables, checked against decoders written here from ITU-T G.711
// Tables 1a/2a (independent of the encoder's code) and against the standard's code points.
#include "tests/tools/callgen/g711.h"

#include <cmath>
#include <cstdlib>
#include <numbers>
#include <vector>

#include "gtest/gtest.h"

namespace callvault::callgen {
namespace {

// µ-law decode (G.711 §4): invert, then magnitude = ((2 * mantissa + 33) << exponent) - 33
// on the 14-bit scale, i.e. ((mantissa << 3) + 0x84 << exponent) - 0x84 on 16 bits.
int UlawDecode(uint8_t code) {
  code = static_cast<uint8_t>(~code);
  int exponent = (code >> 4) & 7;
  int mantissa = code & 0x0F;
  int magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
  return (code & 0x80) ? -magnitude : magnitude;
}

// A-law decode (G.711 §3): undo the even-bit inversion; segment 0 is linear.
int AlawDecode(uint8_t code) {
  code ^= 0x55;
  int seg = (code >> 4) & 7;
  int mantissa = code & 0x0F;
  int magnitude = seg == 0 ? (mantissa << 4) + 8 : ((mantissa << 4) + 0x108) << (seg - 1);
  return (code & 0x80) ? magnitude : -magnitude;
}

TEST(G711, CodePointsFromTheStandard) {
  // Zero: µ-law 0xFF (positive zero), A-law 0xD5.
  EXPECT_EQ(LinearToUlaw(0), 0xFF);
  EXPECT_EQ(LinearToAlaw(0), 0xD5);
  // Full scale: µ-law 0x80 / 0x00, A-law 0xAA / 0x2A.
  EXPECT_EQ(LinearToUlaw(32767), 0x80);
  EXPECT_EQ(LinearToUlaw(-32768), 0x00);
  EXPECT_EQ(LinearToAlaw(32767), 0xAA);
  EXPECT_EQ(LinearToAlaw(-32768), 0x2A);
}

// Every 16-bit input decodes back to within half a quantisation step of itself (beyond
// the clipping point, to the largest value), and the mapping is monotonic.
TEST(G711, QuantisationErrorWithinHalfAStep) {
  int prev_u = -40000, prev_a = -40000;
  for (int x = -32768; x <= 32767; ++x) {
    const int u = UlawDecode(LinearToUlaw(static_cast<int16_t>(x)));
    const int a = AlawDecode(LinearToAlaw(static_cast<int16_t>(x)));
    // Step sizes: µ-law 8 << exponent (16-bit scale); A-law 16 << max(seg - 1, 0).
    const int mag = std::abs(x);
    int ustep = 8;
    while (ustep < 1024 && mag + 0x84 >= (ustep << 5)) ustep <<= 1;
    int astep = 16;
    while (astep < 1024 && mag >= (astep << 5)) astep <<= 1;
    if (mag < 32124) {  // below µ-law's top decision level
      ASSERT_LE(std::abs(u - x), ustep / 2 + 4) << "x=" << x << " u=" << u;
    }
    if (mag < 32256) {
      ASSERT_LE(std::abs(a - x), astep / 2 + 8) << "x=" << x << " a=" << a;
    }
    ASSERT_GE(u, prev_u) << "µ-law not monotonic at " << x;
    ASSERT_GE(a, prev_a) << "A-law not monotonic at " << x;
    prev_u = u;
    prev_a = a;
  }
}

// Energy of `s` at `hz` (a DFT bin; 50 Hz wide for 160 samples).
double Power(const std::vector<double>& s, double hz) {
  double re = 0, im = 0;
  for (size_t n = 0; n < s.size(); ++n) {
    double w = 2 * std::numbers::pi * hz * static_cast<double>(n) / kSampleRate;
    re += s[n] * std::cos(w);
    im -= s[n] * std::sin(w);
  }
  return re * re + im * im;
}

TEST(G711, TonePayloadIsThatToneAndRepeatsSeamlessly) {
  for (Codec codec : {Codec::kPcmu, Codec::kPcma}) {
    for (int hz : {300, 850, 1000, 1950}) {
      TonePayload p = MakeTonePayload(codec, hz, 0.5);
      // Three frames back to back, as the RTP stream sends them.
      std::vector<double> s;
      for (int rep = 0; rep < 3; ++rep) {
        for (uint8_t b : p) s.push_back(codec == Codec::kPcmu ? UlawDecode(b) : AlawDecode(b));
      }
      double total = 0;
      for (double v : s) total += v * v;
      // Parseval over 480 samples: a pure tone puts ~all energy in its bin pair.
      double in_tone = 2 * Power(s, hz) / static_cast<double>(s.size());
      EXPECT_GT(in_tone / total, 0.99) << "codec " << int(codec) << " hz " << hz;
      int best = 0;
      double best_p = 0;
      for (int f = 50; f < 4000; f += 50) {
        if (Power(s, f) > best_p) {
          best_p = Power(s, f);
          best = f;
        }
      }
      EXPECT_EQ(best, hz);
      // Amplitude 0.5 of full scale: RMS 0.5 * 32767 / sqrt(2) within 2 %.
      double rms = std::sqrt(total / static_cast<double>(s.size()));
      EXPECT_NEAR(rms, 0.5 * 32767 / std::sqrt(2.0), 0.02 * 11585);
    }
  }
}

}  // namespace
}  // namespace callvault::callgen
