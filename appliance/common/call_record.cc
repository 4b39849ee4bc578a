#include "appliance/common/call_record.h"

#include "appliance/common/block.h"

namespace callvault {

std::string_view CallStateName(CallState s) {
  switch (s) {
    case CallState::kActive: return "active";
    case CallState::kAnswered: return "answered";
    case CallState::kCancelled: return "cancelled";
    case CallState::kFailed: return "failed";
    case CallState::kTimedOut: return "timed_out";
    case CallState::kOrphan: return "orphan";
  }
  return "unknown";
}

std::string_view LegDirectionName(LegDirection d) {
  switch (d) {
    case LegDirection::kCallerToAgent: return "caller_to_agent";
    case LegDirection::kAgentToCaller: return "agent_to_caller";
    case LegDirection::kAToB: return "a_to_b";
    case LegDirection::kBToA: return "b_to_a";
  }
  return "unknown";
}

std::string_view StreamKindName(StreamKind k) {
  switch (k) {
    case StreamKind::kSignalling: return "sip";
    case StreamKind::kRtp: return "rtp";
    case StreamKind::kRtcp: return "rtcp";
    case StreamKind::kEvents: return "events";
    case StreamKind::kOther: return "other";
  }
  return "unknown";
}

}  // namespace callvault
