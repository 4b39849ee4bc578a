// Finds the UDP datagram inside a stored frame (export reads original frames back).
//
// Uses the capture path's decoder (appliance/decode), so every link type and
// encapsulation callvault records (VLAN/QinQ, MPLS, PPPoE, GRE, ERSPAN, VXLAN, IP-in-IP)
// is unwrapped the same way on export. IP fragments are not rebuilt here: such frames
// are reported as not UDP (the export counts them). Views into the input; one decoder
// per thread.
#ifndef CALLVAULT_APPLIANCE_EXPORT_UDP_FRAME_H_
#define CALLVAULT_APPLIANCE_EXPORT_UDP_FRAME_H_

#include <cstdint>
#include <span>

#include "appliance/common/frame.h"
#include "appliance/common/net_types.h"

namespace callvault::exporter {

struct UdpView {
  Endpoint src, dst;
  std::span<const uint8_t> payload;
};

bool ExtractUdp(LinkType link, std::span<const uint8_t> frame, UdpView* out);

}  // namespace callvault::exporter

#endif  // CALLVAULT_APPLIANCE_EXPORT_UDP_FRAME_H_
