// FrameBuilder: lays out Ethernet (+802.1Q / QinQ tags) + IPv4 or IPv6 + UDP or TCP frames
// with correct lengths and checksums, and splits large UDP datagrams into IP fragments.
//
// Contract: control-path helper of the generator (not the appliance). Input: addresses,
// ports, payload bytes. Output: complete frames as byte strings (the RTP path instead
// patches a header template with the static helpers). No I/O, no state beyond the link
// options; any thread.
#ifndef CALLVAULT_TESTS_TOOLS_CALLGEN_FRAME_BUILDER_H_
#define CALLVAULT_TESTS_TOOLS_CALLGEN_FRAME_BUILDER_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace callvault::callgen {

// VLAN tagging of every frame: none, one 802.1Q tag (TPID 0x8100), or QinQ (802.1ad outer
// tag with TPID 0x88a8, inner 0x8100).
struct LinkOptions {
  int vlan = -1;        // single tag when >= 0
  int outer_vlan = -1;  // QinQ outer S-tag when >= 0 (then `vlan` is the inner C-tag)
};

struct Host {
  uint32_t ip = 0;  // IPv4, host byte order (when !v6)
  bool v6 = false;
  std::array<uint8_t, 16> ip6{};  // IPv6, network order (when v6)
  uint8_t mac[6] = {};
};

// Deterministic locally administered MAC for an address (02:00 + last 4 address bytes).
Host MakeHost(uint32_t ip);
Host MakeHost6(const std::array<uint8_t, 16>& ip6);
std::string Ipv4ToString(uint32_t ip);
// "198.51.100.10" / "2001:db8::10" (RFC 5952), and the form for URIs and Via
// ("[2001:db8::10]", RFC 3261 §25.1).
std::string HostText(const Host& h);
std::string HostUriText(const Host& h);

// RFC 1071 Internet checksum helpers.
uint32_t ChecksumAdd(uint32_t sum, const uint8_t* data, size_t len);
uint16_t ChecksumFinish(uint32_t sum);

class FrameBuilder {
 public:
  explicit FrameBuilder(LinkOptions link) : link_(link) {}

  // Bytes of Ethernet header + tags in front of the IP header.
  size_t l2_len() const;
  static size_t IpLen(const Host& h) { return h.v6 ? 40 : 20; }

  // Writes Ethernet + tags (ethertype IPv4 or IPv6 after `src`) at `out`; returns l2_len().
  size_t WriteL2(uint8_t* out, const Host& src, const Host& dst) const;

  // One UDP datagram in one frame (no fragmentation).
  std::string Udp(const Host& src, uint16_t sport, const Host& dst, uint16_t dport, uint16_t ip_id,
                  std::span<const uint8_t> payload) const;

  // One UDP datagram as IP fragments when the IP packet exceeds `mtu` (one frame
  // otherwise): IPv4 per RFC 791 §2.3 (offsets in 8-byte units, MF on all but the last),
  // IPv6 with a Fragment header (RFC 8200 §4.5).
  std::vector<std::string> UdpFragmented(const Host& src, uint16_t sport, const Host& dst,
                                         uint16_t dport, uint16_t ip_id,
                                         std::span<const uint8_t> payload, int mtu) const;

  // One TCP segment (RFC 9293 §3.1): 20-byte header, no options except the MSS option
  // on SYN segments.
  std::string Tcp(const Host& src, uint16_t sport, const Host& dst, uint16_t dport, uint16_t ip_id,
                  uint32_t seq, uint32_t ack, uint8_t flags,
                  std::span<const uint8_t> payload) const;

  // Fills in an IPv4 header (20 bytes) at `ip` including its checksum.
  static void WriteIpv4(uint8_t* ip, uint32_t src, uint32_t dst, uint8_t proto, uint16_t total_len,
                        uint16_t id, uint16_t frag_field);
  // Fills in the IPv4 or IPv6 header (IpLen(src) bytes) of a packet whose payload after
  // the IP header is `payload_len` bytes. `id` and `frag_field` apply to IPv4 only.
  static void WriteIp(uint8_t* ip, const Host& src, const Host& dst, uint8_t next_header,
                      size_t payload_len, uint16_t id, uint16_t frag_field);
  // UDP checksum over pseudo-header (RFC 768 / RFC 8200 §8.1) + header + payload; header
  // at `udp`, payload contiguous after it; writes the checksum field.
  static void FinishUdpChecksum(uint8_t* udp, const Host& src, const Host& dst, size_t udp_len);

 private:
  LinkOptions link_;
};

inline void PutBe16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void PutBe32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

}  // namespace callvault::callgen

#endif  // CALLVAULT_TESTS_TOOLS_CALLGEN_FRAME_BUILDER_H_
