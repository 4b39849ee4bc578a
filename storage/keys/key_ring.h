// KeyRing: the key hierarchy of a store, loaded from the master key file.
//
//   key file (mode 0600, outside the store)
//     root secret (32 B, stable across rotation) --crypto_kdf--> blind-index key (id 1,
//         context "cvblind_"), and subkeys for other subsystems (audit log: DeriveSubkey)
//     master keys / KEKs (32 B each, with a u32 id; the newest is current)
//   index "keys" column family: per call, its random data key (DEK) wrapped by a KEK with
//     XChaCha20-Poly1305-IETF, associated data = "cv-dek1" | call id (BE) | kek id (BE).
//
// The blind-index key is derived from the root secret, NOT from a KEK, so rotating the
// KEK does not invalidate the search index. Key file format v1 (little-endian):
//   "CVKEYFIL" | u32 version | u32 n_keks | u32 current id | root[32] |
//   n x (u32 id | u64 created_unix_s | key[32]) | BLAKE2b-256 of all preceding bytes
// Loading refuses a file accessible by group or others (FailedPrecondition naming the file
// and its mode), a newer version (FailedPrecondition) and a bad checksum (DataLoss).
// All key material lives in sodium_malloc'd memory and is wiped when freed.
//
// Thread-safety: all methods are safe to call concurrently (a mutex guards the KEK set;
// wrapping is per call, never per packet).
#ifndef CALLVAULT_STORAGE_KEYS_KEY_RING_H_
#define CALLVAULT_STORAGE_KEYS_KEY_RING_H_

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "appliance/common/call_id.h"
#include "storage/keys/secure_bytes.h"

namespace callvault {

inline constexpr uint32_t kKeyFileVersion = 1;
inline constexpr std::size_t kBlindBytes = 16;
// u8 version | u32 kek id | nonce[24] | ciphertext[32 + 16]
inline constexpr std::size_t kWrappedKeyBytes = 1 + 4 + 24 + 32 + 16;
using WrappedKey = std::array<uint8_t, kWrappedKeyBytes>;
using Blind = std::array<uint8_t, kBlindBytes>;

class KeyRing {
 public:
  // Creates a new key file (AlreadyExists if present). Returns the first KEK id (1).
  [[nodiscard]] static absl::StatusOr<uint32_t> InitFile(const std::string& path);
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<KeyRing>> Load(const std::string& path);

  uint32_t current_id() const;
  std::vector<uint32_t> ids() const;
  const std::string& path() const { return path_; }

  // A fresh random data key.
  static void NewDek(uint8_t* dek32) { randombytes_buf(dek32, kKeyBytes); }
  WrappedKey Wrap(const uint8_t* dek32, CallId call) const;  // under the current KEK
  // IntegrityError when the value is malformed, its KEK is unknown, or it fails to open.
  [[nodiscard]] absl::Status Unwrap(std::span<const uint8_t> wrapped, CallId call,
                                    uint8_t* dek32_out) const;
  static uint32_t WrappedKekId(std::span<const uint8_t> wrapped);

  // Keyed BLAKE2b-128 of (kind, normalised value).
  Blind BlindIndex(std::string_view kind, std::string_view normalised) const;
  void DeriveSubkey(uint64_t id, const char ctx[8], uint8_t out32[32]) const;

  // Rotation step 1: a new KEK becomes current; the file is rewritten atomically.
  [[nodiscard]] absl::Status AddKek();
  // Rotation step 3: drop every KEK except the current one from the file and memory.
  [[nodiscard]] absl::Status RetireOldKeks();

 private:
  struct Kek {
    uint64_t created_s = 0;
    SecureBytes key;
  };
  KeyRing() = default;
  [[nodiscard]] absl::Status WriteFileLocked() const;

  std::string path_;
  mutable std::mutex mu_;
  SecureBytes root_;
  SecureBytes blind_key_;
  std::map<uint32_t, Kek> keks_;
  uint32_t current_ = 0;
};

}  // namespace callvault

#endif  // CALLVAULT_STORAGE_KEYS_KEY_RING_H_
