// ExportWav: the audio of one call as a WAV file with one channel per party.
//
// Channel order (fixed, documented for reviewers): channel 0 (left) = the caller, channel
// 1 (right) = the agent. A leg's audio goes to the channel of the party that SENT it:
// caller_to_agent -> 0, agent_to_caller -> 1; with no agent identified, a_to_b (side A,
// the dialog's INVITE sender) -> 0, b_to_a -> 1.
// Rate: 8 kHz for narrowband (G.711, G.729); 16 kHz when any leg carries G.722; 48 kHz
// when any carries Opus (ExportStream::codecs is the hint, from the leg summaries);
// WavExportOptions::sample_rate overrides. 16-bit PCM.
// Timeline: t0 = the earliest frame of the call. A stream's first packet lands at its
// capture time minus t0; each next one at the previous position plus its RTP timestamp
// difference (so jitter does not move audio and reordered packets fall in place). A new
// SSRC, a codec with another RTP clock, or a timestamp more than 2 s away from the capture
// clock re-anchors to capture time. Gaps (loss, silence suppression, DTMF, hold) stay
// silent; duplicates (same SSRC + sequence number) are decoded once; telephone-event and
// CN are not audio. SRTP streams are decrypted with ExportStream::srtp (the SDES keys the
// sender announced, srtp_decryptor.h): a packet that fails authentication is counted in
// `srtp_auth_failures` and stays silence, never garbage audio. Encrypted streams without
// keys (DTLS-SRTP, ZRTP, keys not recorded) stay silent and `encrypted_packets` counts them.
// Memory: streams are merged by capture time and samples leave for the file once they are
// 1 s behind the merge point, so memory is bounded by the reorder horizon, not the call
// length. Control path; allocates.
#ifndef CALLVAULT_APPLIANCE_EXPORT_WAV_EXPORT_H_
#define CALLVAULT_APPLIANCE_EXPORT_WAV_EXPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "appliance/common/call_record.h"
#include "appliance/export/frame_source.h"
#include "appliance/export/srtp_decryptor.h"
#include "appliance/media/codec.h"

namespace callvault::exporter {

int ChannelFor(LegDirection d);

struct ExportStream {
  LegDirection direction = LegDirection::kAToB;
  media::PayloadMap payloads;          // PT -> codec (static types pre-filled)
  std::vector<media::Codec> codecs;    // codecs seen (rate hint)
  bool encrypted = false;
  SrtpDecryptor* srtp = nullptr;       // keys for an encrypted stream (may be null)
  FrameSource* frames = nullptr;       // RTP frames of the leg, capture order
};

struct WavExportOptions {
  uint32_t sample_rate = 0;   // 0 = from the codecs
  uint64_t flush_lag_ns = 1000ull * 1000 * 1000;
};

struct WavExportStats {
  uint32_t sample_rate = 0;
  uint64_t frames_written = 0;     // per-channel samples
  uint64_t packets_decoded = 0;
  uint64_t duplicates = 0;
  uint64_t not_audio = 0;          // telephone-event, CN, RTCP, STUN, not UDP
  uint64_t undecodable = 0;        // unknown codec or corrupt payload
  uint64_t encrypted_packets = 0;  // encrypted, no key to try
  uint64_t srtp_decrypted = 0;
  uint64_t srtp_auth_failures = 0; // no key authenticates the packet (wrong key, tampered)
  uint64_t late_samples = 0;       // arrived after their position was written
  uint64_t reanchors = 0;
  uint64_t first_ns = 0;           // t0
};

[[nodiscard]] absl::Status ExportWav(const std::vector<ExportStream>& streams,
                                     const std::string& path, const WavExportOptions& options,
                                     WavExportStats* stats);
// The same into a descriptor (a seekable regular file at offset 0; not closed); `name`
// names it in errors.
[[nodiscard]] absl::Status ExportWavToFd(const std::vector<ExportStream>& streams, int fd,
                                         const std::string& name,
                                         const WavExportOptions& options, WavExportStats* stats);

}  // namespace callvault::exporter

#endif  // CALLVAULT_APPLIANCE_EXPORT_WAV_EXPORT_H_
