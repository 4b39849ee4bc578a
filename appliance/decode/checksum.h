// Internet checksum (RFC 1071) helpers for the decode fast path.
//
// The one's-complement sum is byte-order independent (RFC 1071 §2(B)): words are added in
// host order 8 bytes at a time and folded at the end. A header or segment that includes
// its own checksum field is valid when the folded sum is 0xffff. Pure functions, no state.
#ifndef CALLVAULT_APPLIANCE_DECODE_CHECKSUM_H_
#define CALLVAULT_APPLIANCE_DECODE_CHECKSUM_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace callvault::decode {

// Adds `n` bytes at `p` to the running 64-bit one's-complement accumulator `sum`.
// `p` must start at an even offset of the checksummed data (all callers do).
// 32-bit halves are added into the 64-bit accumulator, so no carry handling is needed
// inside the loop (2^31 words before it could overflow) and the compiler can vectorise.
inline uint64_t ChecksumAdd(const uint8_t* p, std::size_t n, uint64_t sum) {
  uint64_t s0 = 0, s1 = 0;
  while (n >= 16) {
    uint64_t a, b;
    std::memcpy(&a, p, 8);
    std::memcpy(&b, p + 8, 8);
    s0 += (a & 0xffffffffu) + (a >> 32);
    s1 += (b & 0xffffffffu) + (b >> 32);
    p += 16;
    n -= 16;
  }
  s0 += s1;
  if (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    s0 += (v & 0xffffffffu) + (v >> 32);
    p += 8;
    n -= 8;
  }
  if (n >= 4) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    s0 += v;
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    s0 += v;
    p += 2;
    n -= 2;
  }
  if (n == 1) {
    // The odd byte is the high-order byte of a zero-padded 16-bit word (RFC 1071 §4.1).
    uint8_t pad[2] = {p[0], 0};
    uint16_t v;
    std::memcpy(&v, pad, 2);
    s0 += v;
  }
  // Fold s0 into the running sum with end-around carry.
  sum += s0;
  sum += (sum < s0);
  return sum;
}

// Folds the accumulator to 16 bits (host order).
inline uint16_t ChecksumFold(uint64_t sum) {
  sum = (sum & 0xffffffffull) + (sum >> 32);
  sum = (sum & 0xffffffffull) + (sum >> 32);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

// True when `n` bytes including their checksum field sum to 0xffff.
inline bool ChecksumOk(const uint8_t* p, std::size_t n, uint64_t seed = 0) {
  return ChecksumFold(ChecksumAdd(p, n, seed)) == 0xffff;
}

// Seed for a UDP/TCP checksum: the pseudo-header of RFC 768 / RFC 793 §3.1 (IPv4) or
// RFC 8200 §8.1 (IPv6): source and destination addresses, protocol, upper-layer length.
inline uint64_t PseudoHeaderSum(const uint8_t* src, const uint8_t* dst, std::size_t addr_len,
                                uint8_t proto, uint32_t l4_len) {
  uint64_t sum = ChecksumAdd(src, addr_len, 0);
  sum = ChecksumAdd(dst, addr_len, sum);
  uint8_t tail[8] = {uint8_t(l4_len >> 24), uint8_t(l4_len >> 16), uint8_t(l4_len >> 8),
                     uint8_t(l4_len),       0, 0, 0, proto};
  return ChecksumAdd(tail, 8, sum);
}

// The value to store (with memcpy, host order like the summation) in a checksum field
// that was zero during the summation, so that the covered bytes verify.
inline uint16_t ChecksumComplement(uint64_t sum) {
  return static_cast<uint16_t>(~ChecksumFold(sum));
}

}  // namespace callvault::decode

#endif  // CALLVAULT_APPLIANCE_DECODE_CHECKSUM_H_
