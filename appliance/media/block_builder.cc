#include "appliance/media/block_builder.h"

#include <utility>

#include "appliance/common/frame_record.h"

namespace callvault::media {

BufferPool::BufferPool(std::size_t buffers, std::size_t buffer_bytes) : bytes_(buffer_bytes) {
  free_.reserve(buffers * 2);
  for (std::size_t i = 0; i < buffers; ++i) {
    std::vector<uint8_t> b;
    b.reserve(bytes_);
    free_.push_back(std::move(b));
  }
}

std::vector<uint8_t> BufferPool::Take() {
  if (free_.empty()) {
    ++misses_;
    std::vector<uint8_t> b;
    b.reserve(bytes_);
    return b;
  }
  std::vector<uint8_t> b = std::move(free_.back());
  free_.pop_back();
  return b;
}

void BufferPool::Recycle(std::vector<uint8_t>&& buf) {
  if (buf.capacity() < bytes_ || free_.size() == free_.capacity()) return;  // let it go
  buf.clear();
  free_.push_back(std::move(buf));
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
  if (!sink.Push(std::move(block))) {
    *refused_frames += frames;
    // A refused block's buffer may still be ours to reuse.
    if (block.payload.capacity() != 0) pool.Recycle(std::move(block.payload));
    return false;
  }
  return true;
}

bool BlockBuilder::Append(const Frame& f, const BlockLimits& limits, BufferPool& pool,
                          BlockSink& sink, uint32_t* refused_frames) {
  bool ok = true;
  std::size_t rec = FrameRecordSize(f);
  if (info_.frames != 0 &&
      (buf_.size() + rec > limits.block_bytes || f.ts_ns - info_.first_ts_ns >= limits.block_ns)) {
    ok = Flush(pool, sink, refused_frames);
  }
  if (buf_.capacity() == 0) buf_ = pool.Take();
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
