// Sealed block format v1 — one PlainBlock sealed under its call's data key, readable and
// verifiable on its own.
//
//   header (80 bytes, little-endian, authenticated as AEAD associated data):
//     0 "CVBK" | 4 u16 format version | 6 u16 header length (80) | 8 u64 call id |
//     16 u16 leg | 18 u8 direction | 19 u8 kind | 20 u32 seq | 24 u64 first ts ns |
//     32 u64 last ts ns | 40 u32 frames | 44 u32 payload length | 48 nonce[24] |
//     72 u64 reserved (0)
//   ciphertext: XChaCha20-Poly1305-IETF(payload) + 16-byte tag (payload length + 16)
//
// The nonce is random (24 bytes: no counter state to lose across crashes). Any modified
// byte of header or ciphertext fails authentication. Input: PlainBlock + 32-byte DEK.
// Thread: pure functions. OpenBlock never trusts a length it has not bounded.
#ifndef CALLVAULT_STORAGE_SEGMENT_BLOCK_CODEC_H_
#define CALLVAULT_STORAGE_SEGMENT_BLOCK_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "appliance/common/block.h"

namespace callvault {

inline constexpr uint16_t kBlockFormatVersion = 1;
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

// Appends the sealed block to `out` (callers reserve capacity to avoid reallocation).
void SealBlock(const BlockInfo& info, std::span<const uint8_t> payload, const uint8_t* dek,
               std::vector<uint8_t>& out);

// Parses and bounds-checks the header (no decryption). IntegrityError when malformed,
// FailedPrecondition when written by a newer format version.
[[nodiscard]] absl::StatusOr<BlockHeader> ParseBlockHeader(std::span<const uint8_t> bytes);

// Verifies and decrypts a whole sealed block (header + ciphertext, exact length).
// `out->payload` is resized; errors name the call and the block.
[[nodiscard]] absl::Status OpenBlock(std::span<const uint8_t> sealed, const uint8_t* dek,
                                     PlainBlock* out);

// "call 0123456789abcdef rtp leg 1 seq 7"
std::string BlockName(const BlockInfo& info);

}  // namespace callvault

#endif  // CALLVAULT_STORAGE_SEGMENT_BLOCK_CODEC_H_
