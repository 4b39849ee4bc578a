// RetentionReportJson: the `retention run --json` summary of a RetentionReport (no PII:
// call ids, counts, bytes, times). Used by the CLI hook (cli/commands/hooks.cc).
// Thread: pure.
#ifndef CALLVAULT_STORAGE_RETENTION_RETENTION_JSON_H_
#define CALLVAULT_STORAGE_RETENTION_RETENTION_JSON_H_

#include <nlohmann/json.hpp>

#include "storage/retention/retention.h"

namespace callvault::retention {

// {"dry_run","now","cutoff","calls","bytes","oldest_start","newest_start","skipped_held",
//  "segments_deleted","segments_compacted","segments_merged","merge_outputs",
//  "bytes_reclaimed","problems","seconds","ids"}
// Times are RFC 3339 (UTC, ms); oldest/newest are null when no call qualifies.
nlohmann::json RetentionReportJson(const RetentionReport& r);

}  // namespace callvault::retention

#endif  // CALLVAULT_STORAGE_RETENTION_RETENTION_JSON_H_
