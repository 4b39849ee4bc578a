#include "appliance/export/udp_frame.h"

#include "appliance/config/config.h"
#include "appliance/decode/decoder.h"

namespace callvault::exporter {
namespace {

// Export reads frames back one at a time, long after capture: the same decoder as the
// capture path, so that every encapsulation recorded (VLAN/QinQ, MPLS, PPPoE, GRE,
// ERSPAN, VXLAN, IP-in-IP) is unwrapped on the way out too. Fragments are not rebuilt
// here (a stored RTP packet is one frame); such frames count as not UDP.
decode::Decoder& ThreadDecoder() {
  static const DecodeConfig kConfig = [] {
    DecodeConfig c;
    c.frag_max_datagrams = 1;
    c.frag_max_bytes = 65536;
    return c;
  }();
  thread_local decode::Decoder decoder(kConfig, decode::DecoderOptions{
                                                    .verify_l4_checksums = false,
                                                    .max_tunnel_depth = 4});
  return decoder;
}

}  // namespace

bool ExtractUdp(LinkType link, std::span<const uint8_t> frame, UdpView* out) {
  Frame f;
  f.data = frame.data();
  f.caplen = static_cast<uint32_t>(frame.size());
  f.wirelen = f.caplen;
  f.link = link;
  decode::DecodedPacket p;
  if (ThreadDecoder().Decode(f, &p) != decode::DecodeDrop::kOk) return false;
  if (p.l4 != decode::L4Proto::kUdp || p.reassembled) return false;
  out->src = p.src;
  out->dst = p.dst;
  out->payload = p.payload;
  return true;
}

}  // namespace callvault::exporter
