// BlockBuilder: collects the frames of one stream (call, leg, kind) into a PlainBlock and
// hands it to the BlockSink when it reaches StoreConfig.block_bytes or spans
// StoreConfig.block_ms of capture time (checked on append and by the worker's Advance).
//
// BufferPool: the block payload buffers, in two size classes, so that appending a frame
// never allocates and a quiet stream never pins a whole block of memory:
//  - small buffers (kSmallBytes) start every block: an RTCP/STUN stream that sends a few
//    hundred bytes per block_ms, or a leg that just opened, holds 2 KiB, not block_bytes;
//  - full buffers (block_bytes + slack) take over when the next record does not fit the
//    small one (the few bytes already written are copied once, <= kSmallBytes).
// Both classes are reserved (not touched) at start-up. A pushed block takes its buffer
// to the store; whatever buffer the sink leaves in the block's payload when Push()
// returns is the caller's again and goes back to the pool (the store writer leaves the
// sealed payload there; the DPDK RingSink leaves a buffer the writer returned), so with
// such a sink the steady state allocates nothing. When a class is empty a new buffer is
// allocated and counted in misses(). Recycle() keeps at most twice the preallocated
// count per class and frees the rest, so the pool itself is bounded.
//
// Memory per open block: the bytes buffered so far, rounded up to kSmallBytes or to the
// full buffer (block_bytes + 2 KiB) once they exceed kSmallBytes.
//
// Thread: both are owned by one worker; not thread-safe.
#ifndef CALLVAULT_APPLIANCE_MEDIA_BLOCK_BUILDER_H_
#define CALLVAULT_APPLIANCE_MEDIA_BLOCK_BUILDER_H_

#include <cstdint>
#include <vector>

#include "appliance/common/block.h"
#include "appliance/common/frame.h"
#include "appliance/common/frame_record.h"

namespace callvault::media {

class BufferPool {
 public:
  static constexpr std::size_t kSmallBytes = 2048;

  // `buffers` of each class are reserved up front; `buffer_bytes` is the full size.
  BufferPool(std::size_t buffers, std::size_t buffer_bytes);
  std::vector<uint8_t> Take();       // a full buffer (capacity >= buffer_bytes())
  std::vector<uint8_t> TakeSmall();  // a small buffer (capacity >= kSmallBytes)
  // Takes back any buffer: by capacity into the full or the small class; smaller ones,
  // and any beyond the class's bound, are freed. Leaves `buf` empty when kept.
  void Recycle(std::vector<uint8_t>&& buf);
  std::size_t buffer_bytes() const { return bytes_; }
  std::size_t available() const { return free_.size(); }
  std::size_t available_small() const { return small_.size(); }
  uint64_t misses() const { return misses_; }

 private:
  std::size_t bytes_;
  std::vector<std::vector<uint8_t>> free_;   // full class
  std::vector<std::vector<uint8_t>> small_;  // small class
  uint64_t misses_ = 0;
};

struct BlockLimits {
  uint32_t block_bytes = 16384;
  uint64_t block_ns = 5000ull * 1000 * 1000;
};

class BlockBuilder {
 public:
  void Reset(const BlockInfo& identity);  // new stream: seq from 0, nothing buffered
  // Appends one frame; may first push the block it completes. Returns false when a
  // pushed block was refused by the sink (its frames are lost: the caller counts).
  // Inline for the per-packet case (the frame joins the open block, fits its buffer and
  // does not fill the block); everything else goes through AppendSlow(), same rules.
  bool Append(const Frame& f, const BlockLimits& limits, BufferPool& pool, BlockSink& sink,
              uint32_t* refused_frames) {
    const std::size_t end = buf_.size() + FrameRecordSize(f);
    if (info_.frames != 0 && end < limits.block_bytes && end <= buf_.capacity() &&
        f.ts_ns - info_.first_ts_ns < limits.block_ns) {
      info_.last_ts_ns = f.ts_ns;
      ++info_.frames;
      AppendFrameRecord(f, buf_);
      return true;
    }
    return AppendSlow(f, limits, pool, sink, refused_frames);
  }
  // Pushes the open block if it has frames (block_ms timer, leg close, shutdown).
  bool Flush(BufferPool& pool, BlockSink& sink, uint32_t* refused_frames);
  bool empty() const { return info_.frames == 0; }
  uint32_t frames() const { return info_.frames; }  // in the open block
  uint64_t first_ts_ns() const { return info_.first_ts_ns; }
  uint32_t blocks_pushed() const { return info_.seq; }
  std::size_t buffered_bytes() const { return buf_.size(); }
  std::size_t buffer_capacity() const { return buf_.capacity(); }
  bool has_buffer() const { return buf_.capacity() != 0; }
  // Where the next record goes (a prefetch hint for the burst path); null without a buffer.
  const uint8_t* write_position() const {
    return buf_.capacity() ? buf_.data() + buf_.size() : nullptr;
  }

 private:
  bool AppendSlow(const Frame& f, const BlockLimits& limits, BufferPool& pool, BlockSink& sink,
                  uint32_t* refused_frames);

  BlockInfo info_;
  std::vector<uint8_t> buf_;
};

}  // namespace callvault::media

#endif  // CALLVAULT_APPLIANCE_MEDIA_BLOCK_BUILDER_H_
