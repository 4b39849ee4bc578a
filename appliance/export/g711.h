// G.711 µ-law and A-law expansion to 16-bit linear PCM (ITU-T G.711 §2, tables 1a/2a),
// from our own 256-entry tables computed at start-up. Thread-safe after first use.
#ifndef CALLVAULT_APPLIANCE_EXPORT_G711_H_
#define CALLVAULT_APPLIANCE_EXPORT_G711_H_

#include <cstdint>

namespace callvault::exporter {

int16_t MulawToLinear(uint8_t code);
int16_t AlawToLinear(uint8_t code);
// Compression (for tests and the generator): the G.711 segment encoders.
uint8_t LinearToMulaw(int16_t pcm);
uint8_t LinearToAlaw(int16_t pcm);

}  // namespace callvault::exporter

#endif  // CALLVAULT_APPLIANCE_EXPORT_G711_H_
