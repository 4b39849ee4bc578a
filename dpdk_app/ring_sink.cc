#include "dpdk_app/ring_sink.h"

#include <chrono>
#include <thread>
#include <utility>

namespace callvault::dpdk {

absl::StatusOr<std::unique_ptr<RingSink>> RingSink::Create(const std::string& name,
                                                           uint32_t size, int socket,
                                                           uint64_t max_bytes) {
  return Make(name, size, socket, max_bytes, /*local=*/false);
}

absl::StatusOr<std::unique_ptr<RingSink>> RingSink::CreateLocal(const std::string& name,
                                                                uint32_t size,
                                                                uint64_t max_bytes) {
  return Make(name, size, /*socket=*/0, max_bytes, /*local=*/true);
}

absl::StatusOr<std::unique_ptr<RingSink>> RingSink::Make(const std::string& name,
                                                         uint32_t size, int socket,
                                                         uint64_t max_bytes, bool local) {
  // rte_ring names are process-wide and short: number them.
  static std::atomic<unsigned> next_id{0};
  unsigned id = next_id.fetch_add(1);
  std::unique_ptr<RingSink> s(new RingSink());
  s->name_ = name;
  s->max_bytes_ = max_bytes;
  auto make = [&](const std::string& ring_name) {
    return local ? DpdkRing<SinkMessage>::CreateLocal(ring_name, size)
                 : DpdkRing<SinkMessage>::Create(ring_name, size, socket);
  };
  auto to = make(fmt::format("cv_snk{}", id));
  if (!to.ok()) return to.status();
  auto fr = make(fmt::format("cv_fre{}", id));
  if (!fr.ok()) return fr.status();
  s->to_writer_ = std::move(*to);
  s->free_ = std::move(*fr);
  s->storage_.reserve(size);
  s->stack_.reserve(size);
  // The stack is LIFO: message 0 on top, so a light load cycles through a few messages.
  for (uint32_t i = 0; i < size; ++i) s->storage_.push_back(std::make_unique<SinkMessage>());
  for (uint32_t i = size; i-- > 0;) s->stack_.push_back(s->storage_[i].get());
  return s;
}

void RingSink::Reclaim() {
  SinkMessage* batch[32];
  for (;;) {
    unsigned n = free_->DequeueBurst(batch, 32);
    for (unsigned i = 0; i < n; ++i) stack_.push_back(batch[i]);  // capacity: the pool
    if (n < 32) return;
  }
}

SinkMessage* RingSink::Take() {
  Reclaim();
  while (stack_.empty()) {
    if (!wait_when_full_) {
      to_writer_->CountFull();  // every message is in flight: the writer is behind
      return nullptr;
    }
    std::this_thread::yield();
    Reclaim();
  }
  SinkMessage* m = stack_.back();
  stack_.pop_back();
  if (!m->touched) {
    m->touched = true;
    ++used_;
  }
  return m;
}

bool RingSink::Send(SinkMessage* m) {
  if (to_writer_->Enqueue(m)) return true;
  // Cannot happen: the ring holds the whole pool. Keep the message for next time.
  stack_.push_back(m);
  return false;
}

bool RingSink::Push(PlainBlock&& block) {
  uint64_t cap = block.payload.capacity();
  while (max_bytes_ != 0 && inflight_bytes() + cap > max_bytes_ && inflight_bytes() != 0) {
    if (!wait_when_full_) {
      to_writer_->CountFull();  // the writer is behind by more than the byte budget
      return false;
    }
    std::this_thread::yield();
  }
  SinkMessage* m = Take();
  if (m == nullptr) return false;
  m->kind = SinkMessage::Kind::kBlock;
  m->charged = cap;
  m->block.info = block.info;
  // The message may hold a buffer the writer returned: give it to the caller.
  std::swap(m->block.payload, block.payload);
  if (!Send(m)) {
    std::swap(m->block.payload, block.payload);
    return false;
  }
  sent_bytes_ += cap;
  const uint64_t inflight = inflight_bytes();
  if (inflight > bytes_peak_.load(std::memory_order_relaxed)) {
    bytes_peak_.store(inflight, std::memory_order_relaxed);
  }
  return true;
}

void RingSink::SendCall(SinkMessage::Kind kind, const CallRecord& call) {
  SinkMessage* m = Take();
  if (m == nullptr) return;
  m->kind = kind;
  m->charged = 0;
  m->call = call;
  (void)Send(m);
}

void RingSink::OnCallStarted(const CallRecord& call) {
  SendCall(SinkMessage::Kind::kCallStarted, call);
}
void RingSink::OnCallUpdated(const CallRecord& call) {
  SendCall(SinkMessage::Kind::kCallUpdated, call);
}
void RingSink::OnCallEnded(const CallRecord& call) {
  SendCall(SinkMessage::Kind::kCallEnded, call);
}

size_t RingSink::Drain(PipelineSink* downstream, size_t max) {
  size_t done = 0;
  SinkMessage* batch[32];
  uint64_t returned = 0;
  while (done < max) {
    unsigned n = to_writer_->DequeueBurst(batch, 32);
    if (n == 0) break;
    for (unsigned i = 0; i < n; ++i) {
      SinkMessage* m = batch[i];
      if (downstream != nullptr) {
        switch (m->kind) {
          case SinkMessage::Kind::kBlock:
            (void)downstream->Push(std::move(m->block));
            break;
          case SinkMessage::Kind::kCallStarted:
            downstream->OnCallStarted(m->call);
            break;
          case SinkMessage::Kind::kCallUpdated:
            downstream->OnCallUpdated(m->call);
            break;
          case SinkMessage::Kind::kCallEnded:
            downstream->OnCallEnded(m->call);
            break;
        }
      }
      // The store writer seals from the payload and leaves the buffer in place: it
      // travels back to the worker's pool with the message (see the header).
      m->block.payload.clear();
      returned += m->charged;
      m->charged = 0;
      // The free ring holds the whole pool: this cannot fail.
      (void)free_->Enqueue(m);
    }
    done += n;
  }
  if (returned != 0) {
    returned_bytes_.store(returned_bytes_.load(std::memory_order_relaxed) + returned,
                          std::memory_order_release);
  }
  return done;
}

void RingSink::FillCounters(RingCounters* out) const {
  out->name = name_;
  out->enqueued = to_writer_->enqueued();
  out->full_drops = to_writer_->full_drops();
  out->in_use = to_writer_->count();
  out->bytes_peak = bytes_peak_.load(std::memory_order_relaxed);
}

void DrainUntilDone(std::span<RingSink* const> rings, PipelineSink* downstream,
                    uint32_t tick_ms, const std::function<void()>& tick,
                    const std::function<bool()>& done) {
  using Clock = std::chrono::steady_clock;
  const auto period = std::chrono::milliseconds(tick_ms);
  auto next_tick = Clock::now() + period;
  for (;;) {
    size_t handled = 0;
    for (RingSink* r : rings) handled += r->Drain(downstream, 256);
    if (tick) {
      const auto now = Clock::now();
      if (now >= next_tick) {
        next_tick = now + period;
        tick();
      }
    }
    if (handled > 0) continue;
    if (done()) {
      for (RingSink* r : rings) {
        while (r->Drain(downstream, 1024) > 0) {
        }
      }
      return;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

}  // namespace callvault::dpdk
