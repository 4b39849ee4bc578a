// MediaOnlyFilter: a cheap, conservative "this frame cannot carry signalling" predicate
// for the capture-order gate (capture_order.h): media-only frames of one worker need not
// wait for media of another, only for signalling. Pure C++ (no DPDK), no allocation
// after construction, no state: safe to share between worker lcores.
//
// A frame is media-only iff ALL of:
//  - link type Ethernet; up to two 802.1Q (0x8100) / 802.1ad (0x88a8) tags;
//  - IPv4 with IHL >= 5 that is not a fragment (MF clear and offset 0) and protocol UDP,
//    or IPv6 whose next header is UDP directly (no extension header);
//  - UDP whose source and destination ports are both not SIP ports (config sip.ports);
//  - a UDP payload whose first byte is 0x80..0xBF (RTP/RTCP version 2). This also
//    excludes a SIP start line on any port (sip.detect_any_port): it begins with an
//    upper-case ASCII letter (0x41..0x5A).
// Anything else — TCP, fragments, tunnels, non-IP, SIP ports, other payloads, a frame
// too short to show every header above — "may carry signalling". False negatives only
// cost speed; a false positive could reorder a SIP publication, hence the strict shape.
#ifndef CALLVAULT_DPDK_APP_MEDIA_ONLY_H_
#define CALLVAULT_DPDK_APP_MEDIA_ONLY_H_

#include <bitset>
#include <cstddef>
#include <cstdint>
#include <span>

#include "appliance/common/frame.h"

namespace callvault::dpdk {

class MediaOnlyFilter {
 public:
  explicit MediaOnlyFilter(std::span<const uint16_t> sip_ports) {
    for (uint16_t p : sip_ports) sip_.set(p);
  }

  bool IsMediaOnly(const Frame& f) const {
    if (f.link != LinkType::kEthernet) return false;
    return IsMediaOnlyEthernet(f.data, f.caplen);
  }

  // `p`, `len`: an Ethernet frame as captured.
  bool IsMediaOnlyEthernet(const uint8_t* p, size_t len) const {
    if (p == nullptr || len < 14) return false;
    size_t off = 12;
    uint16_t type = Be16(p + off);
    for (int tags = 0; tags < 2 && (type == 0x8100 || type == 0x88a8); ++tags) {
      off += 4;
      if (len < off + 2) return false;
      type = Be16(p + off);
    }
    off += 2;  // the IP header
    size_t udp;
    if (type == 0x0800) {
      if (len < off + 20) return false;
      const uint8_t vihl = p[off];
      const size_t ihl = size_t(vihl & 0x0f) * 4;
      if ((vihl >> 4) != 4 || ihl < 20) return false;
      if ((Be16(p + off + 6) & 0x3fff) != 0) return false;  // MF or a fragment offset
      if (p[off + 9] != 17) return false;
      udp = off + ihl;
    } else if (type == 0x86dd) {
      if (len < off + 40) return false;
      if ((p[off] >> 4) != 6 || p[off + 6] != 17) return false;
      udp = off + 40;
    } else {
      return false;  // non-IP, a third tag, MPLS, PPPoE, ...
    }
    if (len < udp + 9) return false;  // UDP header and the payload's first byte
    if (sip_.test(Be16(p + udp)) || sip_.test(Be16(p + udp + 2))) return false;
    const uint8_t first = p[udp + 8];
    return first >= 0x80 && first <= 0xbf;
  }

 private:
  static uint16_t Be16(const uint8_t* p) { return uint16_t(uint16_t(p[0]) << 8 | p[1]); }
  std::bitset<65536> sip_;
};

}  // namespace callvault::dpdk

#endif  // CALLVAULT_DPDK_APP_MEDIA_ONLY_H_
