#include "storage/keys/key_ring.h"

#include <sys/stat.h>

#include <fstream>

#include <gtest/gtest.h>

#include "storage/testing/store_test_util.h"

namespace callvault {
namespace {

std::string ReadAll(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void WriteAll(const std::string& p, const std::string& s) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << s;
}

TEST(KeyRing, InitCreatesPrivateFileAndRefusesOverwrite) {
  testing::TempDir d;
  std::string path = d.path() + "/k";
  auto id = KeyRing::InitFile(path);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, 1u);
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(KeyRing::InitFile(path).status().code(), absl::StatusCode::kAlreadyExists);
  auto r = KeyRing::Load(path);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->current_id(), 1u);
}

TEST(KeyRing, RefusesGroupOrOtherReadableFile) {
  testing::TempDir d;
  std::string path = d.path() + "/k";
  ASSERT_TRUE(KeyRing::InitFile(path).ok());
  for (mode_t m : {0640, 0604, 0660, 0644}) {
    ::chmod(path.c_str(), m);
    auto r = KeyRing::Load(path);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
    std::string msg(r.status().message());
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find(fmt::format("{:04o}", unsigned(m))), std::string::npos) << msg;
  }
  ::chmod(path.c_str(), 0400);
  EXPECT_TRUE(KeyRing::Load(path).ok());
}

TEST(KeyRing, CorruptOrNewerFileRejected) {
  testing::TempDir d;
  std::string path = d.path() + "/k";
  ASSERT_TRUE(KeyRing::InitFile(path).ok());
  std::string good = ReadAll(path);
  for (std::size_t pos = 0; pos < good.size(); ++pos) {
    std::string t = good;
    t[pos] ^= 0x20;
    WriteAll(path, t);
    EXPECT_FALSE(KeyRing::Load(path).ok()) << pos;
  }
  std::string newer = good;
  newer[8] = 2;
  WriteAll(path, newer);
  auto r = KeyRing::Load(path);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  WriteAll(path, good.substr(0, 40));
  EXPECT_FALSE(KeyRing::Load(path).ok());
}

TEST(KeyRing, WrapUnwrapAndTamper) {
  testing::TempDir d;
  std::string path = d.path() + "/k";
  ASSERT_TRUE(KeyRing::InitFile(path).ok());
  auto r = KeyRing::Load(path);
  ASSERT_TRUE(r.ok());
  KeyRing& k = **r;
  uint8_t dek[32], out[32];
  KeyRing::NewDek(dek);
  CallId id{0x1234};
  WrappedKey w = k.Wrap(dek, id);
  ASSERT_TRUE(k.Unwrap(w, id, out).ok());
  EXPECT_EQ(std::memcmp(dek, out, 32), 0);
  EXPECT_EQ(k.Unwrap(w, CallId{0x1235}, out).code(), absl::StatusCode::kDataLoss);
  for (std::size_t pos = 0; pos < w.size(); ++pos) {
    WrappedKey t = w;
    t[pos] ^= 1;
    absl::Status s = k.Unwrap(t, id, out);
    ASSERT_EQ(s.code(), absl::StatusCode::kDataLoss) << pos;
    EXPECT_NE(std::string(s.message()).find("0000000000001234"), std::string::npos);
  }
}

TEST(KeyRing, RotationKeepsBlindIndexAndRetiresOldKeys) {
  testing::TempDir d;
  std::string path = d.path() + "/k";
  ASSERT_TRUE(KeyRing::InitFile(path).ok());
  auto r = KeyRing::Load(path);
  ASSERT_TRUE(r.ok());
  KeyRing& k = **r;
  Blind before = k.BlindIndex("ani", "12025550143");
  uint8_t dek[32], out[32];
  KeyRing::NewDek(dek);
  WrappedKey old = k.Wrap(dek, CallId{9});
  ASSERT_TRUE(k.AddKek().ok());
  EXPECT_EQ(k.current_id(), 2u);
  EXPECT_EQ(KeyRing::WrappedKekId(k.Wrap(dek, CallId{9})), 2u);
  EXPECT_TRUE(k.Unwrap(old, CallId{9}, out).ok());  // both keys present mid-rotation
  auto reloaded = KeyRing::Load(path);
  ASSERT_TRUE(reloaded.ok());
  EXPECT_EQ((*reloaded)->ids(), (std::vector<uint32_t>{1, 2}));
  ASSERT_TRUE(k.RetireOldKeks().ok());
  EXPECT_EQ(k.ids(), std::vector<uint32_t>{2});
  EXPECT_EQ(k.Unwrap(old, CallId{9}, out).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(k.BlindIndex("ani", "12025550143"), before);
  EXPECT_NE(k.BlindIndex("dialled", "12025550143"), before);
}

}  // namespace
}  // namespace callvault
