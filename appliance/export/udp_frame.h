// Finds the UDP datagram inside a stored frame (export reads original frames back).
//
// Handles the link types callvault stores (Ethernet with 802.1Q/QinQ tags, Linux SLL and
// SLL2, raw IP, BSD null/loop) and IPv4 / IPv6 (skipping IPv6 extension headers).
// Tunnels (GRE/ERSPAN/VXLAN) and IP fragments are not unwrapped here: such frames are
// reported as not UDP (the export counts them). Pure function; views into the input.
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
