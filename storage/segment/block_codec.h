// Sealed block formats 1 and 2 — one PlainBlock sealed under its call's data key, readable
// and verifiable on its own. The two differ only in the AEAD, named by the version:
//
//   header (80 bytes, little-endian, authenticated as AEAD associated data):
//     0 "CVBK" | 4 u16 format version | 6 u16 header length (80) | 8 u64 call id |
//     16 u16 leg | 18 u8 direction | 19 u8 kind | 20 u32 seq | 24 u64 first ts ns |
//     32 u64 last ts ns | 40 u32 frames | 44 u32 payload length | 48 nonce[24] |
//     72 u64 reserved (0)
//   ciphertext: AEAD(payload) + 16-byte tag (payload length + 16), where AEAD is
//     version 1: XChaCha20-Poly1305-IETF, nonce = the 24 nonce bytes;
//     version 2: AES-256-GCM, nonce = nonce bytes 0..11 (bytes 12..23 are zero).
//
// Writers use version 2 where the CPU has AES-NI and PCLMUL (sealed by ipsec-mb where the
// build has it, else libsodium: aes_gcm.h; on 16 KiB blocks ~10x and ~1.5x faster than
// XChaCha20 here), version 1 elsewhere; readers open both with libsodium (version 2 needs those
// instructions too: elsewhere it is refused by name, never misread). Nonces
// are random (no counter state to lose across crashes): 96 random bits are safe here
// because every key is one call's, which seals far fewer than 2^32 blocks. Any modified
// byte of header or ciphertext fails authentication, including the version (a block
// relabelled to the other cipher does not authenticate). Input: PlainBlock + 32-byte DEK.
// Thread: OpenBlock and ParseBlockHeader are pure functions; a BlockSealer belongs to one
// thread. OpenBlock never trusts a length it has not bounded.
#ifndef CALLVAULT_STORAGE_SEGMENT_BLOCK_CODEC_H_
#define CALLVAULT_STORAGE_SEGMENT_BLOCK_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "appliance/common/block.h"
#include "storage/segment/aes_gcm.h"

namespace callvault {

// The newest block format this build reads and writes.
inline constexpr uint16_t kBlockFormatVersion = 2;
inline constexpr std::size_t kBlockHeaderBytes = 80;
inline constexpr std::size_t kBlockTagBytes = 16;
inline constexpr uint32_t kMaxBlockPayload = 64u << 20;

inline std::size_t SealedBlockSize(std::size_t payload) {
  return kBlockHeaderBytes + payload + kBlockTagBytes;
}

struct BlockHeader {
  BlockInfo info;
  uint32_t payload_len = 0;
  uint16_t version = 0;
};

// The AEAD of a sealed block; its value is the block format version.
enum class BlockCipher : uint16_t { kXChaCha20Poly1305 = 1, kAes256Gcm = 2 };

// AES-256-GCM where this CPU runs libsodium's implementation, else XChaCha20-Poly1305.
// Needs sodium_init() first.
BlockCipher PreferredBlockCipher();
const char* BlockCipherName(BlockCipher c);

// Seals blocks for one writer: the cipher is fixed at construction, nonces come from a
// buffered pool of random bytes (one getrandom per few hundred blocks, not one per block).
// Not for sharing between threads (nor across fork(): a child would reuse the pool).
class BlockSealer {
 public:
  explicit BlockSealer(BlockCipher cipher = PreferredBlockCipher());
  // `force_sodium_aes`: AES-256-GCM through libsodium even where ipsec-mb is built in
  // (tests compare the two).
  BlockSealer(BlockCipher cipher, bool force_sodium_aes);
  BlockSealer(const BlockSealer&) = delete;
  BlockSealer& operator=(const BlockSealer&) = delete;

  // Appends the sealed block to `out` (callers reserve capacity to avoid reallocation).
  // False, with `out` as it was, when the cipher refused (AES-256-GCM on a CPU without
  // AES-NI/PCLMUL, or an implementation error): the caller fails rather than store it.
  [[nodiscard]] bool Seal(const BlockInfo& info, std::span<const uint8_t> payload,
                          const uint8_t* dek, std::vector<uint8_t>& out);
  BlockCipher cipher() const { return cipher_; }
  // Who seals: "ipsec-mb 1.3.0 (avx512)" or "libsodium".
  const char* implementation() const { return aes_.name(); }

 private:
  void Nonce(uint8_t* out, std::size_t n);

  BlockCipher cipher_;
  AesGcmEncryptor aes_;
  std::size_t used_;
  uint8_t pool_[4096];
};

// Parses and bounds-checks the header (no decryption). IntegrityError when malformed,
// FailedPrecondition when written by a newer format version.
[[nodiscard]] absl::StatusOr<BlockHeader> ParseBlockHeader(std::span<const uint8_t> bytes);

// Verifies and decrypts a whole sealed block (header + ciphertext, exact length), either
// version. `out->payload` is resized; errors name the call and the block.
[[nodiscard]] absl::Status OpenBlock(std::span<const uint8_t> sealed, const uint8_t* dek,
                                     PlainBlock* out);

// "call 0123456789abcdef rtp leg 1 seq 7"
std::string BlockName(const BlockInfo& info);

}  // namespace callvault

#endif  // CALLVAULT_STORAGE_SEGMENT_BLOCK_CODEC_H_
