#include "storage/segment/block_codec.h"

#include <sodium.h>

#include <random>

#include <gtest/gtest.h>

#include "absl/status/status.h"

namespace callvault {
namespace {

class BlockCodecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(sodium_init(), 0);
    randombytes_buf(dek_, sizeof dek_);
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
};

TEST_F(BlockCodecTest, RoundTripRandomSizes) {
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

TEST_F(BlockCodecTest, PayloadNotInCiphertext) {
  std::vector<uint8_t> payload(1000, 'A');
  std::vector<uint8_t> sealed;
  SealBlock(Info(), payload, dek_, sealed);
  std::string s(sealed.begin(), sealed.end());
  EXPECT_EQ(s.find(std::string(16, 'A')), std::string::npos);
}

TEST_F(BlockCodecTest, EveryFlippedByteIsDetected) {
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

TEST_F(BlockCodecTest, ErrorNamesCallAndBlock) {
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

TEST_F(BlockCodecTest, TruncationAndWrongKeyRejected) {
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

TEST_F(BlockCodecTest, NewerVersionRefused) {
  std::vector<uint8_t> sealed;
  SealBlock(Info(), std::vector<uint8_t>(10, 1), dek_, sealed);
  sealed[4] = kBlockFormatVersion + 1;
  auto h = ParseBlockHeader(sealed);
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(h.status().message()).find("newer"), std::string::npos);
}

}  // namespace
}  // namespace callvault
