// Named drop counters.
//
// Every layer declares its drop reasons as `enum class XxxDrop : uint8_t { ..., kCount }`
// with a name function `std::string_view DropName(XxxDrop)` beside it. A packet that is
// not recorded increments exactly one reason. Counters are plain integers owned by one
// thread (per lcore); the control thread sums copies of them (Add()).
#ifndef CALLVAULT_APPLIANCE_COMMON_COUNTERS_H_
#define CALLVAULT_APPLIANCE_COMMON_COUNTERS_H_

#include <array>
#include <cstddef>
#include <cstdint>

namespace callvault {

template <typename Enum>
struct DropCounters {
  static constexpr std::size_t kSize = static_cast<std::size_t>(Enum::kCount);
  std::array<uint64_t, kSize> value{};

  void Inc(Enum reason, uint64_t n = 1) { value[static_cast<std::size_t>(reason)] += n; }
  uint64_t operator[](Enum reason) const { return value[static_cast<std::size_t>(reason)]; }
  uint64_t Total() const {
    uint64_t t = 0;
    for (uint64_t v : value) t += v;
    return t;
  }
  void Add(const DropCounters& other) {
    for (std::size_t i = 0; i < kSize; ++i) value[i] += other.value[i];
  }
  // Calls fn(Enum, count) for every reason, zero or not, in declaration order.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (std::size_t i = 0; i < kSize; ++i) fn(static_cast<Enum>(i), value[i]);
  }
};

}  // namespace callvault

#endif  // CALLVAULT_APPLIANCE_COMMON_COUNTERS_H_
