// Named drop reasons and event counters of the media stage.
//
// A drop is a frame handed to media that is NOT recorded in any block. Events are
// things worth seeing in `callvault status` that do not lose a frame (STUN skipped from
// the timeline but kept as evidence, duplicates flagged, NAT latching, ...).
#ifndef CALLVAULT_APPLIANCE_MEDIA_MEDIA_DROP_H_
#define CALLVAULT_APPLIANCE_MEDIA_MEDIA_DROP_H_

#include <cstdint>
#include <string_view>

#include "appliance/common/counters.h"

namespace callvault::media {

enum class MediaDrop : uint8_t {
  kNotUdp = 0,         // TCP/other L4 handed to media (RTP over TCP is not supported)
  kNoSession,          // UDP matching no announced endpoint, orphans disabled
  kNotRtp,             // UDP matching no endpoint that does not look like RTP
  kOrphanProbation,    // orphan candidate that failed or was evicted before promotion
  kSessionTableFull,   // no free session slot (MediaConfig.max_legs / 2)
  kLegTableFull,       // no free leg slot (MediaConfig.max_legs)
  kEndpointTableFull,  // could not bind an orphan endpoint
  kSinkRefused,        // the BlockSink refused a block (ring full): its frames
  kCount
};
std::string_view DropName(MediaDrop d);

enum class MediaEvent : uint8_t {
  kRtp = 0,            // RTP frames recorded
  kRtcp,               // RTCP frames recorded (port+1 or rtcp-mux)
  kStun,               // STUN/ICE on a media port: recorded as kOther, not in the timeline
  kZrtp,               // ZRTP: recorded as kOther, leg flagged encrypted
  kDtls,               // DTLS (DTLS-SRTP handshake): kOther, encrypted
  kUnknownOnMediaPort, // neither RTP nor RTCP on a bound port: kOther
  kRtpMalformed,       // RTP-looking but ParseRtp failed: kOther
  kDuplicate,          // RTP duplicates (flagged, kept)
  kLate,               // RTP older than the reorder window (kept)
  kSsrcChange,
  kLatched,            // NAT: a sender's real address learned from traffic
  kMatchedBySource,    // matched by the sender's announced address (symmetric RTP)
  kOrphanCall,         // orphan calls created
  kLegOpened,
  kLegClosed,
  kBlocks,             // blocks pushed
  kPoolMiss,           // block buffer allocated because the pool was empty
  kDtmf,               // RFC 4733 key presses
  kCount
};
std::string_view EventName(MediaEvent e);

using MediaDrops = DropCounters<MediaDrop>;
using MediaEvents = DropCounters<MediaEvent>;

}  // namespace callvault::media

#endif  // CALLVAULT_APPLIANCE_MEDIA_MEDIA_DROP_H_
