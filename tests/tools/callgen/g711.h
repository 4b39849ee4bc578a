// G.711 encoders (ITU-T G.711 §3 A-law, §4 µ-law) and the per-frequency payload tables the
// generator copies into every RTP packet.
//
// Contract: pure functions, no state, any thread. Input is 16-bit linear PCM; output one
// 8-bit code word, as sent on the wire (A-law with its even bits inverted, µ-law inverted,
// as G.711 Tables 1a/2a specify).
#ifndef CALLVAULT_TESTS_TOOLS_CALLGEN_G711_H_
#define CALLVAULT_TESTS_TOOLS_CALLGEN_G711_H_

#include <array>
#include <cstdint>

namespace callvault::callgen {

// µ-law (G.711 §4): 14-bit magnitude with bias 33 (0x84 on the 16-bit scale), 8 segments.
uint8_t LinearToUlaw(int16_t sample);
// A-law (G.711 §3): 13-bit magnitude, 8 segments, even bits inverted (XOR 0x55).
uint8_t LinearToAlaw(int16_t sample);

inline constexpr int kSampleRate = 8000;
inline constexpr int kFrameSamples = 160;  // 20 ms at 8 kHz (RFC 3551 §4.5.14 default ptime)

enum class Codec : uint8_t { kPcmu = 0, kPcma = 8 };  // value = static RTP payload type

// One 20 ms frame of a pure tone. With a frequency that is a multiple of 50 Hz the tone's
// period divides 160 samples, so every frame of a call is the same bytes and the phase is
// continuous across frames, pauses (DTMF) and codec switches.
using TonePayload = std::array<uint8_t, kFrameSamples>;
TonePayload MakeTonePayload(Codec codec, int frequency_hz, double amplitude);

}  // namespace callvault::callgen

#endif  // CALLVAULT_TESTS_TOOLS_CALLGEN_G711_H_
