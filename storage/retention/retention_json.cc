// RetentionReportJson (retention_json.h).
#include "storage/retention/retention_json.h"

#include "appliance/common/time_util.h"

namespace callvault::retention {

nlohmann::json RetentionReportJson(const RetentionReport& r) {
  nlohmann::json j;
  j["dry_run"] = r.dry_run;
  j["now"] = FormatRfc3339Ms(r.now_ns);
  j["cutoff"] = FormatRfc3339Ms(r.cutoff_ns);
  j["calls"] = r.calls;
  j["bytes"] = r.bytes;
  j["oldest_start"] = r.calls ? nlohmann::json(FormatRfc3339Ms(r.oldest_start_ns)) : nullptr;
  j["newest_start"] = r.calls ? nlohmann::json(FormatRfc3339Ms(r.newest_start_ns)) : nullptr;
  j["skipped_held"] = r.skipped_held;
  j["segments_deleted"] = r.segments_deleted;
  j["segments_compacted"] = r.segments_compacted;
  j["segments_merged"] = r.segments_merged;
  j["merge_outputs"] = r.merge_outputs;
  j["bytes_reclaimed"] = r.bytes_reclaimed;
  j["problems"] = r.problems;
  j["seconds"] = r.seconds;
  nlohmann::json ids = nlohmann::json::array();
  for (CallId id : r.purged) ids.push_back(id.ToString());
  j["ids"] = std::move(ids);
  return j;
}

}  // namespace callvault::retention
