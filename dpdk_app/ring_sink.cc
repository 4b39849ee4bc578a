#include "dpdk_app/ring_sink.h"

#include <atomic>

namespace callvault::dpdk {

absl::StatusOr<std::unique_ptr<RingSink>> RingSink::Create(const std::string& name,
                                                           uint32_t size, int socket) {
  // rte_ring names are process-wide and short: number them.
  static std::atomic<unsigned> next_id{0};
  unsigned id = next_id.fetch_add(1);
  std::unique_ptr<RingSink> s(new RingSink());
  s->name_ = name;
  auto to = DpdkRing<SinkMessage>::Create(fmt::format("cv_snk{}", id), size, socket);
  if (!to.ok()) return to.status();
  auto fr = DpdkRing<SinkMessage>::Create(fmt::format("cv_fre{}", id), size, socket);
  if (!fr.ok()) return fr.status();
  s->to_writer_ = std::move(*to);
  s->free_ = std::move(*fr);
  s->storage_.reserve(size);
  for (uint32_t i = 0; i < size; ++i) {
    s->storage_.push_back(std::make_unique<SinkMessage>());
    if (!s->free_->Enqueue(s->storage_.back().get())) {
      return absl::InternalError(fmt::format("ring {}: free list refused message {}", name, i));
    }
  }
  return s;
}

SinkMessage* RingSink::Take() {
  SinkMessage* m = nullptr;
  if (!free_->Dequeue(&m)) {
    to_writer_->CountFull();  // every message is in flight: the writer is behind
    return nullptr;
  }
  return m;
}

bool RingSink::Send(SinkMessage* m) {
  if (to_writer_->Enqueue(m)) return true;
  // Cannot happen: the ring holds the whole pool. (The message is not put back on the
  // free ring here: only the writer produces into it, and the loss is counted.)
  return false;
}

bool RingSink::Push(PlainBlock&& block) {
  SinkMessage* m = Take();
  if (m == nullptr) return false;
  m->kind = SinkMessage::Kind::kBlock;
  m->block = std::move(block);
  return Send(m);
}

void RingSink::SendCall(SinkMessage::Kind kind, const CallRecord& call) {
  SinkMessage* m = Take();
  if (m == nullptr) return;
  m->kind = kind;
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
      m->block.payload.clear();
      // The free ring holds the whole pool: this cannot fail.
      (void)free_->Enqueue(m);
    }
    done += n;
  }
  return done;
}

void RingSink::FillCounters(RingCounters* out) const {
  out->name = name_;
  out->enqueued = to_writer_->enqueued();
  out->full_drops = to_writer_->full_drops();
  out->in_use = to_writer_->count();
}

}  // namespace callvault::dpdk
