// JSON shapes of shared/cli.md: the call summary (search) and the call object (show).
// Pure functions over storage's CallSummary; no I/O. Times are RFC 3339 with
// milliseconds in UTC; unknown times are null.
#ifndef CALLVAULT_CLI_COMMANDS_CALL_JSON_H_
#define CALLVAULT_CLI_COMMANDS_CALL_JSON_H_

#include <optional>

#include <nlohmann/json.hpp>

#include "storage/store.h"

namespace callvault::cli {

// The contract's call summary: call_id, sip_call_ids, start, answer, end, duration_s,
// state, sip_code, ani, dialled, agent{name,extension,id}, held, legs[], dtmf[].
nlohmann::json CallSummaryJson(const CallSummary& call);

// The summary plus detail: media_on_hold, stored_bytes, blocks, and the hold (case, reason,
// who, when) when held.
nlohmann::json CallDetailJson(const CallSummary& call, const std::optional<HoldInfo>& hold);

nlohmann::json HoldJson(const HoldInfo& hold);

}  // namespace callvault::cli

#endif  // CALLVAULT_CLI_COMMANDS_CALL_JSON_H_
