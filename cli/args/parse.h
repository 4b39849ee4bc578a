// Command-line parsing for `callvault` (shared/cli.md is the contract).
//
// Input: argv. Output: an Invocation — the global options (how to reach the store) and
// the command as a control-protocol request {"cmd":..,"args":{..}} (appliance/control/
// protocol.h), already validated: times parsed with ParseTime (ns since the epoch), phone
// numbers normalised to E.164, call ids checked with CallId::Parse, limits and states
// checked. The same request goes to the daemon (online) or to the local command service
// (offline); the service validates again (the daemon never trusts a client).
// Table-driven: kCommands lists every command, its sub-commands, positionals and flags;
// --help output is generated from the same table. Errors are InvalidArgument with one
// line naming the problem (exit 2). Pure: no I/O.
#ifndef CALLVAULT_CLI_ARGS_PARSE_H_
#define CALLVAULT_CLI_ARGS_PARSE_H_

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "appliance/calls/phone_number.h"

namespace callvault::cli {

struct GlobalOptions {
  std::string config;     // --config FILE
  std::string store;      // --store DIR
  std::string key_file;   // --key-file FILE
  bool offline = false;   // --offline: with --config, open the store instead of the daemon
};

struct Invocation {
  GlobalOptions global;
  bool help = false;          // print `help_text` and exit 0
  std::string help_text;
  bool version = false;
  std::string cmd;            // "search", "hold", ...
  std::string sub;            // "add", "list", ... ("" when the command has none)
  bool json = false;          // --json: machine output
  nlohmann::json args = nlohmann::json::object();  // validated arguments
  // Client-side only: the file export writes (--wav/--pcap FILE); not sent.
  std::string output_file;
};

// `phone` normalises --ani/--dialled. `argv[0]` is skipped.
[[nodiscard]] absl::StatusOr<Invocation> ParseCommandLine(const std::vector<std::string>& argv,
                                                          const calls::PhoneNormalizer& phone);

// The top-level usage text (command list).
std::string TopLevelHelp();

// Re-validates a request's arguments on the service side (the daemon cannot trust the
// client): the same checks as the parser, on JSON. Returns InvalidArgument naming the
// argument. Normalises phone numbers again.
[[nodiscard]] absl::Status ValidateRequest(nlohmann::json& request,
                                           const calls::PhoneNormalizer& phone);

}  // namespace callvault::cli

#endif  // CALLVAULT_CLI_ARGS_PARSE_H_
