// MergeSmallSegments (segment_merge.h): plan runs of small segments per closed day and
// rewrite each run into one segment.
#include "storage/maintenance/segment_merge.h"

#include <chrono>
#include <mutex>
#include <span>

#include <fmt/format.h>

#include "appliance/common/status.h"
#include "appliance/common/time_util.h"
#include "storage/maintenance/segment_rewriter.h"
#include "storage/segment/segment_format.h"
#include "storage/store_impl.h"

namespace callvault {
namespace {

struct Run {
  uint32_t day = 0;
  std::vector<SegmentUsage> inputs;
};

// Consecutive (id order) small segments of each closed day, greedily packed so that the
// live bytes of a run plus one header fit target_bytes; single-segment runs are dropped
// (rewriting one small file alone gains nothing; retention compacts dead space).
std::vector<Run> Plan(const std::vector<SegmentUsage>& segs, const MergeOptions& o,
                      uint32_t today) {
  std::vector<Run> runs;
  Run cur;
  uint64_t cur_bytes = 0;
  auto close = [&]() {
    if (cur.inputs.size() >= 2) runs.push_back(std::move(cur));
    cur = Run{};
    cur_bytes = kSegmentHeaderBytes;
  };
  close();
  for (const SegmentUsage& s : segs) {  // ListSegments: day, then id order
    if (s.day >= today || s.file_bytes >= o.below_bytes || s.live_bytes == 0) continue;
    if (!cur.inputs.empty() && (s.day != cur.day || cur_bytes + s.live_bytes > o.target_bytes)) {
      close();
    }
    cur.day = s.day;
    cur.inputs.push_back(s);
    cur_bytes += s.live_bytes;
  }
  close();
  return runs;
}

}  // namespace

absl::StatusOr<MergeReport> MergeSmallSegments(Store& store, const MergeOptions& o,
                                               const MergeProgress& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  MergeReport rep;
  if (o.below_bytes == 0) return rep;
  if (o.target_bytes < o.below_bytes) {
    return absl::InvalidArgumentError(fmt::format(
        "merge: store.merge_target_bytes ({}) must be >= store.merge_below_bytes ({})",
        o.target_bytes, o.below_bytes));
  }
  const uint32_t today = DayOf(o.now_ns != 0 ? o.now_ns : NowNs());
  ASSIGN_OR_RETURN(std::vector<SegmentUsage> segs, store.ListSegments());
  std::vector<Run> runs = Plan(segs, o, today);
  if (runs.empty()) return rep;

  StoreImpl& m = *store.impl();
  std::unique_ptr<SegmentIdAllocator> ids;
  {
    std::lock_guard<std::mutex> admin(m.admin_mu);
    ASSIGN_OR_RETURN(SegmentIdAllocator a, SegmentIdAllocator::Create(m));
    ids = std::make_unique<SegmentIdAllocator>(a);
  }
  const RewriteStages stages{"merge_written", "merge_indexed"};
  uint64_t done = 0;
  uint32_t last_day = 0;
  for (const Run& r : runs) {
    CompactOutcome out;
    {
      std::lock_guard<std::mutex> admin(m.admin_mu);
      ASSIGN_OR_RETURN(out, RewriteSegments(m, r.day, r.inputs, *ids, stages,
                                            [&](std::string_view stage) {
                                              if (progress) progress(stage, done, runs.size());
                                            }));
    }
    ++done;
    if (!out.problem.empty()) {
      rep.problems.push_back(std::move(out.problem));
    } else {
      if (r.day != last_day) ++rep.days;
      last_day = r.day;
      rep.segments_in += out.segments_in;
      rep.segments_out += 1;
      rep.bytes_in += out.old_file_bytes;
      rep.bytes_out += out.new_file_bytes;
      rep.blocks_moved += out.blocks_moved;
    }
    if (progress) progress("merge_segment", done, runs.size());
  }
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return rep;
}

}  // namespace callvault
