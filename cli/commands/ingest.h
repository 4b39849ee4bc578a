// IngestFiles: `callvault ingest FILE...` — runs capture files (pcap/pcapng) through the
// full pipeline (decode -> SIP -> calls -> media) into an open Store, file after file,
// each with its own pipeline (a file's calls end at its end).
//
// Output: a summary (files, frames, bytes, calls, blocks, drops by reason — only the
// non-zero ones —, seconds, frames/s) and the ids of the calls written. The store is
// flushed every second of capture time and at the end of each file, so an interrupted
// ingest keeps everything flushed before the interruption.
#ifndef CALLVAULT_CLI_COMMANDS_INGEST_H_
#define CALLVAULT_CLI_COMMANDS_INGEST_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "appliance/config/config.h"
#include "cli/commands/service.h"
#include "storage/store.h"

namespace callvault::cli {

[[nodiscard]] absl::StatusOr<IngestResult> IngestFiles(const Config& config, Store& store,
                                                      const std::vector<std::string>& files,
                                                      const control::ProgressFn& progress);

}  // namespace callvault::cli

#endif  // CALLVAULT_CLI_COMMANDS_INGEST_H_
