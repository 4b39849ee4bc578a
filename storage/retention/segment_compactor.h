// SegmentCompactor: rewrites the live blocks of partly dead segment files into new
// segments (retention step 3b, storage/retention/retention.h).
//
// Input: the Store (internals via StoreImpl) and the segments to rewrite.
// Output: per segment, the new segment id, or a reason it was left alone.
// Ownership: files it creates belong to the store; nothing outlives a call.
// Thread: control thread; holds the store's admin lock for each segment (no destroy or
// key rotation interleaves with the move of its block locations).
//
// Crash safety, per segment:
//   new "<id>.seg.tmp" (O_EXCL) <- sealed blocks copied verbatim (no key needed, each is
//   re-checked: header parses and names the call of its index key) -> fsync -> link to
//   "<id>.seg" (fails rather than overwrite) -> unlink tmp -> fsync dir -> ONE synced
//   WriteBatch (new locations, accounting moved, meta next_segment) -> unlink old -> fsync.
// Store::Open discards sealed-but-unaccounted segments, which is exactly what a crash
// before the batch (new file) or after it (old file) leaves behind.
// New ids are allocated 2^32 above every id in use, so a StoreWriter in the same process
// (which caches its next id) can never pick the same id later.
#ifndef CALLVAULT_STORAGE_RETENTION_SEGMENT_COMPACTOR_H_
#define CALLVAULT_STORAGE_RETENTION_SEGMENT_COMPACTOR_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/store.h"

namespace callvault::retention {

struct CompactOutcome {
  uint32_t day = 0;
  uint64_t old_segment = 0;
  uint64_t new_segment = 0;     // 0 when left alone
  uint64_t old_file_bytes = 0;
  uint64_t new_file_bytes = 0;
  uint64_t blocks_moved = 0;
  std::string problem;          // why it was left alone (empty when rewritten)
};

// `step(stage)` is called with "compact_written" once the new file is durable and
// "compact_indexed" once the index points at it (before the old file is unlinked).
[[nodiscard]] absl::StatusOr<std::vector<CompactOutcome>> CompactSegments(
    Store& store, const std::vector<SegmentUsage>& segments,
    const std::function<void(std::string_view)>& step = {});

// Deletes segments with no live bytes: ONE synced WriteBatch removes their accounting
// (re-checked under the admin lock: a segment that has live bytes is skipped), then the
// files are unlinked and their directories fsynced. A crash between the two leaves
// unaccounted files, which Store::Open discards. Returns the file bytes freed per segment
// deleted (same order as deleted ones in `segments`; skipped ones are absent).
[[nodiscard]] absl::StatusOr<std::vector<SegmentUsage>> DeleteDeadSegments(
    Store& store, const std::vector<SegmentUsage>& segments);

}  // namespace callvault::retention

#endif  // CALLVAULT_STORAGE_RETENTION_SEGMENT_COMPACTOR_H_
