#include "storage/audit/audit_log.h"

#include <sodium.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace callvault::audit {
namespace {

namespace fs = std::filesystem;

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cv_audit_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::vector<uint8_t> master(32, 7);
    key_ = DeriveAuditKey(master);
  }
  void TearDown() override { fs::remove_all(dir_); }

  AuditLog MakeLog(int records) {
    auto log = AuditLog::Open(dir_ + "/audit", key_);
    EXPECT_TRUE(log.ok()) << log.status();
    for (int i = 0; i < records; ++i) {
      AuditRecord r;
      r.uid = 1000 + i;
      r.user = "user" + std::to_string(i);
      r.role = "reviewer";
      r.action = "show";
      r.call_ids = {"0123456789abcdef"};
      r.result = "ok";
      r.mode = "offline";
      r.time_ns = 1000000000ull * (100 + i);
      EXPECT_TRUE(log->Append(r).ok());
    }
    return *std::move(log);
  }

  std::vector<std::string> ReadLines(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::string> v;
    for (std::string l; std::getline(in, l);) v.push_back(l);
    return v;
  }
  void WriteLines(const std::string& path, const std::vector<std::string>& v) {
    std::ofstream out(path, std::ios::trunc);
    for (const auto& l : v) out << l << "\n";
  }

  std::string dir_;
  AuditKey key_{};
};

TEST_F(AuditLogTest, AppendListVerify) {
  AuditLog log = MakeLog(5);
  auto rep = log.Verify();
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->ok) << rep->problem;
  EXPECT_EQ(rep->records, 5u);
  EXPECT_EQ(rep->head_count, 5u);
  auto all = log.List(0, 0);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 5u);
  EXPECT_EQ((*all)[2].seq, 3u);
  EXPECT_EQ((*all)[2].user, "user2");
  EXPECT_EQ((*all)[2].uid, 1002u);
  // Time window: [102 s, 104 s) holds records 3 and 4.
  auto some = log.List(102000000000ull, 104000000000ull);
  ASSERT_TRUE(some.ok());
  ASSERT_EQ(some->size(), 2u);
  EXPECT_EQ((*some)[0].seq, 3u);
  EXPECT_EQ((*some)[1].seq, 4u);
}

TEST_F(AuditLogTest, EmptyLogVerifies) {
  auto log = AuditLog::Open(dir_ + "/audit", key_);
  ASSERT_TRUE(log.ok());
  auto rep = log->Verify();
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->ok);
  EXPECT_EQ(rep->records, 0u);
}

TEST_F(AuditLogTest, AlteredRecordDetected) {
  AuditLog log = MakeLog(5);
  auto lines = ReadLines(log.log_path());
  auto pos = lines[2].find("user2");
  ASSERT_NE(pos, std::string::npos);
  lines[2][pos + 4] = '9';  // user2 -> user9
  WriteLines(log.log_path(), lines);
  auto rep = log.Verify();
  ASSERT_TRUE(rep.ok());
  EXPECT_FALSE(rep->ok);
  EXPECT_EQ(rep->first_bad, 3u);
  EXPECT_NE(rep->problem.find("MAC mismatch"), std::string::npos) << rep->problem;
}

TEST_F(AuditLogTest, RemovedRecordDetected) {
  AuditLog log = MakeLog(5);
  auto lines = ReadLines(log.log_path());
  lines.erase(lines.begin() + 1);
  WriteLines(log.log_path(), lines);
  auto rep = log.Verify();
  ASSERT_TRUE(rep.ok());
  EXPECT_FALSE(rep->ok);
  EXPECT_EQ(rep->first_bad, 2u);
}

TEST_F(AuditLogTest, ReorderedRecordsDetected) {
  AuditLog log = MakeLog(5);
  auto lines = ReadLines(log.log_path());
  std::swap(lines[3], lines[1]);
  WriteLines(log.log_path(), lines);
  auto rep = log.Verify();
  ASSERT_TRUE(rep.ok());
  EXPECT_FALSE(rep->ok);
  EXPECT_EQ(rep->first_bad, 2u);
}

TEST_F(AuditLogTest, TruncationDetected) {
  AuditLog log = MakeLog(5);
  auto lines = ReadLines(log.log_path());
  lines.resize(3);
  WriteLines(log.log_path(), lines);
  auto rep = log.Verify();
  ASSERT_TRUE(rep.ok());
  EXPECT_FALSE(rep->ok);
  EXPECT_EQ(rep->first_bad, 4u);
  EXPECT_NE(rep->problem.find("truncated"), std::string::npos) << rep->problem;
  // Appending behind a truncated log is refused.
  AuditRecord r;
  r.action = "search";
  EXPECT_EQ(log.Append(r).code(), absl::StatusCode::kDataLoss);
}

TEST_F(AuditLogTest, RebuiltChainWithoutKeyDetected) {
  // An attacker without the key rebuilds the whole chain after removing record 2 with a
  // key of their own: every MAC is wrong under the real key.
  AuditLog log = MakeLog(4);
  fs::path other = fs::path(dir_) / "forged";
  AuditKey wrong = DeriveAuditKey(std::vector<uint8_t>(32, 8));
  auto forged = AuditLog::Open(other.string(), wrong);
  ASSERT_TRUE(forged.ok());
  auto recs = log.List(0, 0);
  ASSERT_TRUE(recs.ok());
  for (std::size_t i = 0; i < recs->size(); ++i) {
    if (i == 1) continue;
    ASSERT_TRUE(forged->Append((*recs)[i]).ok());
  }
  fs::copy_file(forged->log_path(), log.log_path(), fs::copy_options::overwrite_existing);
  fs::copy_file(forged->head_path(), log.head_path(), fs::copy_options::overwrite_existing);
  auto rep = log.Verify();
  ASSERT_TRUE(rep.ok());
  EXPECT_FALSE(rep->ok);
  EXPECT_NE(rep->problem.find("head"), std::string::npos) << rep->problem;
}

TEST_F(AuditLogTest, HeadLaggingByCrashIsAccepted) {
  AuditLog log = MakeLog(3);
  std::string saved_head;
  {
    std::ifstream in(log.head_path());
    std::stringstream ss;
    ss << in.rdbuf();
    saved_head = ss.str();
  }
  AuditRecord r;
  r.action = "search";
  ASSERT_TRUE(log.Append(r).ok());
  // Crash between the record's fsync and the head rename: the old head is on disk.
  std::ofstream(log.head_path(), std::ios::trunc) << saved_head;
  auto rep = log.Verify();
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(rep->ok) << rep->problem;
  EXPECT_EQ(rep->records, 4u);
  ASSERT_TRUE(log.Append(r).ok());  // repairs the head
  rep = log.Verify();
  EXPECT_TRUE(rep->ok);
  EXPECT_EQ(rep->head_count, 5u);
}

TEST_F(AuditLogTest, AlteredHeadDetected) {
  AuditLog log = MakeLog(2);
  std::ofstream(log.head_path(), std::ios::trunc)
      << R"({"count":1,"last_mac":"00","mac":"00","v":1})" << "\n";
  auto rep = log.Verify();
  ASSERT_TRUE(rep.ok());
  EXPECT_FALSE(rep->ok);
}

TEST_F(AuditLogTest, KeyDerivationIsDeterministicAndKeyed) {
  std::vector<uint8_t> a(32, 1), b(32, 2);
  EXPECT_EQ(DeriveAuditKey(a), DeriveAuditKey(a));
  EXPECT_NE(DeriveAuditKey(a), DeriveAuditKey(b));
}

}  // namespace
}  // namespace callvault::audit
