// Store: the encrypted call store — sealed segment files plus the RocksDB index — and the
// API the CLI (search/show/export/hold/keys/verify), retention and the engine code against.
//
// Layout of a store directory (format version kStoreFormatVersion, docs/ARCHITECTURE.md):
//   <store>/VERSION                        "callvault-store <n>\n"; newer n is refused
//   <store>/index/                         RocksDB, one column family per access path
//   <store>/segments/YYYYMMDD/<id>.seg     sealed, immutable segment files (no PII in names)
//   <store>/segments/YYYYMMDD/<id>.seg.tmp a segment being written (discarded at start-up)
// The master key file (StoreConfig.key_file) lives outside the store (storage/keys).
//
// Ownership and threads: one Store per process (RocksDB holds a LOCK file). Reads
// (Search, GetCall, ReadBlocks, ListCalls, holds, Verify) are thread-safe and may run on
// any control thread. Exactly one thread may use the StoreWriter (the engine's writer
// thread, or the offline ingest). Key rotation and DestroyCall may run on a control thread
// while the writer runs.
//
// Errors: NotFound (unknown call), FailedPrecondition (bad key file mode, newer store
// format, store busy), DataLoss via IntegrityError() (tampered or corrupt data, wrong key:
// messages name the call and the block), Internal/ResourceExhausted for I/O.
// No plaintext PII (ANI, dialled number, agent name/extension) ever reaches the disk:
// records are sealed with the call's data key, searches use keyed blind indexes.
#ifndef CALLVAULT_STORAGE_STORE_H_
#define CALLVAULT_STORAGE_STORE_H_

#include <cstdint>
#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "appliance/common/block.h"
#include "appliance/common/call_id.h"
#include "appliance/common/call_record.h"
#include "appliance/config/config.h"

namespace callvault {

inline constexpr uint32_t kStoreFormatVersion = 1;

class StoreWriter;
class StoreImpl;

// Search criteria; all given criteria combine with AND. Empty strings / zero = not given.
// `ani` and `dialled` must be E.164 ("+12025550143"; the CLI normalises user input);
// matching ignores everything but the digits. `agent` matches the agent's name
// (case-insensitive, whitespace-collapsed) or, if it is all digits, the extension.
struct SearchCriteria {
  std::string agent;
  std::string agent_extension;  // explicit extension match
  std::string ani;
  std::string dialled;
  uint64_t from_ns = 0;            // start >= from (0 = open)
  uint64_t to_ns = 0;              // start <  to   (0 = open)
  std::optional<CallState> state;
  uint32_t limit = 100;            // 0 = unlimited
};

struct HoldInfo {
  CallId call_id;
  std::string case_id;
  std::string reason;
  std::string who;
  uint64_t when_ns = 0;
};

struct CallSummary {
  CallRecord record;
  bool held = false;
  uint64_t stored_bytes = 0;  // sealed block bytes of this call on disk
  uint32_t blocks = 0;
};

// Which blocks ReadBlocks() delivers. Empty optional = all.
struct BlockFilter {
  std::optional<StreamKind> kind;
  std::optional<uint16_t> leg;
  // Only blocks with seq >= min_seq. With kind and leg given, ReadBlocks seeks straight
  // to that block (export pulls one stream block by block in bounded memory).
  std::optional<uint32_t> min_seq;
};

// One stored stream of a call: its kind, leg and number of blocks (index keys only).
struct StreamListing {
  StreamKind kind = StreamKind::kSignalling;
  uint16_t leg = 0;
  uint32_t blocks = 0;
};

// One call as retention sees it (no PII; no unsealing needed).
struct CallListing {
  CallId call_id;
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;
  CallState state = CallState::kActive;
  bool held = false;
  uint64_t bytes = 0;   // sealed block bytes
  uint32_t blocks = 0;
};

struct KeyStatus {
  uint32_t current_kek_id = 0;
  std::vector<std::pair<uint32_t, uint64_t>> wrapped_keys_by_kek;  // (kek id, count)
  std::vector<uint32_t> keks_in_file;                               // ids only
  // How this build on this CPU seals new blocks: block format (1 or 2), its AEAD
  // ("aes256gcm", "xchacha20poly1305") and the library that runs it
  // ("ipsec-mb 1.3.0 (avx512)", "libsodium"). Readers open both formats.
  uint16_t block_format = 0;
  std::string block_cipher;
  std::string sealer;
};

struct DayUsage {
  uint32_t day = 0;        // days since the epoch (DayString() gives YYYYMMDD)
  uint64_t bytes = 0;      // segment file bytes in that bucket (live + dead)
  uint64_t dead_bytes = 0; // bytes of destroyed calls, reclaimable by compaction
  uint64_t segments = 0;
};

struct SegmentUsage {
  uint32_t day = 0;
  uint64_t segment_id = 0;
  uint64_t file_bytes = 0;
  uint64_t live_bytes = 0;
  uint64_t dead_bytes = 0;
  std::string path;
};

struct VerifyReport {
  uint64_t calls = 0, blocks = 0, block_bytes = 0, wrapped_keys = 0, index_entries = 0;
  uint64_t segments = 0;
  std::vector<std::string> problems;  // each names the call and block / key / entry
  bool ok() const { return problems.empty(); }
  // OK, or IntegrityError naming the first problem and the count.
  absl::Status ToStatus() const;
};

struct DestroyResult {
  uint64_t calls = 0;
  uint64_t bytes = 0;   // block bytes that became dead
  std::vector<CallId> skipped_held;  // in id order
  std::vector<CallId> not_found;     // in id order
};

struct StoreOptions {
  StoreConfig config;       // path, key_file, thresholds, sync mode
  bool create = false;      // create the store directory if missing
  bool read_only = false;   // no writer; does not discard leftovers
};

class Store {
 public:
  // Opens (or creates) the store: checks the VERSION file (a newer format is refused),
  // loads the key file (refused when readable by group/others), opens RocksDB and, unless
  // read_only, discards unsealed segment leftovers (*.tmp and sealed-but-unindexed
  // segments of an interrupted flush).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Store>> Open(const StoreOptions& opts);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // The single writer. Valid until the Store is destroyed; nullptr when read_only.
  StoreWriter* writer();

  // --- queries (thread-safe) -----------------------------------------------------------
  // Newest first. Seeks on the most selective blind index, filters the rest after
  // unsealing. Integrity failures of a candidate are returned as errors, never skipped.
  [[nodiscard]] absl::StatusOr<std::vector<CallSummary>> Search(const SearchCriteria& c);
  [[nodiscard]] absl::StatusOr<CallSummary> GetCall(CallId id);
  // Verifies and decrypts each block of the call in (kind, leg, seq) order and passes it
  // to `fn`; stops at the first error (IntegrityError naming call and block) or when fn
  // returns false.
  [[nodiscard]] absl::Status ReadBlocks(
      CallId id, const BlockFilter& filter,
      const std::function<bool(const PlainBlock&)>& fn);
  // The streams (kind, leg) that have blocks, in (kind, leg) order; no unsealing.
  [[nodiscard]] absl::StatusOr<std::vector<StreamListing>> ListStreams(CallId id);
  // Calls whose start lies in [from_ns, to_ns), oldest first; no unsealing.
  [[nodiscard]] absl::StatusOr<std::vector<CallListing>> ListCalls(uint64_t from_ns,
                                                                   uint64_t to_ns);

  // --- legal holds -----------------------------------------------------------------------
  [[nodiscard]] absl::Status AddHold(const HoldInfo& hold);  // NotFound for unknown call
  [[nodiscard]] absl::Status RemoveHold(CallId id);          // NotFound when not held
  [[nodiscard]] absl::StatusOr<std::vector<HoldInfo>> ListHolds();
  [[nodiscard]] absl::StatusOr<bool> IsHeld(CallId id);

  // --- retention -------------------------------------------------------------------------
  // Destroys calls in synced WriteBatches of up to 65,536 calls, each call whole in one
  // batch: wrapped key (crypto-shred), record, every index entry and block location;
  // their block bytes are booked as dead per segment. Held calls are skipped (never
  // destroyed). Idempotent. Any order of ids; fastest in id order (storage/store_destroy.cc).
  [[nodiscard]] absl::StatusOr<DestroyResult> DestroyCalls(std::span<const CallId> ids);
  // Writes every memtable of the index to SST files (the WAL rolls). Retention calls it
  // before a large destroy: deletes then go into empty memtables, where the sorted
  // blind-index deletes land next to each other instead of between the day's writes.
  [[nodiscard]] absl::Status FlushIndex();
  [[nodiscard]] absl::StatusOr<std::vector<SegmentUsage>> ListSegments();
  // Deleting dead segments, compacting partly dead ones and merging small ones:
  // storage/maintenance/segment_rewriter.h and segment_merge.h.
  // Compacts the index over all column families so deleted keys leave SST files and WAL.
  [[nodiscard]] absl::Status CompactIndex();
  // The same guarantee for destroyed calls at the cost of what destroying touched (the
  // retention purge's step): the column families keyed by call id (calls, time, blocks,
  // keys, usage 'c') are compacted only from their first key up to the highest call id
  // DestroyCalls ever deleted (kept in the meta CF, written in the destroy batch itself,
  // so it survives a crash; ids sort by start, so for retention that is the oldest part
  // of the index); the blind indexes (ani, dialled, agent: keyed hashes, scattered) and
  // the small holds and meta whole; usage 'd'/'s' (day and segment accounting, no call
  // in them) are left to RocksDB's own compactions. Every memtable is flushed first,
  // so the WAL rolls. Afterwards no SST file or WAL holds a key or value of a destroyed
  // call. A store without the record (destroyed by an older build) is compacted whole.
  [[nodiscard]] absl::Status CompactDestroyed();
  [[nodiscard]] absl::StatusOr<std::vector<DayUsage>> DiskUsageByDay();

  // --- keys ------------------------------------------------------------------------------
  // Adds a new master key to the key file, re-wraps every data key under it (segment
  // files untouched), then retires the old master keys. Resumable after a crash.
  [[nodiscard]] absl::Status RotateKeys();
  [[nodiscard]] absl::StatusOr<KeyStatus> GetKeyStatus();
  // A 32-byte key for another subsystem (e.g. the audit log), derived with crypto_kdf
  // from the key file's stable root secret; `context` is exactly 8 characters.
  // Stable across RotateKeys(). The caller must wipe it (sodium_memzero) after use.
  [[nodiscard]] absl::StatusOr<std::array<uint8_t, 32>> DeriveSubkey(uint64_t subkey_id,
                                                                      const char (&context)[9]);
  // The keyed blind index of a value as stored ("ani", "dialled", "agent", "extension").
  // Lets the audit log record search criteria without plaintext PII. 16 bytes, hex.
  [[nodiscard]] std::string BlindHex(std::string_view kind, std::string_view value);

  // --- integrity ---------------------------------------------------------------------------
  // Checks every sealed block, wrapped key, record and index entry.
  [[nodiscard]] absl::StatusOr<VerifyReport> Verify();

  const StoreConfig& config() const;
  StoreImpl* impl() { return impl_.get(); }

 private:
  explicit Store(std::unique_ptr<StoreImpl> impl);
  std::unique_ptr<StoreImpl> impl_;
};

// Creates a new master key file (mode 0600) with a fresh master key (KEK) and a fresh
// root secret for blind indexes and derived keys. Refuses to overwrite an existing file
// (AlreadyExists). Returns the new key id.
[[nodiscard]] absl::StatusOr<uint32_t> InitKeyFile(const std::string& path);

// The writer the engine uses, on ONE thread. Push() seals each block at once (random
// nonce, the call's data key) and appends it to the open segment of its capture day;
// nothing is visible to readers until Flush() seals the segment:
//   write -> fsync(file) -> rename(.tmp -> .seg) -> fsync(dir) -> ONE synced WriteBatch
//   with the blocks' locations, new wrapped keys and call records/index entries.
// StoreConfig.sync: "flush" seals at every Flush() (loss window: what was pushed since the
// last Flush() returned); "interval" seals at the first Flush() after sync_interval_ms
// since the last seal (loss window: sync_interval_ms plus the engine's flush period).
// A segment also seals when it reaches segment_bytes. Each seal writes one segment per
// capture day touched, so the flush period bounds the segment count (1 s -> <= 86 400/day);
// the nightly merge (storage/maintenance/segment_merge.h) rewrites a closed day's small
// segments into large ones.
// Destroying the Store without Sync() discards what is unsealed, exactly like a crash.
// Push() runs on the writer thread (it does I/O and may allocate); the packet path hands
// blocks to that thread through a ring.
class StoreWriter : public BlockSink {
 public:
  virtual ~StoreWriter() = default;
  virtual void OnCallStarted(const CallRecord& r) = 0;
  virtual void OnCallUpdated(const CallRecord& r) = 0;
  virtual void OnCallEnded(const CallRecord& r) = 0;
  // Returns false (and counts a drop) only after a write error (see status()).
  bool Push(PlainBlock&& block) override = 0;
  // Makes everything pushed so far durable and visible (per the sync rule above).
  [[nodiscard]] virtual absl::Status Flush() = 0;
  // The same seal, but returns once it is handed to the writer's sealer thread, which
  // does the fsyncs and the index write while the caller goes on pushing (at most one
  // seal in flight: this first waits for the previous one, whose error it returns).
  // The capture engines use it; the loss window grows by one seal's disk time.
  [[nodiscard]] virtual absl::Status FlushBehind() = 0;
  // Seals regardless of the sync mode (used at shutdown / end of ingest).
  [[nodiscard]] virtual absl::Status Sync() = 0;
  // First write error since open (sticky), OK if none.
  virtual absl::Status status() const = 0;
  virtual uint64_t blocks_dropped() const = 0;
};

}  // namespace callvault

#endif  // CALLVAULT_STORAGE_STORE_H_
