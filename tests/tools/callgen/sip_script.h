// SipScript: the signalling of one call as timed frames — the SIP messages a carrier SBC
// (caller side) and an agent's desk phone exchange (RFC 3261 §13-15: INVITE with an SDP
// offer (RFC 3264), 100 Trying, 180 Ringing, 200 OK with the answer, ACK, optional
// re-INVITEs (codec switch from the SBC; hold and resume from the phone, RFC 3264 §8.4),
// optional SIP INFO DTMF, BYE and its 200 OK; or CANCEL/487 and 486 Busy Here for
// unanswered calls), carried over UDP (optionally as
// IP fragments) or over one TCP connection per call (RFC 9293 handshake, sequence and
// acknowledgement numbers, FIN; optionally messages split across segments or two
// messages in one segment, which SIP over TCP must frame by Content-Length, RFC 3261
// §18.3).
//
// Contract: control path (built once per call when the call starts, a few KiB), single
// thread. Output frames are sorted by time.
#ifndef CALLVAULT_TESTS_TOOLS_CALLGEN_SIP_SCRIPT_H_
#define CALLVAULT_TESTS_TOOLS_CALLGEN_SIP_SCRIPT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "tests/tools/callgen/call_plan.h"
#include "tests/tools/callgen/frame_builder.h"
#include "tests/tools/callgen/options.h"

namespace callvault::callgen {

struct SipMessage {
  uint64_t t = 0;
  int dir = 0;  // 0 = caller (SBC) -> agent phone, 1 = phone -> SBC
  std::string text;
};

struct ScriptFrame {
  uint64_t t = 0;
  std::string bytes;
};

// The SIP messages of a call, in order.
std::vector<SipMessage> BuildSipMessages(const CallPlan& p, const Agent& agent, const Options& o);

// The frames carrying them (UDP, fragments or TCP per the options), sorted by time.
std::vector<ScriptFrame> BuildSipFrames(const CallPlan& p, const std::vector<SipMessage>& msgs,
                                        const Options& o, const FrameBuilder& fb);

// Earliest frame a call can have (the TCP handshake precedes the INVITE).
inline uint64_t CallFirstFrameNs(const CallPlan& p) { return p.start_ns - 3'000'000; }

}  // namespace callvault::callgen

#endif  // CALLVAULT_TESTS_TOOLS_CALLGEN_SIP_SCRIPT_H_
