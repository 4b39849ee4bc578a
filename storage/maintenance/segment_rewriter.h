// SegmentRewriter: the one place that rewrites sealed segment files — retention's
// compaction of partly dead segments (CompactSegments) and the merge of small segments
// (segment_merge.h) — and deletes segments without live blocks (DeleteDeadSegments).
//
// Input: the Store (internals via StoreImpl) and sealed segments of ONE day bucket per
// rewrite, as listed by Store::ListSegments() (the accounting is re-read under the lock).
// Output: per rewrite, the new segment (id, size, blocks moved) or the reason the inputs
// were left alone (`problem`); I/O and index errors are returned as errors.
// Ownership: files it creates belong to the store. Thread: a control thread; holds the
// store's admin lock for each rewrite, so no destroy, hold or key rotation interleaves
// with the move of block locations. A StoreWriter may run at the same time: it only ever
// writes locations of new blocks into its own new segments.
//
// Which blocks are live: each input file is walked block by block (headers bounded by
// block_codec); a block is live iff the `blocks` index entry of its (call, kind, leg, seq)
// points at exactly this day, segment, offset and length. The live bytes found must equal
// the segment's accounting, else the inputs are left alone (reported, never guessed).
// Live blocks are copied verbatim: the sealed bytes do not depend on their location (the
// AEAD's associated data is the block header), so no key is needed and nothing is
// decrypted.
//
// Crash safety, per rewrite (N input segments -> 1 output):
//   new "<id>.seg.tmp" (O_EXCL) <- live sealed blocks -> fsync -> link to "<id>.seg"
//   (fails rather than overwrite) -> unlink tmp -> fsync dir -> step(written)
//   -> ONE synced WriteBatch: every moved block location, the inputs' accounting removed,
//      the output's added, the day bucket adjusted, meta next_segment -> step(indexed)
//   -> unlink the inputs -> fsync dir.
// A crash before the batch leaves an unaccounted new file (the inputs still serve every
// block); after it, unaccounted input files. Store::Open (writer mode) discards both, so
// after kill -9 and a re-run no block is lost and none is stored twice.
// New ids are allocated 2^32 above every id in use (one scan of the accounting per call of
// this API), so a StoreWriter in the same process, which caches its next id, can never
// pick one of them later.
#ifndef CALLVAULT_STORAGE_MAINTENANCE_SEGMENT_REWRITER_H_
#define CALLVAULT_STORAGE_MAINTENANCE_SEGMENT_REWRITER_H_

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/store.h"

namespace callvault {

class StoreImpl;

struct CompactOutcome {
  uint32_t day = 0;
  uint64_t old_segment = 0;     // the first input (the only one for a compaction)
  uint64_t segments_in = 0;     // inputs rewritten (0 when left alone)
  uint64_t new_segment = 0;     // 0 when left alone
  uint64_t old_file_bytes = 0;  // sum over the inputs
  uint64_t new_file_bytes = 0;
  uint64_t blocks_moved = 0;
  std::string problem;          // why it was left alone (empty when rewritten)
};

// Stage names passed to the step callback of a rewrite, after each durable step.
struct RewriteStages {
  std::string_view written = "compact_written";  // the new file is durable
  std::string_view indexed = "compact_indexed";  // the index points at it (inputs not yet
                                                 // unlinked)
};
using RewriteStep = std::function<void(std::string_view stage)>;

// Allocates output ids: 2^32 above the highest segment id the index knows.
class SegmentIdAllocator {
 public:
  [[nodiscard]] static absl::StatusOr<SegmentIdAllocator> Create(StoreImpl& m);
  uint64_t Next() { return next_++; }

 private:
  explicit SegmentIdAllocator(uint64_t first) : next_(first) {}
  uint64_t next_;
};

// Rewrites the live blocks of `inputs` (all of day `day`, sealed, accounted) into ONE new
// segment, with the crash-safe sequence above. The caller holds m.admin_mu.
[[nodiscard]] absl::StatusOr<CompactOutcome> RewriteSegments(
    StoreImpl& m, uint32_t day, std::span<const SegmentUsage> inputs, SegmentIdAllocator& ids,
    const RewriteStages& stages = {}, const RewriteStep& step = {});

// Retention's compaction: rewrites each segment alone, keeping only its live blocks.
// `step` gets "compact_written" and "compact_indexed" per segment.
[[nodiscard]] absl::StatusOr<std::vector<CompactOutcome>> CompactSegments(
    Store& store, const std::vector<SegmentUsage>& segments, const RewriteStep& step = {});

// Deletes segments with no live bytes: ONE synced WriteBatch removes their accounting
// (re-checked under the admin lock: a segment that has live bytes is skipped), then the
// files are unlinked and their directories fsynced. A crash between the two leaves
// unaccounted files, which Store::Open discards. Returns the segments deleted, with the
// file bytes freed (skipped ones are absent).
[[nodiscard]] absl::StatusOr<std::vector<SegmentUsage>> DeleteDeadSegments(
    Store& store, const std::vector<SegmentUsage>& segments);

}  // namespace callvault

#endif  // CALLVAULT_STORAGE_MAINTENANCE_SEGMENT_REWRITER_H_
