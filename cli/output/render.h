// Human-readable output of command results (the default; --json prints the result as is).
// Input: the command, its sub-command and the response's "result" JSON (shapes in
// cli/commands/service.cc and shared/cli.md). Output: text for stdout. Pure.
#ifndef CALLVAULT_CLI_OUTPUT_RENDER_H_
#define CALLVAULT_CLI_OUTPUT_RENDER_H_

#include <string>

#include <nlohmann/json.hpp>

namespace callvault::cli {

std::string RenderHuman(const std::string& cmd, const std::string& sub,
                        const nlohmann::json& result);

// A fixed-width text table; columns are as wide as their widest cell.
std::string RenderTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows);

}  // namespace callvault::cli

#endif  // CALLVAULT_CLI_OUTPUT_RENDER_H_
