// Codecs and the RTP payload-type map of one media stream.
//
// The map comes from the SDP (a=rtpmap) and falls back to the static payload types of
// RFC 3551 §6. Fixed size (128 entries, no heap) so a leg can hold it by value and the
// packet path can look a PT up with one index.
#ifndef CALLVAULT_APPLIANCE_MEDIA_CODEC_H_
#define CALLVAULT_APPLIANCE_MEDIA_CODEC_H_

#include <array>
#include <cstdint>
#include <string_view>

namespace callvault::media {

enum class Codec : uint8_t {
  kUnknown = 0,
  kPcmu,            // G.711 µ-law, PT 0
  kPcma,            // G.711 A-law, PT 8
  kG722,            // PT 9; RTP clock 8000 although sampled at 16 kHz (RFC 3551 §4.5.2)
  kG729,            // PT 18
  kOpus,            // dynamic, clock 48000 (RFC 7587 §4.1)
  kComfortNoise,    // CN, PT 13 (RFC 3389)
  kTelephoneEvent,  // RFC 4733
  kOther,           // known name we do not decode (GSM, iLBC, ...)
};
std::string_view CodecName(Codec c);  // "PCMU", "PCMA", "G722", "G729", "opus", "CN", ...
// Case-insensitive encoding name from a=rtpmap ("PCMU", "opus", "telephone-event").
Codec CodecFromName(std::string_view encoding);

struct PayloadEntry {
  Codec codec = Codec::kUnknown;
  uint32_t clock_rate = 0;  // RTP timestamp clock, Hz; 0 = unknown
};

class PayloadMap {
 public:
  // Static payload types of RFC 3551 §6 pre-filled.
  PayloadMap();
  void Set(uint8_t pt, Codec codec, uint32_t clock_rate) {
    entries_[pt & 0x7f] = {codec, clock_rate};
  }
  // Sets from an a=rtpmap encoding name.
  void SetByName(uint8_t pt, std::string_view encoding, uint32_t clock_rate) {
    Set(pt, CodecFromName(encoding), clock_rate);
  }
  const PayloadEntry& Get(uint8_t pt) const { return entries_[pt & 0x7f]; }

 private:
  std::array<PayloadEntry, 128> entries_{};
};

// RTP payload types that a heuristic accepts as plausible audio/video RTP: the assigned
// static types and the dynamic range 96-127 (RFC 3551 §6), never 72-76 (RTCP clash,
// RFC 5761 §4).
bool PlausibleRtpPayloadType(uint8_t pt);

}  // namespace callvault::media

#endif  // CALLVAULT_APPLIANCE_MEDIA_CODEC_H_
