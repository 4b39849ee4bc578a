// DpdkRing<T>: a typed rte_ring of T* between two threads (normally one worker lcore ->
// the writer thread: single producer, single consumer).
//
// Create() makes an EAL ring (rte_ring_create: needs rte_eal_init, NUMA-placed memory);
// CreateLocal() builds the same ring in ordinary process memory with rte_ring_init, which
// needs no EAL: the libpcap capture path of callvaultd uses it between its capture and
// writer threads.
//
// Ownership: Enqueue() hands the pointer over only when it returns true; on false the
// caller still owns it. A full ring is a counted drop (full_drops(), shown as
// "ring_full:<name>"), never a wait: the RX loop must not stall. Thread: Enqueue() from
// the one producer, Dequeue*() from the one consumer; counters readable from anywhere.
#ifndef CALLVAULT_DPDK_APP_DPDK_RING_H_
#define CALLVAULT_DPDK_APP_DPDK_RING_H_

#include <rte_errno.h>
#include <rte_ring.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "absl/status/statusor.h"

namespace callvault::dpdk {

template <typename T>
class DpdkRing {
 public:
  // `size` entries exactly (RING_F_EXACT_SZ). `name` must be unique in the process and
  // short (rte_ring names are at most RTE_RING_NAMESIZE-1 characters).
  static absl::StatusOr<std::unique_ptr<DpdkRing>> Create(const std::string& name, uint32_t size,
                                                          int socket) {
    rte_ring* r = rte_ring_create(name.c_str(), size, socket,
                                  RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ);
    if (r == nullptr) {
      return absl::ResourceExhaustedError(
          fmt::format("ring {} ({} entries): {}", name, size, rte_strerror(rte_errno)));
    }
    return std::unique_ptr<DpdkRing>(new DpdkRing(name, r));
  }

  static absl::StatusOr<std::unique_ptr<DpdkRing>> CreateLocal(const std::string& name,
                                                               uint32_t size) {
    // RING_F_EXACT_SZ: `size` usable entries in a ring of the next power of two above it.
    const ssize_t exact = rte_ring_get_memsize(rte_align32pow2(size + 1));
    if (exact < 0) {
      return absl::InvalidArgumentError(fmt::format("ring {}: bad size {}", name, size));
    }
    const std::size_t alloc = (std::size_t(exact) + 63) / 64 * 64;
    void* mem = std::aligned_alloc(64, alloc);
    if (mem == nullptr) {
      return absl::ResourceExhaustedError(fmt::format("ring {} ({} entries)", name, size));
    }
    rte_ring* r = static_cast<rte_ring*>(mem);
    if (rte_ring_init(r, name.c_str(), size,
                      RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ) != 0) {
      std::free(mem);
      return absl::InvalidArgumentError(fmt::format("ring {}: init failed", name));
    }
    auto out = std::unique_ptr<DpdkRing>(new DpdkRing(name, r));
    out->local_ = true;
    return out;
  }

  ~DpdkRing() {
    if (local_) {
      std::free(ring_);
    } else {
      rte_ring_free(ring_);
    }
  }
  DpdkRing(const DpdkRing&) = delete;
  DpdkRing& operator=(const DpdkRing&) = delete;

  // Producer. False (and one ring_full drop counted) when the ring is full.
  bool Enqueue(T* item) {
    if (rte_ring_sp_enqueue(ring_, item) == 0) {
      Bump(enqueued_);
      return true;
    }
    Bump(full_drops_);
    return false;
  }
  // Producer: counts a drop that happened for want of ring space elsewhere (e.g. no free
  // message to fill), so that it is reported under this ring's name.
  void CountFull() { Bump(full_drops_); }

  // Consumer.
  bool Dequeue(T** out) {
    void* p = nullptr;
    if (rte_ring_sc_dequeue(ring_, &p) != 0) return false;
    *out = static_cast<T*>(p);
    return true;
  }
  unsigned DequeueBurst(T** out, unsigned n) {
    return rte_ring_sc_dequeue_burst(ring_, reinterpret_cast<void**>(out), n, nullptr);
  }

  const std::string& name() const { return name_; }
  unsigned count() const { return rte_ring_count(ring_); }
  unsigned capacity() const { return rte_ring_get_capacity(ring_); }
  uint64_t enqueued() const { return enqueued_.load(std::memory_order_relaxed); }
  uint64_t full_drops() const { return full_drops_.load(std::memory_order_relaxed); }

 private:
  DpdkRing(std::string name, rte_ring* r) : name_(std::move(name)), ring_(r) {}
  static void Bump(std::atomic<uint64_t>& c) {
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

  std::string name_;
  rte_ring* ring_;
  bool local_ = false;  // CreateLocal(): our memory, not an EAL ring
  alignas(64) std::atomic<uint64_t> enqueued_{0};  // written by the producer only
  std::atomic<uint64_t> full_drops_{0};
};

}  // namespace callvault::dpdk

#endif  // CALLVAULT_DPDK_APP_DPDK_RING_H_
