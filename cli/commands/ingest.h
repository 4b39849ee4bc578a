// IngestFiles: `callvault ingest FILE...` — runs capture files (pcap/pcapng) through the
// full pipeline (decode -> SIP -> calls -> media) into an open Store, file after file,
// each with its own pipeline (a file's calls end at its end).
//
// Output: a summary (files, frames, bytes, calls, blocks, drops by reason — only the
// non-zero ones —, seconds, frames/s) and the ids of the calls written. The store is
// flushed every second of capture time and at the end of each file, so an interrupted
// ingest keeps everything flushed before the interruption.
//
// Disk pressure: the same policy as callvaultd (storage/retention/disk_guard.h). The
// store's file system is checked before each file and every second of capture time:
// below store.disk_floor_bytes an alarm line goes to the log (stderr) and everything is
// still recorded; below the hard reserve media blocks are dropped (counted as
// disk.media_disk_full, and only there: not also as media.sink_refused) while
// signalling blocks and call records are still written; recovery is automatic. Nothing
// stored is ever deleted to make room. The summary's "disk" object reports it:
//   {"state","worst_state","free_bytes","floor_bytes","reserve_bytes","media_disk_full"}
#ifndef CALLVAULT_CLI_COMMANDS_INGEST_H_
#define CALLVAULT_CLI_COMMANDS_INGEST_H_

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "appliance/config/config.h"
#include "cli/commands/service.h"
#include "storage/retention/disk_guard.h"
#include "storage/store.h"

namespace callvault::cli {

struct IngestDiskOptions {
  // Free-space probe of the store directory; empty = statvfs (tests inject their own).
  std::function<absl::StatusOr<retention::DiskSpace>(const std::string&)> stat;
  // One line per disk-pressure transition; empty = "callvault: ..." on stderr.
  std::function<void(std::string_view)> log;
  uint64_t hard_reserve_bytes = 64ull << 20;  // the daemon's default
};

[[nodiscard]] absl::StatusOr<IngestResult> IngestFiles(const Config& config, Store& store,
                                                      const std::vector<std::string>& files,
                                                      const control::ProgressFn& progress);
[[nodiscard]] absl::StatusOr<IngestResult> IngestFiles(const Config& config, Store& store,
                                                      const std::vector<std::string>& files,
                                                      const control::ProgressFn& progress,
                                                      const IngestDiskOptions& disk);

}  // namespace callvault::cli

#endif  // CALLVAULT_CLI_COMMANDS_INGEST_H_
