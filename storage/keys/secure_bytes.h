// SecureBytes: a fixed-size buffer for key material in libsodium guarded memory
// (sodium_malloc: guard pages, mlock'd, wiped by sodium_free). DekPool: slabs of 32-byte
// data keys in the same memory, so thousands of active calls do not each cost a mapping.
//
// Thread: a SecureBytes is owned by one object; DekPool is used by one thread (the writer).
// Never copy key material out of these buffers except into another SecureBytes or AEAD
// calls; wipe stack copies with sodium_memzero.
#ifndef CALLVAULT_STORAGE_KEYS_SECURE_BYTES_H_
#define CALLVAULT_STORAGE_KEYS_SECURE_BYTES_H_

#include <sodium.h>

#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>
#include <vector>

namespace callvault {

inline constexpr std::size_t kKeyBytes = 32;

class SecureBytes {
 public:
  SecureBytes() = default;
  explicit SecureBytes(std::size_t n) : n_(n) {
    p_ = static_cast<uint8_t*>(sodium_malloc(n == 0 ? 1 : n));
    if (p_ == nullptr) throw std::bad_alloc();  // start-up/control path only
    sodium_memzero(p_, n);
  }
  ~SecureBytes() { Reset(); }
  SecureBytes(SecureBytes&& o) noexcept : p_(std::exchange(o.p_, nullptr)), n_(o.n_) {}
  SecureBytes& operator=(SecureBytes&& o) noexcept {
    if (this != &o) {
      Reset();
      p_ = std::exchange(o.p_, nullptr);
      n_ = o.n_;
    }
    return *this;
  }
  SecureBytes(const SecureBytes&) = delete;
  SecureBytes& operator=(const SecureBytes&) = delete;

  uint8_t* data() { return p_; }
  const uint8_t* data() const { return p_; }
  std::size_t size() const { return n_; }
  bool empty() const { return p_ == nullptr; }

 private:
  void Reset() {
    if (p_ != nullptr) sodium_free(p_);  // sodium_free wipes before unmapping
    p_ = nullptr;
  }
  uint8_t* p_ = nullptr;
  std::size_t n_ = 0;
};

// Fixed 32-byte slots in guarded slabs; Release() wipes the slot.
class DekPool {
 public:
  static constexpr std::size_t kSlotsPerSlab = 1024;
  uint8_t* Acquire() {
    if (free_.empty()) {
      slabs_.emplace_back(kSlotsPerSlab * kKeyBytes);
      uint8_t* base = slabs_.back().data();
      for (std::size_t i = kSlotsPerSlab; i-- > 0;) free_.push_back(base + i * kKeyBytes);
    }
    uint8_t* p = free_.back();
    free_.pop_back();
    return p;
  }
  void Release(uint8_t* p) {
    sodium_memzero(p, kKeyBytes);
    free_.push_back(p);
  }

 private:
  std::vector<SecureBytes> slabs_;
  std::vector<uint8_t*> free_;
};

}  // namespace callvault

#endif  // CALLVAULT_STORAGE_KEYS_SECURE_BYTES_H_
