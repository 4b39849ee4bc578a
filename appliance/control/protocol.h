// The control-socket wire protocol between `callvault` (client) and callvaultd (server).
// Documented for operators and other clients in docs/CONTROL.md.
//
// Transport: a Unix-domain stream socket; one request and one final response per
// connection. Each message is a frame: a 4-byte big-endian length N (1..kMaxFrameBytes)
// followed by N bytes of UTF-8 JSON. A request frame may carry one file descriptor as
// SCM_RIGHTS ancillary data (export: the client opens the output file itself, so the
// daemon never writes to a path chosen by the caller, with the daemon's rights).
//   request:  {"v":1, "cmd":"search", "args":{...}}
//   progress: {"v":1, "progress":{"what":"export","done":N,"total":N}}   (zero or more)
//   response: {"v":1, "exit":0, "result":<json>}  or  {"v":1, "exit":3, "error":"..."}
// "exit" is the CLI exit code of shared/cli.md. A server answers a request with another
// "v" with exit 2 and an error naming both versions.
// Thread: the functions are stateless; each fd is used by one thread at a time.
#ifndef CALLVAULT_APPLIANCE_CONTROL_PROTOCOL_H_
#define CALLVAULT_APPLIANCE_CONTROL_PROTOCOL_H_

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace callvault::control {

inline constexpr int kProtocolVersion = 1;
inline constexpr uint32_t kMaxFrameBytes = 64u << 20;

// Writes one frame; when pass_fd >= 0 it travels with the frame's first byte.
[[nodiscard]] absl::Status WriteFrame(int sock, const nlohmann::json& msg, int pass_fd = -1);
// Reads one frame. If a descriptor arrived with it and received_fd is not null, it is
// stored there (else closed); *received_fd is -1 when none came. OutOfRange at a clean
// end of stream before the frame starts.
[[nodiscard]] absl::StatusOr<nlohmann::json> ReadFrame(int sock, int* received_fd = nullptr);

// Builders for the message shapes above.
nlohmann::json MakeRequest(const std::string& cmd, nlohmann::json args);
nlohmann::json MakeResponse(int exit_code, nlohmann::json result);
nlohmann::json MakeError(int exit_code, const std::string& message);
nlohmann::json MakeError(const absl::Status& status);  // exit from ExitCodeFor()
nlohmann::json MakeProgress(const std::string& what, uint64_t done, uint64_t total);

}  // namespace callvault::control

#endif  // CALLVAULT_APPLIANCE_CONTROL_PROTOCOL_H_
