// Small pure functions that turn parsed SIP/SDP (appliance/sip) into call data.
//
// Input: views into a sip::Message / a parsed sip::SessionDescription. Output: owned
// values (SideMedia, DtmfEvent). Thread: none shared. Control-path cost (allocates).
#ifndef CALLVAULT_APPLIANCE_CALLS_SIP_EXTRACT_H_
#define CALLVAULT_APPLIANCE_CALLS_SIP_EXTRACT_H_

#include <optional>
#include <string>
#include <string_view>

#include "appliance/calls/media_session.h"
#include "appliance/sip/sdp.h"

namespace callvault::calls {

// The streams of an SDP as announced by one side (m= order kept, rejected ones too).
void ToSideMedia(const sip::SessionDescription& sdp, SideMedia* out);

// A DTMF digit and duration carried by SIP INFO (RFC 6086): application/dtmf-relay
// ("Signal=5\r\nDuration=160\r\n"; Signal may be 0-9 * # A-D or the RFC 4733 event
// number 10-15) or application/dtmf ("5", optionally "Duration=" lines). nullopt if the
// content type is neither or the body holds no valid digit.
struct SipDtmf {
  std::string digit;
  uint32_t duration_ms = 0;
};
std::optional<SipDtmf> ParseInfoDtmf(std::string_view content_type, std::string_view body);

}  // namespace callvault::calls

#endif  // CALLVAULT_APPLIANCE_CALLS_SIP_EXTRACT_H_
