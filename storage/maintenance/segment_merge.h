// MergeSmallSegments: store maintenance that rewrites the small segments of closed day
// buckets into large ones.
//
// Why: the writer seals one segment per capture day at every seal, so with a seal every
// second a day bucket can hold up to 86,400 small files (slow directory scans, start-up
// scans, backups, inode use). Once a day is closed (before the day of `now_ns`, UTC) its
// segments smaller than `below_bytes` are grouped, in id order, into runs whose live bytes
// fit `target_bytes`, and each run of two or more is rewritten into ONE new segment by
// RewriteSegments() (segment_rewriter.h): sealed blocks copied verbatim (no key, nothing
// decrypted), dead blocks of destroyed calls dropped on the way, the block locations of
// each output moved in ONE synced WriteBatch, the inputs unlinked only after that batch.
// kill -9 at any point: Store::Open discards the unaccounted files, a re-run merges what
// is left; no block is lost or stored twice.
//
// Input: an open, writable Store; MergeOptions (StoreConfig.merge_below_bytes /
// merge_target_bytes). Output: MergeReport. Thread: a control thread; the store's admin
// lock is held for each output segment, so a purge or hold may interleave between them.
// Runs from the nightly retention job (retention.h, step 3c); docs/ARCHITECTURE.md.
#ifndef CALLVAULT_STORAGE_MAINTENANCE_SEGMENT_MERGE_H_
#define CALLVAULT_STORAGE_MAINTENANCE_SEGMENT_MERGE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/store.h"

namespace callvault {

struct MergeOptions {
  uint64_t below_bytes = 16ull << 20;   // merge segments smaller than this; 0 = off
  uint64_t target_bytes = 256ull << 20; // an output holds at most this much (header incl.)
  uint64_t now_ns = 0;                  // 0 = the wall clock; its UTC day stays untouched
};

struct MergeReport {
  uint64_t days = 0;          // day buckets with at least one output
  uint64_t segments_in = 0;   // small segments rewritten (and deleted)
  uint64_t segments_out = 0;  // new segments
  uint64_t bytes_in = 0;      // file bytes of the inputs
  uint64_t bytes_out = 0;     // file bytes of the outputs
  uint64_t blocks_moved = 0;
  std::vector<std::string> problems;  // runs left alone, with the reason
  double seconds = 0;
};

// stage: "merge_written" / "merge_indexed" after each output is durable / indexed, and
// "merge_segment" (done, total outputs planned) after its inputs are gone.
using MergeProgress = std::function<void(std::string_view stage, uint64_t done, uint64_t total)>;

// InvalidArgument (naming the config key) when target_bytes < below_bytes.
[[nodiscard]] absl::StatusOr<MergeReport> MergeSmallSegments(Store& store,
                                                             const MergeOptions& options,
                                                             const MergeProgress& progress = {});

}  // namespace callvault

#endif  // CALLVAULT_STORAGE_MAINTENANCE_SEGMENT_MERGE_H_
