#include "storage/segment/aes_gcm.h"

#include <sodium.h>

#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace callvault {
namespace {

std::vector<uint8_t> Hex(const std::string& hex) {
  std::vector<uint8_t> out(hex.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = uint8_t(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  }
  return out;
}

class AesGcmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    if (crypto_aead_aes256gcm_is_available() == 0) {
      GTEST_SKIP() << "this CPU has no AES-NI/PCLMUL: block format 2 is not written here";
    }
  }
};

// The fast path must not fall back silently where the build has ipsec-mb.
TEST_F(AesGcmTest, DefaultIsIpsecMbWhereBuiltIn) {
  AesGcmEncryptor fast;
  AesGcmEncryptor sodium(true);
  EXPECT_EQ(sodium.impl(), AesGcmEncryptor::Impl::kSodium);
#if CALLVAULT_HAVE_IPSEC_MB
  EXPECT_EQ(fast.impl(), AesGcmEncryptor::Impl::kIpsecMb) << fast.name();
#else
  EXPECT_EQ(fast.impl(), AesGcmEncryptor::Impl::kSodium);
#endif
  std::printf("AES-256-GCM seals with %s\n", fast.name());
}

// The Galois/Counter Mode specification's test case 16 (AES-256, 96-bit IV, associated
// data, plaintext not a whole number of blocks), on both implementations.
TEST_F(AesGcmTest, KnownAnswerOnBothImplementations) {
  const auto key = Hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
  const auto iv = Hex("cafebabefacedbaddecaf888");
  const auto ad = Hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  const auto pt = Hex(
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf"
      "0e2449a6b525b16aedf5aa0de657ba637b39");
  const auto want = Hex(
      "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b0"
      "8b1056828838c5f61e6393ba7a0abcc9f662"
      "76fc6ece0f4e1768cddf8853bb2d551b");
  for (bool force_sodium : {false, true}) {
    AesGcmEncryptor e(force_sodium);
    std::vector<uint8_t> out(pt.size() + 16);
    ASSERT_TRUE(
        e.Encrypt(key.data(), iv.data(), ad.data(), ad.size(), pt.data(), pt.size(), out.data()));
    EXPECT_EQ(out, want) << e.name();
  }
}

// Same bytes from both for every length class (empty, partial and whole 16-byte blocks,
// the sizes blocks are sealed at), and libsodium opens what the fast path sealed.
TEST_F(AesGcmTest, BothImplementationsAgreeAndLibsodiumOpens) {
  AesGcmEncryptor fast;
  AesGcmEncryptor sodium(true);
  std::mt19937 rng(7);
  for (std::size_t n : {0u, 1u, 15u, 16u, 17u, 255u, 256u, 4095u, 16384u, 16400u, 65537u}) {
    std::vector<uint8_t> key(32), nonce(12), ad(80), pt(n);
    for (auto* v : {&key, &nonce, &ad, &pt}) {
      for (auto& b : *v) b = uint8_t(rng());
    }
    std::vector<uint8_t> a(n + 16), b(n + 16);
    ASSERT_TRUE(fast.Encrypt(key.data(), nonce.data(), ad.data(), ad.size(), pt.data(), n, a.data()));
    ASSERT_TRUE(
        sodium.Encrypt(key.data(), nonce.data(), ad.data(), ad.size(), pt.data(), n, b.data()));
    ASSERT_EQ(a, b) << "length " << n << " with " << fast.name();
    std::vector<uint8_t> back(n + 1);
    unsigned long long mlen = 0;
    ASSERT_EQ(crypto_aead_aes256gcm_decrypt(back.data(), &mlen, nullptr, a.data(), a.size(),
                                            ad.data(), ad.size(), nonce.data(), key.data()),
              0)
        << "length " << n;
    back.resize(mlen);
    EXPECT_EQ(back, pt);
  }
}

}  // namespace
}  // namespace callvault
