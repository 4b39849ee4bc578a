#include "tests/tools/pcap_split/rss_hash.h"

#include <array>
#include <cstring>

namespace callvault::pcapsplit {
namespace {

constexpr size_t kKeyBytes = 52;  // enough for IPv6 with ports (36 bytes + 4)

constexpr std::array<uint8_t, kKeyBytes> MakeSymmetricKey() {
  std::array<uint8_t, kKeyBytes> k{};
  for (size_t i = 0; i < kKeyBytes; i += 2) {
    k[i] = 0x6d;
    k[i + 1] = 0x5a;
  }
  return k;
}
constexpr std::array<uint8_t, kKeyBytes> kSymmetricKey = MakeSymmetricKey();

uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

// Link-layer header -> (ethertype, offset of the network header); false if not IP.
bool NetworkStart(int dlt, std::span<const uint8_t> f, uint16_t* type, size_t* off) {
  switch (dlt) {
    case 1: {  // DLT_EN10MB
      if (f.size() < 14) return false;
      size_t o = 12;
      uint16_t t = Be16(&f[o]);
      while (t == 0x8100 || t == 0x88a8 || t == 0x9100) {
        o += 4;
        if (f.size() < o + 2) return false;
        t = Be16(&f[o]);
      }
      *type = t;
      *off = o + 2;
      return true;
    }
    case 113:  // DLT_LINUX_SLL: protocol at 14, header 16 bytes
      if (f.size() < 16) return false;
      *type = Be16(&f[14]);
      *off = 16;
      return true;
    case 276:  // DLT_LINUX_SLL2: protocol at 0, header 20 bytes
      if (f.size() < 20) return false;
      *type = Be16(&f[0]);
      *off = 20;
      return true;
    case 12: case 14: case 101:  // DLT_RAW (per OS), LINKTYPE_RAW: version nibble
    case 228: case 229:          // LINKTYPE_IPV4, LINKTYPE_IPV6
      if (f.empty()) return false;
      *type = (f[0] >> 4) == 6 ? 0x86dd : 0x0800;
      *off = 0;
      return true;
    case 0: case 108: {  // DLT_NULL (host order), DLT_LOOP (network order): AF value
      if (f.size() < 5) return false;
      const uint8_t v = f[4] >> 4;  // the IP version decides (the AF value varies by OS)
      *type = v == 6 ? 0x86dd : 0x0800;
      *off = 4;
      return true;
    }
    default:
      return false;
  }
}

}  // namespace

uint32_t Toeplitz(std::span<const uint8_t> key, std::span<const uint8_t> input) {
  uint32_t result = 0;
  // The 32-bit window of the key that starts at the current input bit.
  uint32_t window = static_cast<uint32_t>(key[0]) << 24 | static_cast<uint32_t>(key[1]) << 16 |
                    static_cast<uint32_t>(key[2]) << 8 | key[3];
  for (size_t i = 0; i < input.size(); ++i) {
    const uint8_t next = i + 4 < key.size() ? key[i + 4] : 0;
    for (int b = 7; b >= 0; --b) {
      if (input[i] & (1u << b)) result ^= window;
      window = window << 1 | ((next >> b) & 1u);
    }
  }
  return result;
}

std::optional<uint32_t> SymmetricRssHash(int dlt, std::span<const uint8_t> f) {
  uint16_t type = 0;
  size_t o = 0;
  if (!NetworkStart(dlt, f, &type, &o)) return std::nullopt;
  uint8_t in[36];
  size_t n = 0;
  size_t l4 = 0;
  uint8_t proto = 0;
  bool ports = false;
  if (type == 0x0800) {
    if (f.size() < o + 20 || (f[o] >> 4) != 4) return std::nullopt;
    const size_t ihl = static_cast<size_t>(f[o] & 0x0f) * 4;
    std::memcpy(in, &f[o + 12], 8);  // src, dst
    n = 8;
    const uint16_t frag = Be16(&f[o + 6]);
    const bool fragment = (frag & 0x2000) != 0 || (frag & 0x1fff) != 0;
    proto = f[o + 9];
    l4 = o + ihl;
    ports = !fragment && (proto == 6 || proto == 17);
  } else if (type == 0x86dd) {
    if (f.size() < o + 40 || (f[o] >> 4) != 6) return std::nullopt;
    std::memcpy(in, &f[o + 8], 32);  // src, dst
    n = 32;
    proto = f[o + 6];
    l4 = o + 40;
    bool fragment = false;
    // Extension headers a NIC walks: hop-by-hop, routing, destination options; a
    // Fragment header makes it a 2-tuple hash.
    while (proto == 0 || proto == 43 || proto == 60 || proto == 44) {
      if (f.size() < l4 + 8) break;
      if (proto == 44) {
        fragment = true;
        break;
      }
      proto = f[l4];
      l4 += (static_cast<size_t>(f[l4 + 1]) + 1) * 8;
    }
    ports = !fragment && (proto == 6 || proto == 17);
  } else {
    return std::nullopt;
  }
  if (ports && f.size() >= l4 + 4) {
    std::memcpy(in + n, &f[l4], 4);  // src port, dst port
    n += 4;
  }
  return Toeplitz(kSymmetricKey, std::span<const uint8_t>(in, n));
}

unsigned RssQueue(std::optional<uint32_t> hash, unsigned queues) {
  if (!hash.has_value() || queues == 0) return 0;
  return (*hash & 127u) % queues;
}

}  // namespace callvault::pcapsplit
