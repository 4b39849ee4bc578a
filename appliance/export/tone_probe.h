// Test helpers that measure exported audio: the Goertzel power of one frequency and the
// RMS level over a sample range. Used by the export tests (appliance/export, cli) to
// check which party's tone is on which WAV channel and where silence was filled in.
// Header-only, no dependencies beyond the standard library. Thread: pure functions.
#ifndef CALLVAULT_APPLIANCE_EXPORT_TONE_PROBE_H_
#define CALLVAULT_APPLIANCE_EXPORT_TONE_PROBE_H_

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace callvault::exporter::testing {

// Goertzel power of `hz` over x[from, from+n) sampled at `rate`.
inline double Power(const std::vector<int16_t>& x, std::size_t from, std::size_t n, double hz,
                    double rate = 8000) {
  double w = 2 * M_PI * hz / rate, c = 2 * std::cos(w), s1 = 0, s2 = 0;
  for (std::size_t i = from; i < from + n && i < x.size(); ++i) {
    double s0 = x[i] + c * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return s1 * s1 + s2 * s2 - c * s1 * s2;
}

// Root mean square of x[from, from+n) (samples past the end count as silence).
inline double Rms(const std::vector<int16_t>& x, std::size_t from, std::size_t n) {
  double e = 0;
  for (std::size_t i = from; i < from + n && i < x.size(); ++i) e += double(x[i]) * x[i];
  return std::sqrt(e / double(n));
}

}  // namespace callvault::exporter::testing

#endif  // CALLVAULT_APPLIANCE_EXPORT_TONE_PROBE_H_
