#include "appliance/media/media_drop.h"

namespace callvault::media {

std::string_view DropName(MediaDrop d) {
  switch (d) {
    case MediaDrop::kNotUdp: return "not_udp";
    case MediaDrop::kNoSession: return "no_session";
    case MediaDrop::kNotRtp: return "not_rtp";
    case MediaDrop::kOrphanProbation: return "orphan_probation";
    case MediaDrop::kSessionTableFull: return "session_table_full";
    case MediaDrop::kLegTableFull: return "leg_table_full";
    case MediaDrop::kEndpointTableFull: return "endpoint_table_full";
    case MediaDrop::kSinkRefused: return "sink_refused";
    case MediaDrop::kCount: break;
  }
  return "unknown";
}

std::string_view EventName(MediaEvent e) {
  switch (e) {
    case MediaEvent::kRtp: return "rtp";
    case MediaEvent::kRtcp: return "rtcp";
    case MediaEvent::kStun: return "stun";
    case MediaEvent::kZrtp: return "zrtp";
    case MediaEvent::kDtls: return "dtls";
    case MediaEvent::kUnknownOnMediaPort: return "unknown_on_media_port";
    case MediaEvent::kRtpMalformed: return "rtp_malformed";
    case MediaEvent::kDuplicate: return "duplicate";
    case MediaEvent::kLate: return "late";
    case MediaEvent::kSsrcChange: return "ssrc_change";
    case MediaEvent::kLatched: return "latched";
    case MediaEvent::kMatchedBySource: return "matched_by_source";
    case MediaEvent::kOrphanCall: return "orphan_call";
    case MediaEvent::kLegOpened: return "leg_opened";
    case MediaEvent::kLegClosed: return "leg_closed";
    case MediaEvent::kBlocks: return "blocks";
    case MediaEvent::kPoolMiss: return "pool_miss";
    case MediaEvent::kDtmf: return "dtmf";
    case MediaEvent::kCount: break;
  }
  return "unknown";
}

}  // namespace callvault::media
