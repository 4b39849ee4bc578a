#include "appliance/media/endpoint_table.h"

#include <new>

namespace callvault::media {

EndpointTable::EndpointTable(std::size_t max_entries) {
  std::size_t n = 16;
  while (n < max_entries * 2) n <<= 1;
  slots_.reset(static_cast<Slot*>(std::calloc(n, sizeof(Slot))));
  if (slots_ == nullptr) throw std::bad_alloc();
  mask_ = n - 1;
  max_live_ = max_entries;
}

bool EndpointTable::Insert(const Endpoint& e, const EndpointBinding& b) {
  std::size_t i = HashEndpoint(e) & mask_;
  for (std::size_t probes = 0; probes <= mask_; ++probes, i = (i + 1) & mask_) {
    Slot& s = slots_[i];
    if (!s.live) break;
    if (s.key == e) {
      s.value = b;
      return true;
    }
  }
  if (live_ >= max_live_) return false;
  Slot& s = slots_[i];
  s.key = e;
  s.value = b;
  s.live = true;
  ++live_;
  return true;
}

bool EndpointTable::Erase(const Endpoint& e, uint32_t session) {
  std::size_t i = HashEndpoint(e) & mask_;
  for (std::size_t probes = 0; probes <= mask_; ++probes, i = (i + 1) & mask_) {
    Slot& s = slots_[i];
    if (!s.live) return false;
    if (s.key == e) {
      if (s.value.session != session) return false;
      // Backward-shift deletion (Knuth 6.4 algorithm R): no tombstones, probes stay short.
      std::size_t hole = i;
      for (std::size_t j = (hole + 1) & mask_;; j = (j + 1) & mask_) {
        if (!slots_[j].live) break;
        std::size_t home = HashEndpoint(slots_[j].key) & mask_;
        // Move j into the hole unless its home lies cyclically in (hole, j].
        bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (stays) continue;
        slots_[hole] = slots_[j];
        hole = j;
      }
      slots_[hole].live = false;
      --live_;
      return true;
    }
  }
  return false;
}

}  // namespace callvault::media
