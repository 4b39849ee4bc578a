#include "appliance/pipeline/media_bus.h"

#include <algorithm>

namespace callvault {

std::string_view BusKindName(BusKind k) {
  switch (k) {
    case BusKind::kSession: return "session";
    case BusKind::kLegReport: return "leg";
    case BusKind::kActivity: return "activity";
    case BusKind::kSip: return "sip";
    case BusKind::kCount: break;
  }
  return "unknown";
}

BusSip BusSip::CopyOf(const sip::TransportMessage& tm, uint64_t seq) {
  BusSip s;
  s.seq = seq;
  std::size_t total = tm.bytes.size();
  for (const Frame& f : tm.frames) total += f.caplen;
  s.bytes.reserve(total);
  s.bytes.assign(tm.bytes.begin(), tm.bytes.end());
  s.message_len = uint32_t(tm.bytes.size());
  s.frames.reserve(tm.frames.size());
  for (const Frame& f : tm.frames) {
    Frame c = f;
    c.data = s.bytes.data() + s.bytes.size();  // no reallocation: reserved above
    s.bytes.insert(s.bytes.end(), f.data, f.data + f.caplen);
    s.frames.push_back(c);
  }
  s.transport = tm.transport;
  s.src = tm.src;
  s.dst = tm.dst;
  s.first_ts_ns = tm.first_ts_ns;
  s.last_ts_ns = tm.last_ts_ns;
  s.segments = tm.segments;
  return s;
}

sip::TransportMessage BusSip::View() const {
  sip::TransportMessage tm;
  tm.bytes = std::span<const uint8_t>(bytes.data(), message_len);
  tm.transport = transport;
  tm.src = src;
  tm.dst = dst;
  tm.first_ts_ns = first_ts_ns;
  tm.last_ts_ns = last_ts_ns;
  tm.segments = segments;
  tm.frames = frames;
  return tm;
}

MediaBus::MediaBus(unsigned workers, size_t capacity_per_queue)
    : workers_(std::max(workers, 1u)) {
  size_t cap = 2;
  while (cap < capacity_per_queue) cap <<= 1;
  mask_ = cap - 1;
  queues_ = std::make_unique<Queue[]>(size_t(workers_) * workers_);
  dest_ = std::make_unique<Dest[]>(workers_);
  acked_ = std::make_unique<Acked[]>(workers_);
  for (unsigned from = 0; from < workers_; ++from) {
    for (unsigned to = 0; to < workers_; ++to) {
      if (from != to) queue(from, to).slots = std::make_unique<Slot[]>(cap);
    }
  }
}

MediaBus::~MediaBus() = default;

bool MediaBus::Send(unsigned from, unsigned to, BusMessage&& msg) {
  if (from >= workers_ || to >= workers_ || from == to) return false;
  Queue& q = queue(from, to);
  const uint64_t tail = q.tail.load(std::memory_order_relaxed);
  if (tail - q.head_seen > mask_) {
    q.head_seen = q.head.load(std::memory_order_acquire);
    if (tail - q.head_seen > mask_) return false;  // full
  }
  q.slots[tail & mask_].msg = std::move(msg);
  q.slots[tail & mask_].msg.from = from;
  q.tail.store(tail + 1, std::memory_order_release);
  dest_[to].posted.fetch_add(1, std::memory_order_release);
  return true;
}

}  // namespace callvault
