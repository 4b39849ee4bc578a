// AES-256-GCM encryption of block format 2, on the fastest implementation this build has.
//
// With Intel's ipsec-mb (libipsec-mb, the library under DPDK's AES-GCM crypto drivers; a
// dependency of libdpdk-dev) the writer seals with its AES-NI/VAES code, which picks the
// widest instructions of this CPU at start-up; without it, with libsodium. AES-256-GCM is
// one standard: both produce the same bytes for the same key, nonce, associated data and
// plaintext (tested), and readers open blocks with libsodium whichever sealed them.
// Input: 32-byte key, 12-byte nonce, associated data, plaintext. Output: ciphertext of
// the plaintext's length followed by the 16-byte tag. Callers check that the CPU has
// AES-NI and PCLMUL first (PreferredBlockCipher()); where it has not, Encrypt() fails.
// Key material: ipsec-mb's expanded key and GCM state live in sodium_malloc'd memory
// (locked, guarded) and are wiped after every block and when freed, like every key of
// storage/keys/key_ring.h. Thread: one object per thread.
#ifndef CALLVAULT_STORAGE_SEGMENT_AES_GCM_H_
#define CALLVAULT_STORAGE_SEGMENT_AES_GCM_H_

#include <cstddef>
#include <cstdint>

namespace callvault {

class AesGcmEncryptor {
 public:
  enum class Impl { kIpsecMb, kSodium };

  // The fastest implementation built in, or libsodium when `force_sodium`.
  explicit AesGcmEncryptor(bool force_sodium = false);
  ~AesGcmEncryptor();
  AesGcmEncryptor(const AesGcmEncryptor&) = delete;
  AesGcmEncryptor& operator=(const AesGcmEncryptor&) = delete;

  // Writes n + 16 bytes to `out` (which must not overlap `in`). False when the
  // implementation refused (no AES-NI/PCLMUL, or a parameter ipsec-mb rejects): `out`
  // then holds nothing usable.
  [[nodiscard]] bool Encrypt(const uint8_t* key, const uint8_t* nonce, const uint8_t* ad,
                             std::size_t ad_len, const uint8_t* in, std::size_t n, uint8_t* out);

  Impl impl() const { return impl_; }
  // "ipsec-mb 1.3.0 (avx512)" (the version it was built against) or "libsodium".
  const char* name() const { return name_; }

 private:
  struct IpsecMb;
  IpsecMb* mb_ = nullptr;  // sodium_malloc'd
  Impl impl_ = Impl::kSodium;
  const char* name_ = "libsodium";
};

}  // namespace callvault

#endif  // CALLVAULT_STORAGE_SEGMENT_AES_GCM_H_
