// CallRecord: the metadata of one call, as signalling builds it and as the store keeps
// it (sealed) and the CLI prints it (shared/cli.md "call summary" fields).
//
// Plain value type; serialisation lives with storage. Times are ns since the epoch, 0 =
// unknown/not yet. PII (ani, dialled, agent name/extension) must never reach the disk in
// plaintext: storage seals the record and indexes PII only through blind indexes.
#ifndef CALLVAULT_APPLIANCE_COMMON_CALL_RECORD_H_
#define CALLVAULT_APPLIANCE_COMMON_CALL_RECORD_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "appliance/common/call_id.h"
#include "appliance/common/net_types.h"

namespace callvault {

enum class CallState : uint8_t {
  kActive = 0,
  kAnswered,   // ended normally after a 2xx
  kCancelled,  // CANCEL / 487 before answer
  kFailed,     // final 3xx-6xx before answer
  kTimedOut,   // no BYE before the idle timeout
  kOrphan,     // media without signalling
};
std::string_view CallStateName(CallState s);  // "answered", "cancelled", ...

enum class LegDirection : uint8_t {
  kCallerToAgent = 0,
  kAgentToCaller,
  kAToB,  // sides unknown (no agent identified)
  kBToA,
};
std::string_view LegDirectionName(LegDirection d);  // "caller_to_agent", ...

// One direction of media of one dialog.
struct MediaLeg {
  uint16_t leg = 0;               // index within the call (stable; blocks refer to it)
  LegDirection direction = LegDirection::kAToB;
  Endpoint src;
  Endpoint dst;
  std::string codec;              // "PCMU", "PCMA", "G722", "opus", ...
  uint64_t packets = 0;
  uint64_t lost = 0;
  uint64_t duplicates = 0;
  double jitter_ms = 0;
  bool encrypted_media = false;   // SRTP (a=crypto / RTP/SAVP) or ZRTP
};

struct DtmfEvent {
  double offset_s = 0;            // from call start
  std::string digit;              // "0".."9", "*", "#", "A".."D"
  uint32_t duration_ms = 0;
  std::string source;             // "rfc4733" | "sip_info"
};

struct AgentInfo {
  std::string name;
  std::string extension;
  std::string id;                 // employee id; empty = unknown
};

struct CallRecord {
  CallId call_id;
  std::vector<std::string> sip_call_ids;
  uint64_t start_ns = 0;
  uint64_t answer_ns = 0;
  uint64_t end_ns = 0;
  CallState state = CallState::kActive;
  int sip_code = 0;
  std::string ani;                // E.164 when it could be normalised, else as seen
  std::string dialled;
  AgentInfo agent;
  std::vector<MediaLeg> legs;
  std::vector<DtmfEvent> dtmf;
  bool on_hold = false;           // media currently on hold (sendonly/inactive)
  // Added by calls: codecs negotiated by signalling (SDP answers), in order of first use
  // ("PCMU", then "G722" after a re-INVITE). Media's per-leg codec is in legs[].codec.
  std::vector<std::string> codecs;
  // Added by calls: set when this call was found later to be a leg of another call (a
  // B2BUA's second dialog whose shared media showed only in a re-INVITE) and absorbed
  // into it; the id of the surviving call, which lists this call's SIP Call-IDs. Stored
  // since record v2 (storage/index/record_codec.h); see appliance/calls/dialog_tracker.h.
  CallId merged_into;

  double duration_s() const {
    return end_ns > start_ns ? double(end_ns - start_ns) / 1e9 : 0.0;
  }
};

}  // namespace callvault

#endif  // CALLVAULT_APPLIANCE_COMMON_CALL_RECORD_H_
