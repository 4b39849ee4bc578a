// StoreImpl: the internals behind Store (store.h). Not part of the public API; tests and
// storage/ files may use it.
#ifndef CALLVAULT_STORAGE_STORE_IMPL_H_
#define CALLVAULT_STORAGE_STORE_IMPL_H_

#include <rocksdb/db.h>

#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "storage/index/index_keys.h"
#include "storage/keys/key_ring.h"
#include "storage/store.h"

namespace callvault {

// meta CF: the highest call id Store::DestroyCalls ever deleted (u64 big-endian), Put in
// the destroy's own WriteBatch; Store::CompactDestroyed() compacts the id-keyed column
// families up to it.
inline constexpr std::string_view kMetaDestroyedMaxId = "destroy/max_id";

// Converts a rocksdb::Status (the boundary rule of style.md).
absl::Status FromRocks(const rocksdb::Status& s, std::string_view context);

// Sealed value in the index under a call's DEK: u8 1 | nonce[24] | ciphertext+tag.
// AD = purpose tag | call id (BE), so a value cannot be moved to another call or CF.
std::string SealValue(std::string_view purpose, CallId id, const uint8_t* dek,
                      std::string_view plain);
absl::StatusOr<std::string> OpenValue(std::string_view purpose, CallId id, const uint8_t* dek,
                                      std::string_view sealed);

class StoreImpl {
 public:
  ~StoreImpl();

  StoreOptions opts;
  std::unique_ptr<KeyRing> keys;
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> cf;  // indexed by idx::Cf
  // Writer seals (wrap + batch write) shared; rotation's final check + retire exclusive.
  std::shared_mutex rotation_mu;
  // Serialises the control-path mutators that rewrite many keys (rotation, destroy).
  std::mutex admin_mu;
  std::unique_ptr<StoreWriter> writer;

  rocksdb::ColumnFamilyHandle* h(idx::Cf c) { return cf[std::size_t(c)]; }
  std::string SegmentDir(uint32_t day) const;
  std::string SegmentPath(uint32_t day, uint64_t seg) const;

  // Reads and unwraps the call's DEK. NotFound when the call has no wrapped key (unknown
  // or destroyed), IntegrityError when it fails to open.
  absl::Status LoadDek(CallId id, SecureBytes* dek);
  absl::StatusOr<CallRecord> ReadRecord(CallId id, const uint8_t* dek);
  idx::SummaryValue SummaryOf(const CallRecord& r) const;
  absl::Status ReadBlock(CallId id, std::string_view key, std::string_view loc_value,
                         const uint8_t* dek, PlainBlock* out);
  absl::StatusOr<CallSummary> Summarise(CallId id, const CallRecord& r);
};

std::unique_ptr<StoreWriter> MakeStoreWriter(StoreImpl* impl);

}  // namespace callvault

#endif  // CALLVAULT_STORAGE_STORE_IMPL_H_
