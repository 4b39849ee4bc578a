#include "appliance/media/block_builder.h"

#include <utility>

#include "appliance/common/frame_record.h"

namespace callvault::media {
namespace {

void Reserve(std::vector<std::vector<uint8_t>>& list, std::size_t n, std::size_t bytes) {
  list.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<uint8_t> b;
    b.reserve(bytes);
    list.push_back(std::move(b));
  }
}

std::vector<uint8_t> TakeFrom(std::vector<std::vector<uint8_t>>& list, std::size_t bytes,
                              uint64_t* misses) {
  if (list.empty()) {
    ++*misses;
    std::vector<uint8_t> b;
    b.reserve(bytes);
    return b;
  }
  std::vector<uint8_t> b = std::move(list.back());
  list.pop_back();
  return b;
}

}  // namespace

BufferPool::BufferPool(std::size_t buffers, std::size_t buffer_bytes)
    : bytes_(buffer_bytes < kSmallBytes ? kSmallBytes : buffer_bytes) {
  Reserve(free_, buffers, bytes_);
  Reserve(small_, buffers, kSmallBytes);
}

std::vector<uint8_t> BufferPool::Take() { return TakeFrom(free_, bytes_, &misses_); }

std::vector<uint8_t> BufferPool::TakeSmall() { return TakeFrom(small_, kSmallBytes, &misses_); }

void BufferPool::Recycle(std::vector<uint8_t>&& buf) {
  std::vector<std::vector<uint8_t>>* list = nullptr;
  if (buf.capacity() >= bytes_) {
    list = &free_;
  } else if (buf.capacity() >= kSmallBytes) {
    list = &small_;
  }
  if (list == nullptr || list->size() == list->capacity()) return;  // let it go
  buf.clear();
  list->push_back(std::move(buf));
}

void BlockBuilder::Reset(const BlockInfo& identity) {
  info_ = identity;
  info_.seq = 0;
  info_.frames = 0;
  info_.first_ts_ns = info_.last_ts_ns = 0;
}

bool BlockBuilder::Flush(BufferPool& pool, BlockSink& sink, uint32_t* refused_frames) {
  if (info_.frames == 0) return true;
  PlainBlock block;
  block.info = info_;
  block.payload = std::move(buf_);
  buf_ = std::vector<uint8_t>();
  uint32_t frames = info_.frames;
  ++info_.seq;
  info_.frames = 0;
  bool ok = sink.Push(std::move(block));
  if (!ok) *refused_frames += frames;
  // Whatever buffer the sink left in the block (the refused payload, the sealed payload
  // of a store writer, or a buffer returned by the writer thread) is ours to reuse.
  if (block.payload.capacity() != 0) pool.Recycle(std::move(block.payload));
  return ok;
}

bool BlockBuilder::AppendSlow(const Frame& f, const BlockLimits& limits, BufferPool& pool,
                              BlockSink& sink, uint32_t* refused_frames) {
  bool ok = true;
  std::size_t rec = FrameRecordSize(f);
  if (info_.frames != 0 &&
      (buf_.size() + rec > limits.block_bytes || f.ts_ns - info_.first_ts_ns >= limits.block_ns)) {
    ok = Flush(pool, sink, refused_frames);
  }
  if (buf_.capacity() == 0) buf_ = pool.TakeSmall();
  if (buf_.size() + rec > buf_.capacity() && buf_.capacity() < pool.buffer_bytes()) {
    // Outgrew the small buffer: move to a full one (copies at most kSmallBytes).
    std::vector<uint8_t> full = pool.Take();
    full.insert(full.end(), buf_.begin(), buf_.end());
    pool.Recycle(std::move(buf_));
    buf_ = std::move(full);
  }
  if (info_.frames == 0) info_.first_ts_ns = f.ts_ns;
  info_.last_ts_ns = f.ts_ns;
  ++info_.frames;
  // A frame larger than the whole buffer (jumbo or reassembled) makes the vector grow:
  // rare, and the block is pushed right after.
  AppendFrameRecord(f, buf_);
  if (buf_.size() >= limits.block_bytes) ok = Flush(pool, sink, refused_frames) && ok;
  return ok;
}

}  // namespace callvault::media
