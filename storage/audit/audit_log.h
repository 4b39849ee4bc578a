// AuditLog: the tamper-evident, append-only access log (issue 6).
//
// Input: one AuditRecord per audited action (search, show, export, ingest, hold, purge,
// key operation, denial), from the command library (cli/commands), online (daemon control
// thread) or offline (the CLI process). Output: `<dir>/audit.log` and `<dir>/audit.head`.
// Thread: Append/List/Verify may be called from any thread of any process; appends are
// serialised with flock(2) on audit.log, so the daemon and offline CLIs can share a log.
//
// Format (version 1), one JSON object per line ("JSON lines"), keys sorted:
//   {"action":..,"call_ids":[..],"detail":{..},"mode":..,"prev":HEX,"result":..,
//    "role":..,"seq":N,"time":RFC3339,"time_ns":N,"uid":N,"user":..,"v":1,"mac":HEX}
// (the mac member is appended last, after the sorted keys).
// `mac` = BLAKE2b-256 keyed with the audit key over "callvault-audit-record-v1\0" and the
// line's JSON without "mac" (which contains seq and prev). `prev` is the previous record's
// mac (64 zeros for seq 1), so the records form a keyed hash chain: without the key
// nobody can alter a record, insert, remove or reorder records, or rebuild the chain after
// doing so. The key comes from the key file: the CLI and the daemon use
// Store::DeriveSubkey(0x41554449, "cvaudit1") (cli/commands/session.cc), stable across key
// rotation; DeriveAuditKey() does the same kind of derivation from a raw 32-byte secret.
//
// Truncation (cutting records off the end) leaves a valid chain, so the tail is also kept
// in `audit.head` = {"count":N,"last_mac":HEX,"mac":HEX}, the mac keyed over
// "callvault-audit-head-v1\0" + count + last_mac, rewritten (temp + fsync + rename) after
// every append (the directory is not synced: a lost rename leaves a lagging head, which
// is accepted). Verify() fails when the log holds fewer records than the head, or its last
// record differs from the head's. The log may hold MORE valid records than the head (a
// crash between the two writes); Verify accepts that and the next Append repairs the head.
// Limit, stated honestly: an attacker who restores an OLD copy of both files together
// (a rollback) is not detectable from the disk alone; ship the head to an external
// witness (syslog/SIEM) for that. PII never goes into a record: search criteria are
// recorded as blind-index values by the caller.
#ifndef CALLVAULT_STORAGE_AUDIT_AUDIT_LOG_H_
#define CALLVAULT_STORAGE_AUDIT_AUDIT_LOG_H_

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace callvault::audit {

inline constexpr std::size_t kAuditKeyBytes = 32;
using AuditKey = std::array<uint8_t, kAuditKeyBytes>;

// Derives the audit MAC key from the 32-byte master key (crypto_kdf, subkey id 0x41554449
// "AUDI", context "cvaudit1"). Deterministic, so every holder of the master key (daemon,
// offline CLI) gets the same audit key.
AuditKey DeriveAuditKey(std::span<const uint8_t> master_key);

struct AuditRecord {
  uint64_t seq = 0;        // 1-based position; assigned by Append
  uint64_t time_ns = 0;    // 0 = now, filled by Append
  uint32_t uid = 0;
  std::string user;        // user name of uid ("uid:1234" when unknown)
  std::string role;        // "admin", "reviewer", "auditor", "admin+auditor", "none"
  std::string action;      // "search", "show", "export", "ingest", "hold.add", ... "denied"
  std::vector<std::string> call_ids;
  nlohmann::json detail = nlohmann::json::object();  // criteria (blind index hex), files
  std::string result;      // "ok", "not_found", "denied", "error: <message>"
  std::string mode;        // "online" (daemon) or "offline" (CLI on the store)
};

nlohmann::json RecordToJson(const AuditRecord& r);

struct VerifyReport {
  uint64_t records = 0;    // records checked
  uint64_t head_count = 0; // records the head says exist
  bool ok = true;
  uint64_t first_bad = 0;  // seq (line number) of the first bad record, 0 if none
  std::string problem;     // one line, e.g. "record 5: MAC mismatch (altered)"
};

class AuditLog {
 public:
  // Opens (creating the directory and files, mode 0640/0750) the log in `dir`.
  static absl::StatusOr<AuditLog> Open(const std::string& dir, const AuditKey& key);

  // Appends one record (assigns seq, time_ns, prev, mac), fsyncs it, then updates the
  // head. Refuses (DataLoss) to append behind a tail record whose MAC is wrong.
  absl::Status Append(AuditRecord record);

  // Records with from_ns <= time_ns < to_ns (to_ns 0 = no limit), in log order. Records
  // are returned as they are on disk (run Verify for integrity).
  absl::StatusOr<std::vector<AuditRecord>> List(uint64_t from_ns, uint64_t to_ns) const;

  // Checks the whole chain and the head. Returns a report (ok or naming the first bad
  // record); a Status error only when the files cannot be read at all.
  absl::StatusOr<VerifyReport> Verify() const;

  const std::string& dir() const { return dir_; }
  std::string log_path() const { return dir_ + "/audit.log"; }
  std::string head_path() const { return dir_ + "/audit.head"; }

 private:
  AuditLog(std::string dir, const AuditKey& key) : dir_(std::move(dir)), key_(key) {}

  std::string dir_;
  AuditKey key_{};
};

}  // namespace callvault::audit

#endif  // CALLVAULT_STORAGE_AUDIT_AUDIT_LOG_H_
