// The purge's ranged index compaction (Store::CompactDestroyed, retention step 4): no key
// version — value or tombstone — of a purged call is left in any column family, the live
// calls' entries all remain, and SST files holding only calls newer than every destroyed
// one are not rewritten. Checked on the index's logical content (every internal key
// version, rocksdb::GetAllKeyVersions) rather than by grepping bytes: SST keys are
// prefix-compressed, so an 8-byte call id need not appear verbatim even when present.
// (retention_test.cc greps the raw bytes of every file for values that must vanish.)
#include <gtest/gtest.h>
#include <rocksdb/metadata.h>
#include <rocksdb/utilities/debug.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "storage/index/index_keys.h"
#include "storage/retention/retention.h"
#include "storage/retention/retention_test_data.h"
#include "storage/store_impl.h"

namespace callvault::retention {
namespace {

using testdata::Planned;

// The call id a key of column family `cf` belongs to; nullopt for keys of no call
// (usage 'd'/'s', meta).
std::optional<uint64_t> IdOf(idx::Cf cf, const std::string& k) {
  switch (cf) {
    case idx::kAni:
    case idx::kDialled:
    case idx::kAgent:
      if (k.size() < 8) return std::nullopt;
      return ~idx::GetBe(k.data() + k.size() - 8, 8);
    case idx::kUsage:
      if (k.size() != 9 || k[0] != 'c') return std::nullopt;
      return idx::GetBe(k.data() + 1, 8);
    case idx::kMeta:
      return std::nullopt;
    default:
      if (k.size() < 8) return std::nullopt;
      return idx::GetBe(k.data(), 8);
  }
}

class RetentionCompactionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitKeyFile(testdata::Opts(dir_.path()).config.key_file).ok());
    Open();
    for (Planned& p : testdata::Plan()) (p.old ? old_ : young_).push_back(std::move(p));
  }
  void Open() {
    store_.reset();
    auto s = Store::Open(testdata::Opts(dir_.path()));
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }
  StoreImpl& impl() { return *store_->impl(); }
  void FlushIndex() {
    ASSERT_TRUE(impl().db->Flush(rocksdb::FlushOptions(), impl().cf).ok());
  }
  RetentionOptions Opt() {
    RetentionOptions o;
    o.now_ns = testdata::Now();
    o.destroy_batch = 5;
    return o;
  }
  // Every key version (values, merges and tombstones) in the index, as call ids per CF.
  std::vector<std::multiset<uint64_t>> IdsInIndex() {
    std::vector<std::multiset<uint64_t>> out(idx::kCfCount);
    for (int c = 0; c < idx::kCfCount; ++c) {
      std::vector<rocksdb::KeyVersion> kv;
      EXPECT_TRUE(rocksdb::GetAllKeyVersions(impl().db.get(), impl().cf[std::size_t(c)], "",
                                             "", 1u << 24, &kv)
                      .ok());
      for (const auto& v : kv) {
        if (auto id = IdOf(idx::Cf(c), v.user_key)) out[std::size_t(c)].insert(*id);
      }
    }
    return out;
  }
  // SST files of the id-keyed column families whose smallest key is above `id`.
  std::set<std::string> FilesAbove(uint64_t id) {
    std::vector<rocksdb::LiveFileMetaData> files;
    impl().db->GetLiveFilesMetaData(&files);
    std::set<std::string> out;
    for (const auto& f : files) {
      bool by_id = f.column_family_name == "calls" || f.column_family_name == "time" ||
                   f.column_family_name == "blocks" || f.column_family_name == "keys";
      if (by_id && f.smallestkey.size() >= 8 && idx::GetBe(f.smallestkey.data(), 8) > id) {
        out.insert(f.relative_filename);
      }
    }
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<Store> store_;
  std::vector<Planned> old_, young_;  // either side of the cutoff
};

// A real store's shape: the old calls compacted into the bottommost level long ago, the
// young ones in newer files. The purge compacts the old range and the blind indexes.
TEST_F(RetentionCompactionTest, NoKeyOfAPurgedCallLeftAndNewerFilesUntouched) {
  testdata::Write(*store_, old_);
  ASSERT_TRUE(store_->CompactIndex().ok());
  testdata::Write(*store_, young_);
  FlushIndex();
  std::set<uint64_t> purged, live;
  uint64_t highest_purged = 0;
  for (const Planned& p : old_) {
    (p.expect_purged() ? purged : live).insert(p.record.call_id.value);
    if (p.expect_purged()) highest_purged = std::max(highest_purged, p.record.call_id.value);
  }
  for (const Planned& p : young_) live.insert(p.record.call_id.value);
  const std::set<std::string> newer_files = FilesAbove(highest_purged);
  ASSERT_FALSE(newer_files.empty()) << "the young calls must have files of their own";
  auto before = IdsInIndex();
  for (uint64_t id : purged) ASSERT_GT(before[idx::kAni].count(id), 0u) << "test sees keys";

  auto r = RunRetention(*store_, Opt());
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->calls, purged.size());

  auto after = IdsInIndex();
  for (int c = 0; c < idx::kCfCount; ++c) {
    for (uint64_t id : purged) {
      EXPECT_EQ(after[std::size_t(c)].count(id), 0u)
          << idx::kCfNames[c] << " still holds a key version of purged call "
          << CallId{id}.ToString();
    }
  }
  for (uint64_t id : live) {
    for (idx::Cf c : {idx::kCalls, idx::kTime, idx::kKeys, idx::kBlocks, idx::kAni,
                      idx::kDialled, idx::kAgent, idx::kUsage}) {
      EXPECT_GT(after[c].count(id), 0u) << idx::kCfNames[c] << " lost live call "
                                        << CallId{id}.ToString();
    }
  }
  // Ranged: the files of calls newer than every destroyed one were not rewritten.
  std::set<std::string> now = FilesAbove(highest_purged);
  for (const std::string& f : newer_files) EXPECT_EQ(now.count(f), 1u) << f << " rewritten";
  // No SST file on disk beside the live ones (an obsolete file would keep old keys).
  std::vector<rocksdb::LiveFileMetaData> files;
  impl().db->GetLiveFilesMetaData(&files);
  std::set<std::string> live_ssts, on_disk;
  for (const auto& f : files) live_ssts.insert(f.relative_filename);
  for (const auto& e : std::filesystem::directory_iterator(store_->config().path + "/index")) {
    if (e.path().extension() == ".sst") on_disk.insert(e.path().filename().string());
  }
  EXPECT_EQ(on_disk, live_ssts);
  EXPECT_TRUE(store_->Verify()->ok()) << store_->Verify()->ToStatus();
}

// A crash after the destroy, before the index compaction: the next run selects nothing
// new, yet its compaction covers the calls the interrupted run destroyed (the highest
// destroyed id is recorded in the destroy batch itself).
TEST_F(RetentionCompactionTest, RerunAfterACrashCompactsWhatTheEarlierRunDestroyed) {
  testdata::Write(*store_, old_);
  testdata::Write(*store_, young_);
  std::vector<CallId> victims;
  for (const Planned& p : old_) {
    if (p.expect_purged()) victims.push_back(p.record.call_id);
  }
  ASSERT_TRUE(store_->DestroyCalls(victims).ok());  // ... and the process dies here
  Open();
  auto r = RunRetention(*store_, Opt());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->calls, 0u);
  auto after = IdsInIndex();
  for (int c = 0; c < idx::kCfCount; ++c) {
    for (CallId id : victims) {
      EXPECT_EQ(after[std::size_t(c)].count(id.value), 0u)
          << idx::kCfNames[c] << " still holds " << id.ToString();
    }
  }
  for (const Planned& p : young_) testdata::ExpectIntact(*store_, p);
}

// A store whose calls were destroyed by a build that kept no record of the highest id:
// CompactDestroyed falls back to compacting every column family whole.
TEST_F(RetentionCompactionTest, WithoutTheRecordEverythingIsCompacted) {
  testdata::Write(*store_, old_);
  testdata::Write(*store_, young_);
  std::vector<CallId> victims;
  for (const Planned& p : old_) {
    if (p.expect_purged()) victims.push_back(p.record.call_id);
  }
  ASSERT_TRUE(store_->DestroyCalls(victims).ok());
  ASSERT_TRUE(impl()
                  .db->Delete(rocksdb::WriteOptions(), impl().h(idx::kMeta),
                              kMetaDestroyedMaxId)
                  .ok());
  ASSERT_TRUE(store_->CompactDestroyed().ok());
  auto after = IdsInIndex();
  for (int c = 0; c < idx::kCfCount; ++c) {
    for (CallId id : victims) EXPECT_EQ(after[std::size_t(c)].count(id.value), 0u);
  }
  EXPECT_TRUE(store_->Verify()->ok());
}

}  // namespace
}  // namespace callvault::retention
