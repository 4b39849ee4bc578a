#include "cli/commands/hooks.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <utility>

#include <fmt/format.h>

#include "appliance/common/status.h"
#include "cli/commands/export_call.h"
#include "cli/commands/ingest.h"
#include "storage/retention/retention.h"
#include "storage/retention/retention_json.h"

namespace callvault::cli {

void InstallHooks(ServiceOptions& options, const Config* config) {
  options.export_call = ExportCall;
  auto cfg = std::make_shared<Config>(config != nullptr ? *config : Config{});
  options.ingest = [cfg](Store& store, const std::vector<std::string>& files,
                         const control::ProgressFn& progress) {
    return IngestFiles(*cfg, store, files, progress);
  };
  options.retention = [cfg](Store& store, bool dry_run, uint64_t now_ns,
                            const control::ProgressFn& progress)
      -> absl::StatusOr<RetentionResult> {
    retention::RetentionOptions ro;
    ro.max_age_months = cfg->retention.max_age_months;
    ro.compact_threshold = cfg->retention.compact_threshold;
    ro.merge_below_bytes = cfg->store.merge_below_bytes;  // nightly small-segment merge
    ro.merge_target_bytes = cfg->store.merge_target_bytes;
    ro.now_ns = now_ns;
    ro.dry_run = dry_run;
    retention::RetentionProgress rp;
    if (progress) {
      rp = [&progress](std::string_view stage, uint64_t done, uint64_t total) {
        progress(fmt::format("retention: {}", stage), done, total);
      };
    }
    ASSIGN_OR_RETURN(retention::RetentionReport report, retention::RunRetention(store, ro, rp));
    RetentionResult out;
    out.summary = retention::RetentionReportJson(report);
    for (CallId id : report.purged) out.purged.push_back(id.ToString());
    return out;
  };
}

}  // namespace callvault::cli
