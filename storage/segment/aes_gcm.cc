#include "storage/segment/aes_gcm.h"

#include <sodium.h>

#include <new>

#if CALLVAULT_HAVE_IPSEC_MB
#include <intel-ipsec-mb.h>
#endif

namespace callvault {

#if CALLVAULT_HAVE_IPSEC_MB
// Expanded per block (~0.15 us against ~1.25 us to seal 16 KiB). 64-byte aligned for the
// AVX-512 code: sodium_malloc places an object at the end of a page, so a size that is a
// multiple of 64 (alignas below) gives a 64-byte aligned address.
struct AesGcmEncryptor::IpsecMb {
  alignas(64) gcm_key_data key;
  alignas(64) gcm_context_data ctx;
  IMB_MGR* mgr = nullptr;
};

namespace {
const char* ArchName(IMB_ARCH a) {
  switch (a) {
    case IMB_ARCH_SSE: return "ipsec-mb " IMB_VERSION_STR " (sse)";
    case IMB_ARCH_AVX: return "ipsec-mb " IMB_VERSION_STR " (avx)";
    case IMB_ARCH_AVX2: return "ipsec-mb " IMB_VERSION_STR " (avx2)";
    case IMB_ARCH_AVX512: return "ipsec-mb " IMB_VERSION_STR " (avx512)";
    default: return "ipsec-mb " IMB_VERSION_STR;
  }
}
}  // namespace
#else
struct AesGcmEncryptor::IpsecMb {};
#endif

AesGcmEncryptor::AesGcmEncryptor(bool force_sodium) {
#if CALLVAULT_HAVE_IPSEC_MB
  static_assert(sizeof(IpsecMb) % 64 == 0, "sodium_malloc alignment, see IpsecMb");
  if (force_sodium || crypto_aead_aes256gcm_is_available() == 0) return;
  IMB_MGR* mgr = alloc_mb_mgr(0);
  if (mgr == nullptr) return;  // out of memory: libsodium still seals
  IMB_ARCH arch = IMB_ARCH_NONE;
  init_mb_mgr_auto(mgr, &arch);
  void* mem = sodium_malloc(sizeof(IpsecMb));
  if (imb_get_errno(mgr) != 0 || arch == IMB_ARCH_NONE || arch == IMB_ARCH_NOAESNI ||
      mem == nullptr) {
    if (mem != nullptr) sodium_free(mem);
    free_mb_mgr(mgr);
    return;
  }
  mb_ = new (mem) IpsecMb;
  mb_->mgr = mgr;
  name_ = ArchName(arch);
  impl_ = Impl::kIpsecMb;
#else
  (void)force_sodium;
#endif
}

AesGcmEncryptor::~AesGcmEncryptor() {
#if CALLVAULT_HAVE_IPSEC_MB
  if (mb_ != nullptr) {
    free_mb_mgr(mb_->mgr);
    sodium_free(mb_);  // wipes
  }
#endif
}

bool AesGcmEncryptor::Encrypt(const uint8_t* key, const uint8_t* nonce, const uint8_t* ad,
                              std::size_t ad_len, const uint8_t* in, std::size_t n,
                              uint8_t* out) {
#if CALLVAULT_HAVE_IPSEC_MB
  if (impl_ == Impl::kIpsecMb) {
    IMB_AES256_GCM_PRE(mb_->mgr, key, &mb_->key);
    IMB_AES256_GCM_ENC(mb_->mgr, &mb_->key, &mb_->ctx, out, in, n, nonce, ad, ad_len, out + n,
                       crypto_aead_aes256gcm_ABYTES);
    const bool ok = imb_get_errno(mb_->mgr) == 0;
    sodium_memzero(&mb_->key, sizeof mb_->key);
    sodium_memzero(&mb_->ctx, sizeof mb_->ctx);
    return ok;
  }
#endif
  unsigned long long clen = 0;
  return crypto_aead_aes256gcm_encrypt(out, &clen, in, n, ad, ad_len, nullptr, nonce, key) == 0;
}

}  // namespace callvault
