// InstallHooks: wires the commands that other layers implement into ServiceOptions —
// ingest (appliance/pipeline), export encoders (appliance/export), retention
// (storage/retention). A hook left empty makes its command answer "not available in this
// build". Used by the CLI (offline) and callvaultd.
#ifndef CALLVAULT_CLI_COMMANDS_HOOKS_H_
#define CALLVAULT_CLI_COMMANDS_HOOKS_H_

#include "appliance/config/config.h"
#include "cli/commands/service.h"

namespace callvault::cli {

// `config` may be null (offline with --store/--key-file): defaults apply.
void InstallHooks(ServiceOptions& options, const Config* config);

}  // namespace callvault::cli

#endif  // CALLVAULT_CLI_COMMANDS_HOOKS_H_
