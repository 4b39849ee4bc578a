#include "storage/segment/block_codec.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "absl/status/status.h"

namespace callvault {
namespace {

// Every case runs for both block formats (1: XChaCha20-Poly1305, 2: AES-256-GCM).
class BlockCodecTest : public ::testing::TestWithParam<BlockCipher> {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    if (GetParam() == BlockCipher::kAes256Gcm && crypto_aead_aes256gcm_is_available() == 0) {
      GTEST_SKIP() << "this CPU has no AES-NI/PCLMUL: block format 2 cannot be tested here";
    }
    randombytes_buf(dek_, sizeof dek_);
  }
  void SealBlock(const BlockInfo& info, std::span<const uint8_t> payload, const uint8_t* dek,
                 std::vector<uint8_t>& out) {
    ASSERT_TRUE(sealer_.Seal(info, payload, dek, out));
  }
  BlockInfo Info() {
    BlockInfo i;
    i.call_id = CallId{0x0123456789abcdefull};
    i.leg = 3;
    i.direction = 1;
    i.kind = StreamKind::kRtp;
    i.seq = 42;
    i.first_ts_ns = 1'700'000'000'000'000'000ull;
    i.last_ts_ns = i.first_ts_ns + 5'000'000'000ull;
    i.frames = 250;
    return i;
  }
  uint8_t dek_[32];
  BlockSealer sealer_{GetParam()};
};

TEST_P(BlockCodecTest, RoundTripRandomSizes) {
  std::mt19937_64 rng(7);
  for (std::size_t n : {0u, 1u, 15u, 16u, 17u, 160u, 4096u, 65536u, 100000u}) {
    std::vector<uint8_t> payload(n);
    for (auto& c : payload) c = uint8_t(rng());
    std::vector<uint8_t> sealed;
    SealBlock(Info(), payload, dek_, sealed);
    ASSERT_EQ(sealed.size(), kBlockHeaderBytes + n + kBlockTagBytes);
    PlainBlock out;
    ASSERT_TRUE(OpenBlock(sealed, dek_, &out).ok()) << n;
    EXPECT_EQ(out.payload, payload);
    EXPECT_EQ(out.info.call_id, Info().call_id);
    EXPECT_EQ(out.info.seq, 42u);
    EXPECT_EQ(out.info.leg, 3u);
    EXPECT_EQ(out.info.frames, 250u);
    EXPECT_EQ(out.info.first_ts_ns, Info().first_ts_ns);
    EXPECT_EQ(out.info.last_ts_ns, Info().last_ts_ns);
    EXPECT_EQ(out.info.kind, StreamKind::kRtp);
  }
}

TEST_P(BlockCodecTest, PayloadNotInCiphertext) {
  std::vector<uint8_t> payload(1000, 'A');
  std::vector<uint8_t> sealed;
  SealBlock(Info(), payload, dek_, sealed);
  std::string s(sealed.begin(), sealed.end());
  EXPECT_EQ(s.find(std::string(16, 'A')), std::string::npos);
}

TEST_P(BlockCodecTest, EveryFlippedByteIsDetected) {
  std::vector<uint8_t> payload = {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'};
  std::vector<uint8_t> sealed;
  SealBlock(Info(), payload, dek_, sealed);
  for (std::size_t pos = 0; pos < sealed.size(); ++pos) {
    for (uint8_t mask : {uint8_t(0x01), uint8_t(0x80), uint8_t(0xff)}) {
      std::vector<uint8_t> t = sealed;
      t[pos] ^= mask;
      PlainBlock out;
      absl::Status s = OpenBlock(t, dek_, &out);
      ASSERT_FALSE(s.ok()) << "flip at " << pos << " mask " << int(mask) << " undetected";
      EXPECT_TRUE(s.code() == absl::StatusCode::kDataLoss ||
                  s.code() == absl::StatusCode::kFailedPrecondition)
          << s;
      EXPECT_TRUE(out.payload.empty());
    }
  }
}

TEST_P(BlockCodecTest, ErrorNamesCallAndBlock) {
  std::vector<uint8_t> sealed;
  SealBlock(Info(), std::vector<uint8_t>(50, 1), dek_, sealed);
  sealed[kBlockHeaderBytes + 3] ^= 1;
  PlainBlock out;
  absl::Status s = OpenBlock(sealed, dek_, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(std::string(s.message()).find("call 0123456789abcdef rtp leg 3 seq 42"),
            std::string::npos)
      << s;
}

TEST_P(BlockCodecTest, TruncationAndWrongKeyRejected) {
  std::vector<uint8_t> sealed;
  SealBlock(Info(), std::vector<uint8_t>(300, 9), dek_, sealed);
  for (std::size_t n = 0; n < sealed.size(); ++n) {
    PlainBlock out;
    EXPECT_FALSE(OpenBlock(std::span(sealed.data(), n), dek_, &out).ok()) << n;
  }
  uint8_t other[32];
  randombytes_buf(other, 32);
  PlainBlock out;
  EXPECT_EQ(OpenBlock(sealed, other, &out).code(), absl::StatusCode::kDataLoss);
}

TEST_P(BlockCodecTest, NewerVersionRefused) {
  std::vector<uint8_t> sealed;
  SealBlock(Info(), std::vector<uint8_t>(10, 1), dek_, sealed);
  sealed[4] = uint8_t(kBlockFormatVersion + 1);
  auto h = ParseBlockHeader(sealed);
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(h.status().message()).find("newer"), std::string::npos);
}

TEST_P(BlockCodecTest, WrittenWithItsVersionAndAFreshNonce) {
  std::vector<uint8_t> a, b;
  SealBlock(Info(), std::vector<uint8_t>(10, 1), dek_, a);
  SealBlock(Info(), std::vector<uint8_t>(10, 1), dek_, b);
  auto h = ParseBlockHeader(a);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->version, uint16_t(GetParam()));
  EXPECT_NE(std::memcmp(a.data() + 48, b.data() + 48, 24), 0);  // same input, new nonce
  EXPECT_NE(a, b);
}

// Across several refills of the sealer's 4 KiB nonce pool (341 AES-GCM or 170 XChaCha
// nonces each), every block gets a nonce of its own and still opens.
TEST_P(BlockCodecTest, NoncesStayDistinctAcrossPoolRefills) {
  std::set<std::string> nonces;
  const std::size_t n = GetParam() == BlockCipher::kAes256Gcm ? 12 : 24;
  for (int i = 0; i < 2000; ++i) {
    std::vector<uint8_t> sealed;
    SealBlock(Info(), std::vector<uint8_t>(8, uint8_t(i)), dek_, sealed);
    nonces.insert(std::string(sealed.begin() + 48, sealed.begin() + 48 + std::ptrdiff_t(n)));
    EXPECT_TRUE(std::all_of(sealed.begin() + 48 + std::ptrdiff_t(n), sealed.begin() + 72,
                            [](uint8_t b) { return b == 0; }))
        << "unused nonce bytes are zero";
    PlainBlock out;
    ASSERT_TRUE(OpenBlock(sealed, dek_, &out).ok()) << i;
  }
  EXPECT_EQ(nonces.size(), 2000u);
}

TEST_P(BlockCodecTest, RelabelledToTheOtherCipherFailsAuthentication) {
  if (crypto_aead_aes256gcm_is_available() == 0) GTEST_SKIP() << "needs AES-NI";
  std::vector<uint8_t> sealed;
  SealBlock(Info(), std::vector<uint8_t>(100, 7), dek_, sealed);
  sealed[4] = GetParam() == BlockCipher::kAes256Gcm ? 1 : 2;
  PlainBlock out;
  EXPECT_EQ(OpenBlock(sealed, dek_, &out).code(), absl::StatusCode::kDataLoss);
}

INSTANTIATE_TEST_SUITE_P(Ciphers, BlockCodecTest,
                         ::testing::Values(BlockCipher::kXChaCha20Poly1305,
                                           BlockCipher::kAes256Gcm),
                         [](const auto& info) { return std::string(BlockCipherName(info.param)); });

// A block of format 1 as written by earlier builds (key 00..1f, nonce a0..b7, payload
// "hello world"): stores written then must stay readable.
TEST(BlockCodecCompat, Version1BlockFromEarlierBuildsOpens) {
  ASSERT_GE(sodium_init(), 0);
  const std::string hex =
      "4356424b01005000efcdab8967452301030001012a00000000002a36fe9c971700f22f60ff9c9717fa00"
      "00000b000000a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b700000000000000002d8966"
      "71d87dd3c3130349fb5b194e5720306f05e0248ab7606e30";
  std::vector<uint8_t> sealed(hex.size() / 2);
  for (std::size_t i = 0; i < sealed.size(); ++i) {
    sealed[i] = uint8_t(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  }
  uint8_t dek[32];
  for (int i = 0; i < 32; ++i) dek[i] = uint8_t(i);
  PlainBlock out;
  ASSERT_TRUE(OpenBlock(sealed, dek, &out).ok());
  EXPECT_EQ(std::string(out.payload.begin(), out.payload.end()), "hello world");
  EXPECT_EQ(out.info.call_id.value, 0x0123456789abcdefull);
  EXPECT_EQ(out.info.seq, 42u);
  EXPECT_EQ(out.info.frames, 250u);
}

}  // namespace
}  // namespace callvault
