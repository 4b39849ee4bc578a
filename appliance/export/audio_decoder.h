// AudioDecoder: one RTP stream's payloads -> 16-bit mono PCM at the export rate.
//
// Codecs: G.711 µ-law/A-law (own tables, 8 kHz), G.722 (spandsp, 16 kHz audio on an
// 8 kHz RTP clock, RFC 3551 §4.5.2), G.729/G.729A (bcg729, 8 kHz, 10-byte frames, 2-byte
// SID frames per RFC 3551 §4.5.6), Opus (libopus decoding straight at the export rate
// when it is 8/12/16/24/48 kHz, RFC 7587). Lower-rate output is brought up to the export
// rate by linear interpolation (integer ratios only: 8 k -> 16 k / 48 k, 16 k -> 48 k).
// One decoder state per codec, created on first use, so a codec switch mid-call keeps
// each codec's history. Control path (export): allocates freely. Not thread-safe.
#ifndef CALLVAULT_APPLIANCE_EXPORT_AUDIO_DECODER_H_
#define CALLVAULT_APPLIANCE_EXPORT_AUDIO_DECODER_H_

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "appliance/media/codec.h"

namespace callvault::exporter {

// The sample rate a codec's audio has (not its RTP clock): G.722 16000, Opus 48000,
// others 8000; 0 for codecs we cannot decode.
uint32_t NativeRate(media::Codec c);
bool Decodable(media::Codec c);

class AudioDecoder {
 public:
  explicit AudioDecoder(uint32_t out_rate);
  ~AudioDecoder();
  AudioDecoder(const AudioDecoder&) = delete;
  AudioDecoder& operator=(const AudioDecoder&) = delete;

  // Appends the decoded samples of one payload to `out` (cleared first). Returns false
  // when the codec is not decodable or the payload is corrupt (out stays empty).
  bool Decode(media::Codec codec, std::span<const uint8_t> payload, std::vector<int16_t>* out);
  uint32_t out_rate() const { return out_rate_; }

 private:
  struct State;
  uint32_t out_rate_;
  std::unique_ptr<State> st_;
  std::vector<int16_t> tmp_;
};

}  // namespace callvault::exporter

#endif  // CALLVAULT_APPLIANCE_EXPORT_AUDIO_DECODER_H_
