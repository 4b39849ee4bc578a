// BlockBuilder: collects the frames of one stream (call, leg, kind) into a PlainBlock and
// hands it to the BlockSink when it reaches StoreConfig.block_bytes or spans
// StoreConfig.block_ms of capture time (checked on append and by the worker's Advance).
//
// BufferPool: the block payload buffers, preallocated at start-up with their full
// capacity, so that appending a frame never allocates. A pushed block takes its buffer
// to the store; the store (or whoever consumes blocks on this worker) gives it back with
// Recycle(). When the pool is empty a new buffer is allocated and counted in misses():
// with a recycling consumer the steady state allocates nothing.
//
// Thread: both are owned by one worker; not thread-safe.
#ifndef CALLVAULT_APPLIANCE_MEDIA_BLOCK_BUILDER_H_
#define CALLVAULT_APPLIANCE_MEDIA_BLOCK_BUILDER_H_

#include <cstdint>
#include <vector>

#include "appliance/common/block.h"
#include "appliance/common/frame.h"

namespace callvault::media {

class BufferPool {
 public:
  BufferPool(std::size_t buffers, std::size_t buffer_bytes);
  std::vector<uint8_t> Take();
  void Recycle(std::vector<uint8_t>&& buf);
  std::size_t buffer_bytes() const { return bytes_; }
  std::size_t available() const { return free_.size(); }
  uint64_t misses() const { return misses_; }

 private:
  std::size_t bytes_;
  std::vector<std::vector<uint8_t>> free_;
  uint64_t misses_ = 0;
};

struct BlockLimits {
  uint32_t block_bytes = 65536;
  uint64_t block_ns = 5000ull * 1000 * 1000;
};

class BlockBuilder {
 public:
  void Reset(const BlockInfo& identity);  // new stream: seq from 0, nothing buffered
  // Appends one frame; may first push the block it completes. Returns false when a
  // pushed block was refused by the sink (its frames are lost: the caller counts).
  bool Append(const Frame& f, const BlockLimits& limits, BufferPool& pool, BlockSink& sink,
              uint32_t* refused_frames);
  // Pushes the open block if it has frames (block_ms timer, leg close, shutdown).
  bool Flush(BufferPool& pool, BlockSink& sink, uint32_t* refused_frames);
  bool empty() const { return info_.frames == 0; }
  uint64_t first_ts_ns() const { return info_.first_ts_ns; }
  uint32_t blocks_pushed() const { return info_.seq; }
  std::size_t buffered_bytes() const { return buf_.size(); }
  bool has_buffer() const { return buf_.capacity() != 0; }

 private:
  BlockInfo info_;
  std::vector<uint8_t> buf_;
};

}  // namespace callvault::media

#endif  // CALLVAULT_APPLIANCE_MEDIA_BLOCK_BUILDER_H_
