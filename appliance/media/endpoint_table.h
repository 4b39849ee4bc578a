// EndpointTable: media endpoint (IP, UDP port) -> where its packets belong.
//
// One per worker. Open addressing with linear probing over a power-of-two array sized
// once from config (MediaConfig.max_legs); Find() is the per-packet lookup (no heap, no
// locks). Insert/Erase run when signalling publishes media (control events applied on
// the worker between bursts) or when an orphan/latched endpoint is learned; they never
// allocate either: a full table refuses the insert (the caller counts it). Deletion is
// backward-shift (no tombstones), so lookups stay short under churn. A slot is 32 B (key,
// binding, live flag: two per cache line); the burst path hashes a key once (Hash), then
// Prefetch()es its home slot and Find()s it with the same hash.
#ifndef CALLVAULT_APPLIANCE_MEDIA_ENDPOINT_TABLE_H_
#define CALLVAULT_APPLIANCE_MEDIA_ENDPOINT_TABLE_H_

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <type_traits>

#include "appliance/common/net_types.h"

namespace callvault::media {

// What a bound endpoint means: packets TO it are received by `side` of stream `stream`
// of session `session`; packets FROM it are (symmetric RTP, RFC 4961) sent by that side.
struct EndpointBinding {
  uint32_t session = 0;
  uint8_t stream = 0;
  uint8_t side = 0;       // the side that announced (or was latched to) this endpoint
  uint8_t rtcp = 0;       // 1: the a=rtcp / port+1 endpoint (RFC 3550 §11); 0: RTP port
  uint8_t learned = 0;    // 1: latched from traffic (NAT) or orphan, not from SDP
};

// Endpoint equality as two 8-byte loads and the port (operator== of the array compiles to
// a memcmp call; this is the per-packet key compare).
inline bool SameEndpoint(const Endpoint& a, const Endpoint& b) {
  uint64_t a0, a1, b0, b1;
  std::memcpy(&a0, a.ip.bytes.data(), 8);
  std::memcpy(&a1, a.ip.bytes.data() + 8, 8);
  std::memcpy(&b0, b.ip.bytes.data(), 8);
  std::memcpy(&b1, b.ip.bytes.data() + 8, 8);
  return ((a0 ^ b0) | (a1 ^ b1)) == 0 && a.port == b.port;
}

class EndpointTable {
 public:
  // Room for at least `max_entries` live endpoints at <= 50 % load.
  explicit EndpointTable(std::size_t max_entries);

  static uint64_t Hash(const Endpoint& e) { return HashEndpoint(e); }
  const EndpointBinding* Find(const Endpoint& e) const { return Find(e, Hash(e)); }
  // Inline: the per-packet lookup (the hot path is in another translation unit).
  const EndpointBinding* Find(const Endpoint& e, uint64_t hash) const {
    std::size_t i = hash & mask_;
    for (std::size_t probes = 0; probes <= mask_; ++probes, i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (!s.live) return nullptr;
      if (SameEndpoint(s.key, e)) return &s.value;
    }
    return nullptr;
  }
  void Prefetch(uint64_t hash) const { __builtin_prefetch(&slots_[hash & mask_]); }
  // Inserts or replaces. False when the table is at its configured capacity.
  bool Insert(const Endpoint& e, const EndpointBinding& b);
  // Removes `e` only if it is bound to `session` (a newer session may own it now).
  bool Erase(const Endpoint& e, uint32_t session);
  std::size_t size() const { return live_; }
  std::size_t capacity() const { return max_live_; }

 private:
  struct Slot {
    Endpoint key;
    EndpointBinding value;
    bool live = false;
  };
  static_assert(sizeof(Slot) == 32, "two slots per cache line");
  // The array comes from calloc: all-zero bytes are an empty slot, and the kernel's zero
  // pages stay untouched (not resident, not written at start-up) until an entry lands.
  static_assert(std::is_trivially_copyable_v<Slot> && std::is_trivially_destructible_v<Slot>);
  struct Free {
    void operator()(Slot* p) const { std::free(p); }
  };

  std::unique_ptr<Slot[], Free> slots_;
  std::size_t mask_ = 0;
  std::size_t live_ = 0;
  std::size_t max_live_ = 0;
};

}  // namespace callvault::media

#endif  // CALLVAULT_APPLIANCE_MEDIA_ENDPOINT_TABLE_H_
