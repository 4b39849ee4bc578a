// BlockBuilder and BufferPool: a block starts in a small buffer and moves to a full one
// only when it outgrows it (frames kept byte for byte across the move); blocks are cut
// at block_bytes and block_ms; whatever buffer the sink leaves in the pushed block goes
// back to the pool, so a recycling sink keeps the steady state free of pool misses;
// refused blocks count their frames; the pool frees buffers beyond its bound.
#include "appliance/media/block_builder.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "appliance/common/frame_record.h"

namespace callvault::media {
namespace {

constexpr uint64_t kT0 = 1700000000000000000ull;

// Frame i: `len` bytes, each byte = (i + offset) & 0xff, at kT0 + i * 20 ms.
struct Frames {
  explicit Frames(int n, uint32_t len) {
    bytes.resize(std::size_t(n));
    for (int i = 0; i < n; ++i) {
      bytes[std::size_t(i)].assign(len, uint8_t(i * 7 + 3));
      Frame f;
      f.data = bytes[std::size_t(i)].data();
      f.caplen = f.wirelen = len;
      f.ts_ns = kT0 + uint64_t(i) * 20000000ull;
      frames.push_back(f);
    }
  }
  std::vector<std::vector<uint8_t>> bytes;
  std::vector<Frame> frames;
};

// Keeps a copy of each block and leaves the payload buffer in place, as the store
// writer does (it seals from the payload and never takes it).
class CopyingSink : public BlockSink {
 public:
  bool Push(PlainBlock&& b) override {
    if (refuse) return false;
    PlainBlock copy;
    copy.info = b.info;
    copy.payload.assign(b.payload.begin(), b.payload.end());
    blocks.push_back(std::move(copy));
    return true;
  }
  std::vector<PlainBlock> blocks;
  bool refuse = false;
};

BlockInfo Identity() {
  BlockInfo info;
  info.call_id = CallId{42};
  info.leg = 3;
  info.kind = StreamKind::kRtp;
  return info;
}

TEST(BlockBuilder, QuietStreamHoldsOnlyASmallBuffer) {
  BufferPool pool(4, 16384 + 2048);
  CopyingSink sink;
  BlockBuilder b;
  b.Reset(Identity());
  Frames fr(3, 200);  // an RTCP-like stream: 3 x 216 B records
  BlockLimits lim;
  uint32_t refused = 0;
  for (const Frame& f : fr.frames) ASSERT_TRUE(b.Append(f, lim, pool, sink, &refused));
  EXPECT_EQ(b.buffered_bytes(), 3u * (kFrameRecordHeader + 200));
  EXPECT_GE(b.buffer_capacity(), BufferPool::kSmallBytes);
  EXPECT_LT(b.buffer_capacity(), pool.buffer_bytes());
  EXPECT_EQ(pool.available(), 4u) << "no full buffer taken";
  EXPECT_EQ(pool.misses(), 0u);
}

TEST(BlockBuilder, OutgrowsTheSmallBufferAndKeepsEveryByte) {
  BufferPool pool(4, 4096 + 2048);
  CopyingSink sink;
  BlockBuilder b;
  b.Reset(Identity());
  BlockLimits lim;
  lim.block_bytes = 4096;
  const uint32_t len = 300;  // 316 B records: 12 fit in 4096, 6 in the small buffer
  Frames fr(30, len);
  uint32_t refused = 0;
  for (const Frame& f : fr.frames) ASSERT_TRUE(b.Append(f, lim, pool, sink, &refused));
  ASSERT_TRUE(b.Flush(pool, sink, &refused));
  EXPECT_EQ(refused, 0u);
  // 30 frames, 12 per block (13 x 316 > 4096): blocks of 12, 12, 6.
  ASSERT_EQ(sink.blocks.size(), 3u);
  int i = 0;
  for (uint32_t s = 0; s < sink.blocks.size(); ++s) {
    const PlainBlock& blk = sink.blocks[s];
    EXPECT_EQ(blk.info.seq, s);
    EXPECT_EQ(blk.info.call_id.value, 42u);
    EXPECT_EQ(blk.info.leg, 3u);
    EXPECT_EQ(blk.info.frames, s < 2 ? 12u : 6u);
    EXPECT_EQ(blk.info.first_ts_ns, fr.frames[std::size_t(i)].ts_ns);
    FrameRecordReader rd(blk.payload);
    uint32_t n = 0;
    while (auto v = rd.Next()) {
      const Frame& want = fr.frames[std::size_t(i)];
      ASSERT_EQ(v->ts_ns, want.ts_ns);
      ASSERT_EQ(v->bytes.size(), len);
      ASSERT_EQ(std::memcmp(v->bytes.data(), want.data, len), 0) << "frame " << i;
      ++i;
      ++n;
    }
    EXPECT_FALSE(rd.error());
    EXPECT_EQ(n, blk.info.frames);
    EXPECT_EQ(blk.info.last_ts_ns, fr.frames[std::size_t(i - 1)].ts_ns);
  }
  EXPECT_EQ(i, 30);
}

TEST(BlockBuilder, CutsAtBlockMs) {
  BufferPool pool(2, 16384 + 2048);
  CopyingSink sink;
  BlockBuilder b;
  b.Reset(Identity());
  BlockLimits lim;
  lim.block_ns = 100ull * 1000 * 1000;  // 100 ms = 5 frames at 20 ms
  Frames fr(12, 100);
  uint32_t refused = 0;
  for (const Frame& f : fr.frames) ASSERT_TRUE(b.Append(f, lim, pool, sink, &refused));
  ASSERT_EQ(sink.blocks.size(), 2u);
  EXPECT_EQ(sink.blocks[0].info.frames, 5u);
  EXPECT_EQ(sink.blocks[1].info.frames, 5u);
  EXPECT_EQ(b.buffered_bytes(), 2u * (kFrameRecordHeader + 100));
}

TEST(BlockBuilder, BuffersLeftInThePushedBlockGoBackToThePool) {
  BufferPool pool(2, 4096 + 2048);
  CopyingSink sink;
  BlockBuilder b;
  b.Reset(Identity());
  BlockLimits lim;
  lim.block_bytes = 4096;
  Frames fr(400, 300);  // ~33 blocks: far more than the 2 preallocated buffers
  uint32_t refused = 0;
  for (const Frame& f : fr.frames) ASSERT_TRUE(b.Append(f, lim, pool, sink, &refused));
  EXPECT_GE(sink.blocks.size(), 30u);
  EXPECT_EQ(pool.misses(), 0u) << "every block reused a returned buffer";
}

TEST(BlockBuilder, RefusedBlockCountsItsFramesAndKeepsTheBuffer) {
  BufferPool pool(1, 4096 + 2048);
  CopyingSink sink;
  sink.refuse = true;
  BlockBuilder b;
  b.Reset(Identity());
  BlockLimits lim;
  lim.block_bytes = 4096;
  Frames fr(13, 300);  // the 13th append pushes a block of 12 first
  uint32_t refused = 0;
  bool last = true;
  for (const Frame& f : fr.frames) last = b.Append(f, lim, pool, sink, &refused);
  EXPECT_FALSE(last);
  EXPECT_EQ(refused, 12u);
  EXPECT_EQ(b.blocks_pushed(), 1u) << "seq advances: the gap is visible in the store";
  EXPECT_EQ(pool.available(), 1u) << "the refused full buffer came back";
  EXPECT_EQ(pool.misses(), 0u);
}

TEST(BufferPool, SortsBuffersByCapacityAndStaysBounded) {
  BufferPool pool(1, 8192);
  EXPECT_EQ(pool.available(), 1u);
  EXPECT_EQ(pool.available_small(), 1u);
  std::vector<uint8_t> full = pool.Take();
  std::vector<uint8_t> small = pool.TakeSmall();
  EXPECT_GE(full.capacity(), 8192u);
  EXPECT_GE(small.capacity(), BufferPool::kSmallBytes);
  std::vector<uint8_t> extra = pool.Take();  // class empty: a counted miss
  EXPECT_EQ(pool.misses(), 1u);
  pool.Recycle(std::move(small));
  EXPECT_EQ(pool.available_small(), 1u);
  pool.Recycle(std::move(full));
  pool.Recycle(std::move(extra));
  EXPECT_EQ(pool.available(), 2u) << "bound: twice the preallocated count";
  std::vector<uint8_t> third;
  third.reserve(9000);
  pool.Recycle(std::move(third));
  EXPECT_EQ(pool.available(), 2u) << "beyond the bound: freed";
  std::vector<uint8_t> tiny;
  tiny.reserve(100);
  pool.Recycle(std::move(tiny));
  EXPECT_EQ(pool.available_small(), 1u) << "too small for either class: freed";
}

}  // namespace
}  // namespace callvault::media
