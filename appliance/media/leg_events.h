// LegSummary: what media stores about a closed leg in its kEvents block (the format of
// StreamKind::kEvents blocks produced by media is owned here), and what `show` / export
// read back: the MediaLeg of call_record.h plus the extra quality figures and the RFC 4733
// DTMF events. Encoding: one JSON object (UTF-8), version field "v": 1.
// Control path only (leg close, export): allocates freely.
#ifndef CALLVAULT_APPLIANCE_MEDIA_LEG_EVENTS_H_
#define CALLVAULT_APPLIANCE_MEDIA_LEG_EVENTS_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "appliance/common/call_record.h"

namespace callvault::media {

struct LegSummary {
  MediaLeg leg;
  uint64_t first_ns = 0;        // capture time of the leg's first and last frame
  uint64_t last_ns = 0;
  uint64_t reordered = 0;
  uint64_t late = 0;
  uint64_t ssrc_changes = 0;
  uint64_t comfort_noise = 0;
  uint64_t rtcp_packets = 0;
  uint64_t other_packets = 0;   // STUN, ZRTP, DTLS, unknown
  double max_jitter_ms = 0;
  std::vector<uint8_t> payload_types;   // RTP payload types seen
  std::vector<std::pair<uint8_t, std::string>> payload_names;  // pt -> encoding name
  std::vector<DtmfEvent> dtmf;
};

std::vector<uint8_t> EncodeLegSummary(const LegSummary& s);
absl::StatusOr<LegSummary> DecodeLegSummary(std::span<const uint8_t> payload);

}  // namespace callvault::media

#endif  // CALLVAULT_APPLIANCE_MEDIA_LEG_EVENTS_H_
