// Retention: the nightly purge of calls older than the configured maximum age (issue 7).
//
// Input: an open, writable Store; RetentionOptions (max age in calendar months, the
// compaction threshold, "now", dry run); an optional progress callback.
// Output: a RetentionReport (purged call ids — never PII —, count, bytes, oldest/newest
// start, segments deleted / compacted, seconds). The CLI appends the audit record.
// Thread: the control thread (one purge at a time; it takes the store's admin lock for
// each destroy batch and each segment rewrite). Not on the per-packet path.
//
// Cutoff (calendar-aware, UTC): now minus N calendar months, same day of month and time of
// day; a day that does not exist in the target month is clamped to that month's last day
// (2025-08-31 minus 18 months = 2024-02-29, same time of day). A call is purged when its
// start < cutoff and it is not under legal hold. Calls that end after the cutoff but
// started before it are purged (the law counts from the recording's start).
//
// Ordering (every step is idempotent; a kill -9 anywhere leaves a state the next run
// finishes — docs/RETENTION.md walks through each crash point):
//  1. Select: ListCalls(0, cutoff), drop held calls.
//  2. Destroy, after flushing the index's memtables (Store::FlushIndex: the deletes then
//     go into empty memtables, cheap in key order), in synced batches
//     (Store::DestroyCalls): the wrapped data key (crypto-
//     shredding: the sealed blocks are unreadable from then on, even in copies), the
//     record and every index entry and block location go in ONE WriteBatch per batch of
//     calls; their bytes are booked dead per segment. A crash between batches leaves
//     whole calls either destroyed or intact; the re-run selects the rest.
//  3. Space, driven only by the accounting (so a re-run completes an interrupted run):
//     a. segments with no live bytes: their accounting entries deleted (one synced batch
//        per 256 segments), then the files unlinked. A crash in between leaves
//        unaccounted files, which Store::Open discards.
//     b. segments whose dead share >= compact_threshold: the live sealed blocks are copied
//        verbatim (still sealed; no key is needed) into a NEW segment file: write, fsync,
//        link to its final name (never overwrites), fsync dir; then ONE synced WriteBatch
//        moves every live block's location and the accounting to the new segment; then the
//        old file is unlinked. A crash before the batch leaves an unaccounted new file
//        (discarded at open; the old one still serves); after it, an unaccounted old file
//        (discarded at open). Live data is never without a durable, indexed copy.
//        A segment whose index scan disagrees with its accounting is left alone (reported).
//     c. If merge_below_bytes > 0: the small segments of closed days (before the day of
//        "now") are merged into large ones (storage/maintenance/segment_merge.h: same
//        copy / one batch per output / unlink-after-index sequence as b). Progress stages
//        "merge_written", "merge_indexed", "merge_segment".
//  4. Index: Store::CompactDestroyed() so deleted keys (wrapped keys, blind entries) leave
//     the SST files and the WAL: the id-keyed column families from their first key up to
//     the highest id ever destroyed (recorded in each destroy batch, so it covers calls of
//     an interrupted earlier run too), the blind indexes whole. Always run on a real run,
//     so a re-run after a crash in 3/4 completes it.
// A dry run does step 1 only and changes nothing.
#ifndef CALLVAULT_STORAGE_RETENTION_RETENTION_H_
#define CALLVAULT_STORAGE_RETENTION_RETENTION_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "appliance/common/call_id.h"
#include "storage/store.h"

namespace callvault::retention {

struct RetentionOptions {
  uint32_t max_age_months = 18;     // RetentionConfig.max_age_months; >= 1
  double compact_threshold = 0.5;   // RetentionConfig.compact_threshold, in (0, 1]
  uint64_t now_ns = 0;              // 0 = the wall clock
  bool dry_run = false;
  std::size_t destroy_batch = 65536;  // calls per DestroyCalls() call
  uint64_t merge_below_bytes = 0;     // StoreConfig.merge_below_bytes; 0 = no merge (3c)
  uint64_t merge_target_bytes = 256ull << 20;  // StoreConfig.merge_target_bytes
};

// stage: "select", "destroy", "delete_segment", "compact_written", "compact_indexed",
// "compact_segment", "merge_written", "merge_indexed", "merge_segment", "compact_index";
// done/total within the stage. Called after each step is durable (tests kill the process
// from it to prove crash safety).
using RetentionProgress =
    std::function<void(std::string_view stage, uint64_t done, uint64_t total)>;

struct RetentionReport {
  bool dry_run = false;
  uint64_t now_ns = 0;
  uint64_t cutoff_ns = 0;
  uint64_t calls = 0;            // purged (or, dry run, that would be)
  uint64_t bytes = 0;            // their sealed block bytes
  uint64_t oldest_start_ns = 0;  // 0 when no call
  uint64_t newest_start_ns = 0;
  uint64_t skipped_held = 0;     // calls past the cutoff kept by a legal hold
  std::vector<CallId> purged;
  uint64_t segments_deleted = 0;
  uint64_t segments_compacted = 0;
  uint64_t bytes_reclaimed = 0;  // segment file bytes freed (deleted + compacted + merged)
  uint64_t segments_merged = 0;  // small segments merged (3c) ...
  uint64_t merge_outputs = 0;    // ... into this many new segments
  std::vector<std::string> problems;  // segments left alone, with the reason
  double seconds = 0;
};

// now minus `months` calendar months, clamped day of month, same time of day (UTC).
// InvalidArgument when months is 0 or the result would precede the epoch.
[[nodiscard]] absl::StatusOr<uint64_t> RetentionCutoff(uint64_t now_ns, uint32_t months);

[[nodiscard]] absl::StatusOr<RetentionReport> RunRetention(
    Store& store, const RetentionOptions& options, const RetentionProgress& progress = {});

}  // namespace callvault::retention

#endif  // CALLVAULT_STORAGE_RETENTION_RETENTION_H_
