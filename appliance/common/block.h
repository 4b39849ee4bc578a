// PlainBlock: the unit the engine hands to the store — a run of captured frames (or
// events) of one stream of one call, not yet sealed.
//
// Producers: media (RTP/RTCP per leg and direction), signalling (the SIP frames of a call),
// the call-event writer (DTMF, quality). Consumer: storage, which seals each block under
// the call's data key with this header as associated data and appends it to a segment.
// Ownership: the block owns its payload; producers move blocks into the sink.
#ifndef CALLVAULT_APPLIANCE_COMMON_BLOCK_H_
#define CALLVAULT_APPLIANCE_COMMON_BLOCK_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "appliance/common/call_id.h"

namespace callvault {

enum class StreamKind : uint8_t {
  kSignalling = 0,  // SIP frames (FrameRecord payload)
  kRtp = 1,         // RTP frames of one leg (FrameRecord payload)
  kRtcp = 2,        // RTCP frames of one leg (FrameRecord payload)
  kEvents = 3,      // serialised call events (DTMF, quality); format owned by media
  kOther = 4,       // frames on media ports that are neither RTP nor RTCP (STUN, ZRTP...)
};
std::string_view StreamKindName(StreamKind k);

struct BlockInfo {
  CallId call_id;
  uint16_t leg = 0;          // MediaLeg::leg; 0 for signalling
  uint8_t direction = 0;     // LegDirection value (media), 0 for signalling
  StreamKind kind = StreamKind::kRtp;
  uint32_t seq = 0;          // per (call, leg, kind) block sequence, from 0
  uint64_t first_ts_ns = 0;  // capture time of the first and last frame in the block
  uint64_t last_ts_ns = 0;
  uint32_t frames = 0;       // records in the payload
};

struct PlainBlock {
  BlockInfo info;
  std::vector<uint8_t> payload;  // FrameRecord encoding (common/frame_record.h) or events
};

// Where finished blocks go. Implemented by the store writer (or a ring in front of it).
// Push must not block the packet path: an implementation that cannot take the block
// counts it as a named drop and returns false.
class BlockSink {
 public:
  virtual ~BlockSink() = default;
  virtual bool Push(PlainBlock&& block) = 0;
};

}  // namespace callvault

#endif  // CALLVAULT_APPLIANCE_COMMON_BLOCK_H_
