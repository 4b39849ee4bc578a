// RunRetention (retention.h): select, destroy, reclaim space, compact the index.
#include "storage/retention/retention.h"

#include <algorithm>
#include <chrono>
#include <span>

#include <fmt/format.h>

#include "appliance/common/status.h"
#include "appliance/common/time_util.h"
#include "storage/maintenance/segment_merge.h"
#include "storage/maintenance/segment_rewriter.h"

namespace callvault::retention {
namespace {

constexpr int64_t kSecPerDay = 86400;

// Civil-date conversions (proleptic Gregorian, H. Hinnant's algorithms).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = unsigned(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + int64_t(doe) - 719468;
}
void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = unsigned(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = int64_t(yoe) + era * 400 + (*m <= 2);
}
unsigned DaysInMonth(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

double Since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

absl::StatusOr<uint64_t> RetentionCutoff(uint64_t now_ns, uint32_t months) {
  if (months == 0) return absl::InvalidArgumentError("retention: max_age_months must be >= 1");
  const int64_t days = int64_t(now_ns / kNsPerSec / kSecPerDay);
  const uint64_t in_day_ns = now_ns - uint64_t(days) * kSecPerDay * kNsPerSec;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  int64_t total = y * 12 + int64_t(m - 1) - int64_t(months);
  int64_t ty = total >= 0 ? total / 12 : (total - 11) / 12;
  unsigned tm = unsigned(total - ty * 12) + 1;
  unsigned td = std::min(d, DaysInMonth(ty, tm));
  int64_t tdays = DaysFromCivil(ty, tm, td);
  if (tdays < 0) {
    return absl::InvalidArgumentError(
        fmt::format("retention: now minus {} months precedes 1970", months));
  }
  return uint64_t(tdays) * kSecPerDay * kNsPerSec + in_day_ns;
}

absl::StatusOr<RetentionReport> RunRetention(Store& store, const RetentionOptions& o,
                                             const RetentionProgress& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  if (!(o.compact_threshold > 0 && o.compact_threshold <= 1)) {
    return absl::InvalidArgumentError(
        fmt::format("retention: compact_threshold {} is not in (0, 1]", o.compact_threshold));
  }
  auto note = [&](std::string_view stage, uint64_t done, uint64_t total) {
    if (progress) progress(stage, done, total);
  };
  RetentionReport rep;
  rep.dry_run = o.dry_run;
  rep.now_ns = o.now_ns != 0 ? o.now_ns : NowNs();
  ASSIGN_OR_RETURN(rep.cutoff_ns, RetentionCutoff(rep.now_ns, o.max_age_months));

  // 1. Select.
  ASSIGN_OR_RETURN(std::vector<CallListing> listing, store.ListCalls(0, rep.cutoff_ns));
  std::vector<CallId> victims;
  victims.reserve(listing.size());
  uint64_t want_bytes = 0;
  for (const CallListing& l : listing) {
    if (l.held) {
      ++rep.skipped_held;
      continue;
    }
    victims.push_back(l.call_id);
    want_bytes += l.bytes;
    if (rep.oldest_start_ns == 0 || l.start_ns < rep.oldest_start_ns) {
      rep.oldest_start_ns = l.start_ns;
    }
    rep.newest_start_ns = std::max(rep.newest_start_ns, l.start_ns);
  }
  note("select", victims.size(), victims.size());
  if (o.dry_run) {
    rep.calls = victims.size();
    rep.bytes = want_bytes;
    rep.purged = std::move(victims);
    rep.seconds = Since(t0);
    return rep;
  }

  // 2. Destroy (crypto-shred + index), batch by batch, into empty memtables (a memtable
  // insert is cheap next to the previous key, costly between many unrelated ones).
  if (!victims.empty()) RETURN_IF_ERROR(Annotate(store.FlushIndex(), "retention"));
  const std::size_t batch = std::max<std::size_t>(1, o.destroy_batch);
  for (std::size_t i = 0; i < victims.size(); i += batch) {
    std::span<const CallId> part(victims.data() + i, std::min(batch, victims.size() - i));
    ASSIGN_OR_RETURN(DestroyResult d, store.DestroyCalls(part));
    rep.bytes += d.bytes;
    rep.skipped_held += d.skipped_held.size();
    // Both lists are in id order (DestroyCalls sorts), usually empty: one binary search
    // each per call, never a scan.
    for (CallId id : part) {
      bool skipped =
          std::binary_search(d.skipped_held.begin(), d.skipped_held.end(), id) ||
          std::binary_search(d.not_found.begin(), d.not_found.end(), id);
      if (!skipped) rep.purged.push_back(id);
    }
    note("destroy", i + part.size(), victims.size());
  }
  rep.calls = rep.purged.size();

  // 3. Space, from the accounting (completes an interrupted earlier run too).
  ASSIGN_OR_RETURN(std::vector<SegmentUsage> segs, store.ListSegments());
  std::vector<SegmentUsage> rewrite;
  std::vector<SegmentUsage> dead;
  for (const SegmentUsage& s : segs) {
    if (s.live_bytes == 0) {
      dead.push_back(s);
    } else if (s.dead_bytes > 0 &&
               double(s.dead_bytes) >= o.compact_threshold * double(s.live_bytes + s.dead_bytes)) {
      rewrite.push_back(s);
    }
  }
  // In chunks, so a progress event (and a kill point in the tests) falls between them.
  for (std::size_t i = 0; i < dead.size(); i += 256) {
    std::vector<SegmentUsage> part(dead.begin() + long(i),
                                   dead.begin() + long(std::min(dead.size(), i + 256)));
    auto gone = DeleteDeadSegments(store, part);
    if (!gone.ok()) return Annotate(gone.status(), "retention");
    for (const SegmentUsage& s : *gone) {
      ++rep.segments_deleted;
      rep.bytes_reclaimed += s.file_bytes;
    }
    note("delete_segment", rep.segments_deleted, dead.size());
  }
  uint64_t done = 0;
  ASSIGN_OR_RETURN(std::vector<CompactOutcome> outs,
                   CompactSegments(store, rewrite, [&](std::string_view stage) {
                     note(stage, done, rewrite.size());
                   }));
  for (const CompactOutcome& c : outs) {
    ++done;
    if (!c.problem.empty()) {
      rep.problems.push_back(c.problem);
      continue;
    }
    ++rep.segments_compacted;
    rep.bytes_reclaimed += c.old_file_bytes - std::min(c.old_file_bytes, c.new_file_bytes);
  }
  note("compact_segment", outs.size(), rewrite.size());

  // 3c. Merge the small segments of closed days (storage/maintenance/segment_merge.h).
  if (o.merge_below_bytes > 0) {
    MergeOptions mo;
    mo.below_bytes = o.merge_below_bytes;
    mo.target_bytes = o.merge_target_bytes;
    mo.now_ns = rep.now_ns;
    auto merged = MergeSmallSegments(store, mo, note);
    if (!merged.ok()) return Annotate(merged.status(), "retention");
    rep.segments_merged = merged->segments_in;
    rep.merge_outputs = merged->segments_out;
    rep.bytes_reclaimed += merged->bytes_in - std::min(merged->bytes_in, merged->bytes_out);
    rep.problems.insert(rep.problems.end(), merged->problems.begin(), merged->problems.end());
  }

  // 4. The index, so deleted keys leave the SST files and the WAL: only the range the
  // destroys touched in the id-keyed column families, the blind indexes whole.
  RETURN_IF_ERROR(Annotate(store.CompactDestroyed(), "retention"));
  note("compact_index", 1, 1);
  rep.seconds = Since(t0);
  return rep;
}

}  // namespace callvault::retention
