// SlotArray<T>: a fixed-capacity array of T for slot pools sized by configuration
// (media legs and sessions, TCP streams: `max_legs`, `tcp_max_connections`), whose
// memory is reserved up front but touched only as slots are first used.
//
// The storage is one anonymous private mapping of capacity x sizeof(T) (page aligned, so
// any alignas(T) up to a page holds); the kernel gives it pages only when written. An
// element exists once Ensure(i) has constructed every element up to i; indexing is a
// plain pointer access (operator[] does no check: the hot path pays nothing for this).
// The pools using it hand out the lowest free index first (free lists filled highest
// index first, LIFO), so the slots ever used are a prefix and Ensure() constructs at most
// one new element per allocation. Start-up then costs nothing per slot, and the resident
// memory is what the traffic needed, not max_legs x sizeof(T) (the design's fixed pools
// stay bounded by the same capacity).
//
// Thread: none of its own (the owner's). Errors: the constructor throws std::bad_alloc
// when the mapping fails (start-up only); Ensure() never fails for i < capacity().
#ifndef CALLVAULT_APPLIANCE_COMMON_SLOT_ARRAY_H_
#define CALLVAULT_APPLIANCE_COMMON_SLOT_ARRAY_H_

#include <sys/mman.h>

#include <cstddef>
#include <new>
#include <utility>

namespace callvault {

template <typename T>
class SlotArray {
 public:
  SlotArray() = default;
  explicit SlotArray(std::size_t capacity) { Reset(capacity); }
  ~SlotArray() { Release(); }
  SlotArray(const SlotArray&) = delete;
  SlotArray& operator=(const SlotArray&) = delete;

  // Drops every element and reserves room for `capacity` (none constructed yet).
  void Reset(std::size_t capacity) {
    Release();
    if (capacity == 0) return;
    void* p = ::mmap(nullptr, capacity * sizeof(T), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    data_ = static_cast<T*>(p);
    capacity_ = capacity;
  }

  // Constructs (value-initialises) every element up to and including i.
  void Ensure(std::size_t i) {
    while (constructed_ <= i) {
      ::new (static_cast<void*>(data_ + constructed_)) T();
      ++constructed_;
    }
  }

  T& operator[](std::size_t i) { return data_[i]; }
  const T& operator[](std::size_t i) const { return data_[i]; }
  T* data() { return data_; }
  const T* data() const { return data_; }
  std::size_t capacity() const { return capacity_; }
  std::size_t constructed() const { return constructed_; }

 private:
  void Release() {
    for (std::size_t i = 0; i < constructed_; ++i) data_[i].~T();
    if (data_ != nullptr) ::munmap(data_, capacity_ * sizeof(T));
    data_ = nullptr;
    capacity_ = 0;
    constructed_ = 0;
  }

  T* data_ = nullptr;
  std::size_t capacity_ = 0;
  std::size_t constructed_ = 0;
};

}  // namespace callvault

#endif  // CALLVAULT_APPLIANCE_COMMON_SLOT_ARRAY_H_
