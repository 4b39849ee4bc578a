// Test-only frame builders for the decode tests, benchmark and fuzz seeds. Checksums are
// computed here with a plain 16-bit RFC 1071 loop, independently of checksum.h.
#ifndef CALLVAULT_APPLIANCE_DECODE_TEST_FRAMES_H_
#define CALLVAULT_APPLIANCE_DECODE_TEST_FRAMES_H_

#include <cstdint>
#include <string_view>
#include <vector>

namespace callvault::decode::testing {

using Bytes = std::vector<uint8_t>;

inline void Put16(Bytes& b, uint16_t v) {
  b.push_back(uint8_t(v >> 8));
  b.push_back(uint8_t(v));
}
inline void Put32(Bytes& b, uint32_t v) {
  Put16(b, uint16_t(v >> 16));
  Put16(b, uint16_t(v));
}
inline Bytes Cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
inline Bytes Text(std::string_view s) { return Bytes(s.begin(), s.end()); }
inline Bytes Pattern(size_t n, uint8_t seed = 1) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = uint8_t(seed + i * 7);
  return b;
}

// Straightforward RFC 1071 sum of big-endian 16-bit words, folded.
inline uint16_t NaiveSum(const Bytes& b, uint32_t start = 0) {
  uint32_t s = start;
  for (size_t i = 0; i < b.size(); i += 2) {
    uint32_t w = uint32_t(b[i]) << 8;
    if (i + 1 < b.size()) w |= b[i + 1];
    s += w;
  }
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return uint16_t(s);
}

inline constexpr uint8_t kV4A[4] = {10, 0, 0, 1};
inline constexpr uint8_t kV4B[4] = {192, 168, 1, 20};
inline constexpr uint8_t kV6A[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
inline constexpr uint8_t kV6B[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

inline Bytes Ether(uint16_t type) {
  Bytes b = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x00, 0x66, 0x77, 0x88, 0x99, 0xaa};
  Put16(b, type);
  return b;
}
inline Bytes Vlan(uint16_t vid, uint16_t next_type) {
  Bytes b;
  Put16(b, vid & 0x0fff);
  Put16(b, next_type);
  return b;
}

struct V4Opts {
  uint16_t id = 0x1234;
  bool more = false;
  uint32_t frag_offset = 0;  // bytes, multiple of 8
  uint8_t options_words = 0; // extra 4-byte words of NOP options
  bool bad_checksum = false;
  uint16_t total_override = 0;
};

inline Bytes Ipv4(uint8_t proto, const Bytes& payload, V4Opts o = {},
                  const uint8_t* src = kV4A, const uint8_t* dst = kV4B) {
  Bytes h;
  uint32_t hl = 20 + 4u * o.options_words;
  h.push_back(uint8_t(0x40 | (hl / 4)));
  h.push_back(0);
  Put16(h, o.total_override ? o.total_override : uint16_t(hl + payload.size()));
  Put16(h, o.id);
  Put16(h, uint16_t((o.more ? 0x2000 : 0) | (o.frag_offset / 8)));
  h.push_back(64);
  h.push_back(proto);
  Put16(h, 0);
  h.insert(h.end(), src, src + 4);
  h.insert(h.end(), dst, dst + 4);
  for (int i = 0; i < 4 * o.options_words; ++i) h.push_back(1);  // NOP
  uint16_t ck = uint16_t(~NaiveSum(h));
  if (o.bad_checksum) ck ^= 0x5a5a;
  h[10] = uint8_t(ck >> 8);
  h[11] = uint8_t(ck);
  return Cat(h, payload);
}

inline Bytes Ipv6(uint8_t next, const Bytes& payload, const uint8_t* src = kV6A,
                  const uint8_t* dst = kV6B) {
  Bytes h = {0x60, 0, 0, 0};
  Put16(h, uint16_t(payload.size()));
  h.push_back(next);
  h.push_back(64);
  h.insert(h.end(), src, src + 16);
  h.insert(h.end(), dst, dst + 16);
  return Cat(h, payload);
}

// An 8-byte extension header (hop-by-hop, destination options, routing).
inline Bytes Ext8(uint8_t next) { return {next, 0, 1, 4, 0, 0, 0, 0}; }

// Pseudo-header sums for UDP/TCP checksums.
inline uint32_t Pseudo4(uint8_t proto, size_t len, const uint8_t* src = kV4A,
                        const uint8_t* dst = kV4B) {
  Bytes p(src, src + 4);
  p.insert(p.end(), dst, dst + 4);
  p.push_back(0);
  p.push_back(proto);
  Put16(p, uint16_t(len));
  return NaiveSum(p);
}
inline uint32_t Pseudo6(uint8_t proto, size_t len, const uint8_t* src = kV6A,
                        const uint8_t* dst = kV6B) {
  Bytes p(src, src + 16);
  p.insert(p.end(), dst, dst + 16);
  Put32(p, uint32_t(len));
  Put32(p, proto);
  return NaiveSum(p);
}

// UDP with its checksum for the given pseudo-header sum (pseudo = -1: checksum 0).
inline Bytes Udp(uint16_t sport, uint16_t dport, const Bytes& payload, int64_t pseudo) {
  Bytes u;
  Put16(u, sport);
  Put16(u, dport);
  Put16(u, uint16_t(8 + payload.size()));
  Put16(u, 0);
  u = Cat(u, payload);
  if (pseudo >= 0) {
    uint16_t ck = uint16_t(~NaiveSum(u, uint32_t(pseudo)));
    if (ck == 0) ck = 0xffff;
    u[6] = uint8_t(ck >> 8);
    u[7] = uint8_t(ck);
  }
  return u;
}
inline Bytes Udp4(uint16_t sport, uint16_t dport, const Bytes& payload) {
  return Udp(sport, dport, payload, Pseudo4(17, 8 + payload.size()));
}
inline Bytes Udp6(uint16_t sport, uint16_t dport, const Bytes& payload) {
  return Udp(sport, dport, payload, Pseudo6(17, 8 + payload.size()));
}

inline Bytes Tcp4(uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
                  const Bytes& payload) {
  Bytes t;
  Put16(t, sport);
  Put16(t, dport);
  Put32(t, seq);
  Put32(t, ack);
  t.push_back(0x50);
  t.push_back(flags);
  Put16(t, 65535);
  Put16(t, 0);
  Put16(t, 0);
  t = Cat(t, payload);
  uint16_t ck = uint16_t(~NaiveSum(t, Pseudo4(6, t.size())));
  t[16] = uint8_t(ck >> 8);
  t[17] = uint8_t(ck);
  return t;
}

// A 172-byte RTP packet (12-byte header + 160 bytes of G.711).
inline Bytes Rtp(uint16_t seq = 1) {
  Bytes r = {0x80, 0x00};
  Put16(r, seq);
  Put32(r, 160u * seq);
  Put32(r, 0x11223344);
  Bytes pl = Pattern(160, uint8_t(seq));
  return Cat(r, pl);
}

// Ethernet + IPv4 + UDP + RTP: the 214-byte frame of the benchmark.
inline Bytes RtpFrame(uint16_t seq = 1) {
  return Cat(Ether(0x0800), Ipv4(17, Udp4(16384, 16386, Rtp(seq))));
}

}  // namespace callvault::decode::testing

#endif  // CALLVAULT_APPLIANCE_DECODE_TEST_FRAMES_H_
