// libFuzzer target: sip::ParseSdp on arbitrary text.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "appliance/sip/sdp.h"

using namespace callvault::sip;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static SessionDescription sd;  // reused, as the dialog layer does
  SdpError e = ParseSdp(std::string_view(reinterpret_cast<const char*>(data), size), &sd);
  if (sd.media.size() > SessionDescription::kMaxMedia) __builtin_trap();
  if (e == SdpError::kOk) {
    for (const MediaDescription& m : sd.media) {
      (void)m.PrimaryCodec();
      if (m.rtcp_mux && m.rtcp != m.rtp) __builtin_trap();
    }
  }
  return 0;
}
