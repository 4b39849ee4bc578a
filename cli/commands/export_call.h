// ExportCall: `callvault export CALL_ID (--wav | --pcap)` against a Store — the hook
// InstallHooks() installs as ServiceOptions::export_call.
//
// Input: the call id, the format ("wav" | "pcap") and a descriptor open for writing on a
// seekable regular file at offset 0: the CLI's temporary file BESIDE the destination
// (cli/main.cc creates it 0600 on the destination's file system, then fsyncs and renames
// it over the destination when export succeeds, and unlinks it on any error). Nothing is
// ever written inside the store directory: plaintext only goes to that descriptor.
// Output: a JSON summary (bytes, per-format counts, "warnings": one line per leg whose
// audio could not be produced, e.g. SRTP without recorded keys).
// Streaming: each stored stream (kind, leg) is pulled from the store one block at a time
// (Store::ReadBlocks with min_seq: read, verify, decrypt one block), and the WAV/pcap
// writers merge the streams by capture time. Memory bound: one decrypted block per
// stream (<= StoreConfig.block_bytes, 64 KiB by default; a call has a few streams per
// dialog) plus the WAV merge window (2 channels x ~1.5 s of samples, ~48 KiB at 8 kHz)
// and the SRTP contexts: independent of the call's length. `peak_block_bytes` in the
// result reports the decrypted block bytes held at once.
// Errors: NotFound (unknown call / no stored frames or audio), IntegrityError (a block
// fails verification: the export stops; the caller discards the partial file), I/O.
// Encrypted media (SRTP): decrypted with the SDES keys (RFC 4568) of the SENDER's SDP,
// re-read from the call's stored SIP (appliance/export/call_keys.h). Without keys
// (DTLS-SRTP, ZRTP, SIP over TLS or SIP not recorded) the leg's channel is silent and a
// warning line says why; the export still succeeds (the other party's audio is evidence
// too, and `--pcap` always gives the encrypted frames as captured). Packets no key
// authenticates are counted (`srtp_auth_failures`) and left silent.
#ifndef CALLVAULT_CLI_COMMANDS_EXPORT_CALL_H_
#define CALLVAULT_CLI_COMMANDS_EXPORT_CALL_H_

#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "appliance/control/server.h"
#include "storage/store.h"

namespace callvault::cli {

[[nodiscard]] absl::StatusOr<nlohmann::json> ExportCall(Store& store, CallId id,
                                                        const std::string& format, int fd,
                                                        const control::ProgressFn& progress);

}  // namespace callvault::cli

#endif  // CALLVAULT_CLI_COMMANDS_EXPORT_CALL_H_
