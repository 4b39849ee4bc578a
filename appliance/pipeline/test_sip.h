// Test helpers shared by the pipeline tests: capture times, endpoints and a minimal SIP
// message (caller 192.0.2.10 -> PBX 10.20.0.1, agent extension 2001) with optional SDP.
// Header-only, for tests; not part of any library.
#ifndef CALLVAULT_APPLIANCE_PIPELINE_TEST_SIP_H_
#define CALLVAULT_APPLIANCE_PIPELINE_TEST_SIP_H_

#include <cstdint>
#include <string>

#include <fmt/format.h>

#include "appliance/common/net_types.h"
#include "appliance/common/time_util.h"

namespace callvault::pipeline_testing {

inline constexpr uint64_t kT0 = 1700000000ull * kNsPerSec;
inline uint64_t At(double s) { return kT0 + uint64_t(s * 1e9 + 0.5); }
inline Endpoint Ep(const char* ip, uint16_t port) {
  return Endpoint{*IpAddress::Parse(ip), port};
}

inline const Endpoint kCallerSip = Ep("192.0.2.10", 5060);
inline const Endpoint kPbxSip = Ep("10.20.0.1", 5060);

// A SIP message: start line, Via/From/To/Call-ID/CSeq, and `sdp` as body when not empty.
inline std::string Sip(const std::string& start_line, const std::string& call_id, int cseq,
                       const std::string& method, const std::string& to_tag,
                       const std::string& sdp) {
  std::string to = "<sip:2001@pbx.example.com>";
  if (!to_tag.empty()) to += ";tag=" + to_tag;
  std::string m = fmt::format(
      "{}\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-{}-{}\r\n"
      "From: <sip:+12025550143@carrier.example.com>;tag=ft-{}\r\nTo: {}\r\n"
      "Call-ID: {}\r\nCSeq: {} {}\r\nMax-Forwards: 70\r\n",
      start_line, call_id, cseq, call_id, to, call_id, cseq, method);
  if (!sdp.empty()) m += "Content-Type: application/sdp\r\n";
  return m + fmt::format("Content-Length: {}\r\n\r\n", sdp.size()) + sdp;
}

}  // namespace callvault::pipeline_testing

#endif  // CALLVAULT_APPLIANCE_PIPELINE_TEST_SIP_H_
