// End-to-end tests of the store: writer -> index -> search/read, integrity, plaintext
// grep, format refusal, key file mode, rotation, destruction and holds.
#include "storage/store.h"

#include <rocksdb/db.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <csignal>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "appliance/common/time_util.h"
#include "storage/index/index_keys.h"
#include "storage/keys/key_ring.h"
#include "storage/maintenance/segment_rewriter.h"
#include "storage/segment/block_codec.h"
#include "storage/segment/segment_format.h"
#include "storage/store_impl.h"
#include "storage/testing/store_test_util.h"

namespace callvault {
namespace {

using testing::TempDir;

constexpr uint64_t kT0 = 1'780'000'000'000'000'000ull;  // 2026-05-28

struct Written {
  CallRecord record;
  std::vector<PlainBlock> blocks;
};

SearchCriteria ByAni(const std::string& ani) {
  SearchCriteria c;
  c.ani = ani;
  return c;
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    opts_ = testing::MakeOptions(dir_);
    ASSERT_TRUE(InitKeyFile(opts_.config.key_file).ok());
    Reopen();
  }
  void Reopen() {
    store_.reset();
    auto s = Store::Open(opts_);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }
  // Writes `n` calls one minute apart with a few blocks each; returns what was written.
  std::vector<Written> WriteCalls(int n, uint64_t t0 = kT0, int seed = 1) {
    std::mt19937_64 rng(seed);
    std::vector<Written> out;
    StoreWriter* w = store_->writer();
    for (int i = 0; i < n; ++i) {
      Written x;
      x.record = testing::RandomRecord(rng, t0 + uint64_t(i) * 60'000'000'000ull);
      w->OnCallStarted(x.record);
      uint64_t ts = x.record.start_ns;
      x.blocks.push_back(testing::RandomBlock(rng, x.record.call_id, StreamKind::kSignalling,
                                              0, 0, ts, 700));
      for (uint32_t seq = 0; seq < 2; ++seq) {
        for (uint16_t leg = 0; leg < 2; ++leg) {
          x.blocks.push_back(testing::RandomBlock(rng, x.record.call_id, StreamKind::kRtp, leg,
                                                  seq, ts + seq * 5'000'000'000ull,
                                                  1000 + rng() % 3000));
        }
      }
      for (auto b : x.blocks) EXPECT_TRUE(w->Push(std::move(b)));
      w->OnCallEnded(x.record);
      out.push_back(std::move(x));
    }
    EXPECT_TRUE(w->Flush().ok());
    return out;
  }
  std::vector<CallId> Ids(const std::vector<CallSummary>& v) {
    std::vector<CallId> out;
    for (const auto& s : v) out.push_back(s.record.call_id);
    return out;
  }
  // Edits the index directly (test hook: the live RocksDB behind the store).
  void RawEdit(const std::function<void(rocksdb::DB*, std::vector<rocksdb::ColumnFamilyHandle*>&)>& fn) {
    fn(store_->impl()->db.get(), store_->impl()->cf);
  }

  TempDir dir_;
  StoreOptions opts_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreTest, RoundTripRecordsAndBlocks) {
  auto written = WriteCalls(20);
  Reopen();  // everything acknowledged must survive a close
  for (const auto& x : written) {
    auto c = store_->GetCall(x.record.call_id);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_TRUE(testing::SameRecord(c->record, x.record));
    EXPECT_FALSE(c->held);
    EXPECT_EQ(c->blocks, x.blocks.size());
    std::map<std::tuple<int, int, uint32_t>, std::vector<uint8_t>> want;
    for (const auto& b : x.blocks) want[{int(b.info.kind), b.info.leg, b.info.seq}] = b.payload;
    std::size_t got = 0;
    ASSERT_TRUE(store_->ReadBlocks(x.record.call_id, {}, [&](const PlainBlock& b) {
      EXPECT_EQ(b.payload, (want[{int(b.info.kind), b.info.leg, b.info.seq}]));
      ++got;
      return true;
    }).ok());
    EXPECT_EQ(got, x.blocks.size());
    BlockFilter f;
    f.kind = StreamKind::kRtp;
    f.leg = 1;
    got = 0;
    ASSERT_TRUE(store_->ReadBlocks(x.record.call_id, f, [&](const PlainBlock& b) {
      EXPECT_EQ(b.info.leg, 1);
      EXPECT_EQ(b.info.kind, StreamKind::kRtp);
      ++got;
      return true;
    }).ok());
    EXPECT_EQ(got, 2u);
  }
  EXPECT_EQ(store_->GetCall(CallId{12345}).status().code(), absl::StatusCode::kNotFound);
  auto v = store_->Verify();
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->ok()) << v->ToStatus();
  EXPECT_EQ(v->calls, 20u);
  EXPECT_EQ(v->blocks, 20u * 5);
}

TEST_F(StoreTest, SearchMatchesBruteForce) {
  auto written = WriteCalls(60);
  auto expect = [&](const std::function<bool(const CallRecord&)>& pred, uint32_t limit) {
    std::vector<CallId> ids;
    for (const auto& x : written) {
      if (pred(x.record)) ids.push_back(x.record.call_id);
    }
    std::sort(ids.rbegin(), ids.rend());  // newest first
    if (limit && ids.size() > limit) ids.resize(limit);
    return ids;
  };
  const CallRecord& probe = written[17].record;
  SearchCriteria c;
  c.limit = 0;
  // ANI in several user forms.
  std::string digits = probe.ani.substr(1);
  for (std::string form : {probe.ani, digits, "tel:" + probe.ani,
                           fmt::format("+{} ({}) {}-{}", digits.substr(0, 1), digits.substr(1, 3),
                                       digits.substr(4, 3), digits.substr(7))}) {
    c = {};
    c.limit = 0;
    c.ani = form;
    auto r = store_->Search(c);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(Ids(*r), expect([&](const CallRecord& x) { return x.ani == probe.ani; }, 0))
        << form;
    EXPECT_FALSE(r->empty());
  }
  c = {};
  c.limit = 0;
  c.agent = "  " + probe.agent.name + " ";
  std::transform(c.agent.begin(), c.agent.end(), c.agent.begin(), ::toupper);
  auto r = store_->Search(c);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Ids(*r), expect([&](const CallRecord& x) { return x.agent.name == probe.agent.name; }, 0));
  EXPECT_GT(r->size(), 1u);
  c = {};
  c.limit = 3;
  c.agent = probe.agent.extension;
  r = store_->Search(c);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Ids(*r), expect([&](const CallRecord& x) { return x.agent.extension == probe.agent.extension; }, 3));
  // AND of agent + dialled-free time window + state
  c = {};
  c.limit = 0;
  c.agent = probe.agent.name;
  c.from_ns = kT0 + 10 * 60'000'000'000ull;
  c.to_ns = kT0 + 40 * 60'000'000'000ull;
  r = store_->Search(c);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Ids(*r), expect([&](const CallRecord& x) {
              return x.agent.name == probe.agent.name && x.start_ns >= c.from_ns &&
                     x.start_ns < c.to_ns;
            }, 0));
  c = {};
  c.limit = 0;
  c.dialled = probe.dialled;
  c.state = probe.state;
  r = store_->Search(c);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Ids(*r), expect([&](const CallRecord& x) {
              return x.dialled == probe.dialled && x.state == probe.state;
            }, 0));
  // time only, state only, limit
  c = {};
  c.limit = 7;
  c.from_ns = kT0 + 5 * 60'000'000'000ull;
  r = store_->Search(c);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Ids(*r), expect([&](const CallRecord& x) { return x.start_ns >= c.from_ns; }, 7));
  c = {};
  c.limit = 0;
  c.state = CallState::kFailed;
  r = store_->Search(c);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Ids(*r), expect([&](const CallRecord& x) { return x.state == CallState::kFailed; }, 0));
  c = {};
  c.ani = "+19999999999";
  r = store_->Search(c);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

TEST_F(StoreTest, UpdatedRecordMovesBlindIndexEntries) {
  std::mt19937_64 rng(3);
  CallRecord r = testing::RandomRecord(rng, kT0);
  r.agent = {};
  StoreWriter* w = store_->writer();
  w->OnCallStarted(r);
  ASSERT_TRUE(w->Flush().ok());
  r.agent.name = "Late Identified";
  r.ani = "+13125550199";
  w->OnCallUpdated(r);
  ASSERT_TRUE(w->Flush().ok());
  Reopen();
  r.agent.name = "Renamed Agent";
  store_->writer()->OnCallEnded(r);
  ASSERT_TRUE(store_->writer()->Flush().ok());
  SearchCriteria c;
  c.agent = "late identified";
  EXPECT_TRUE(store_->Search(c)->empty());
  c.agent = "renamed agent";
  EXPECT_EQ(store_->Search(c)->size(), 1u);
  c = {};
  c.ani = "+13125550199";
  EXPECT_EQ(store_->Search(c)->size(), 1u);
  auto v = store_->Verify();
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->ok()) << v->ToStatus();
}

// Searches every byte of every file for `needle`.
std::vector<std::string> Grep(const std::string& root, const std::string& needle) {
  std::vector<std::string> hits;
  for (const auto& f : testing::AllFiles(root)) {
    std::ifstream in(f, std::ios::binary);
    std::string s((std::istreambuf_iterator<char>(in)), {});
    if (s.find(needle) != std::string::npos) hits.push_back(f);
  }
  return hits;
}
std::string Utf16(const std::string& s) {
  std::string o;
  for (char c : s) {
    o.push_back(c);
    o.push_back('\0');
  }
  return o;
}

TEST_F(StoreTest, NoPlaintextPiiAnywhereOnDisk) {
  auto written = WriteCalls(15);
  ASSERT_TRUE(store_->AddHold({written[0].record.call_id, "CASE-77", "grievance Przybylski",
                               "admin", 0}).ok());
  // Also force memtables and WAL to SST files, and keep the WAL: both must be clean.
  ASSERT_TRUE(store_->CompactIndex().ok());
  auto more = WriteCalls(5, kT0 + 86'400'000'000'000ull, 9);  // second day, fresh WAL
  store_.reset();
  int checked = 0;
  for (const auto* set : {&written, &more}) {
    for (const auto& x : *set) {
      const auto& r = x.record;
      std::string d = r.ani.substr(1);
      std::string dd = r.dialled.substr(1);
      for (const std::string& needle :
           {r.ani, d, Utf16(r.ani), Utf16(d), r.dialled, dd, Utf16(dd), r.agent.name,
            Utf16(r.agent.name), r.agent.name.substr(0, r.agent.name.find(' ')),
            r.agent.name.substr(r.agent.name.find(' ') + 1)}) {
        auto hits = Grep(opts_.config.path, needle);
        EXPECT_TRUE(hits.empty()) << "found '" << needle << "' in " << hits.front();
        ++checked;
      }
    }
  }
  EXPECT_TRUE(Grep(opts_.config.path, "grievance").empty());
  EXPECT_GT(checked, 200);
  // The test itself can find a planted value (guards against a vacuous grep).
  std::ofstream(opts_.config.path + "/planted") << written[0].record.ani;
  EXPECT_EQ(Grep(opts_.config.path, written[0].record.ani).size(), 1u);
}

TEST_F(StoreTest, TamperedSegmentByteNamesCallAndBlock) {
  auto written = WriteCalls(3);
  auto segs = store_->ListSegments();
  ASSERT_TRUE(segs.ok());
  ASSERT_EQ(segs->size(), 1u);
  std::string path = segs->front().path;
  store_.reset();
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(32 + 80 + 10);  // inside the first block's ciphertext
    char c;
    f.seekg(32 + 80 + 10);
    f.get(c);
    f.seekp(32 + 80 + 10);
    f.put(char(c ^ 0x04));
  }
  Reopen();
  CallId first = written[0].record.call_id;
  absl::Status s = store_->ReadBlocks(first, {}, [](const PlainBlock&) { return true; });
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(std::string(s.message()).find("call " + first.ToString() + " sip leg 0 seq 0"),
            std::string::npos) << s;
  auto v = store_->Verify();
  ASSERT_TRUE(v.ok());
  ASSERT_EQ(v->problems.size(), 1u) << v->ToStatus();
  EXPECT_NE(v->problems[0].find(first.ToString()), std::string::npos);
  EXPECT_EQ(v->ToStatus().code(), absl::StatusCode::kDataLoss);
  // other calls remain readable
  EXPECT_TRUE(store_->ReadBlocks(written[1].record.call_id, {}, [](const PlainBlock&) { return true; }).ok());
}

TEST_F(StoreTest, EveryIndexValueTamperIsDetected) {
  auto written = WriteCalls(2);
  CallId id = written[0].record.call_id;
  std::string key = idx::IdKey(id);
  // For each CF holding a value of this call, flip each byte of it in turn (sampled).
  for (idx::Cf cf : {idx::kKeys, idx::kCalls, idx::kTime, idx::kBlocks}) {
    std::string k = cf == idx::kBlocks ? idx::BlockKey(id, StreamKind::kRtp, 1, 1) : key;
    std::string orig;
    RawEdit([&](rocksdb::DB* db, auto& h) {
      auto st = db->Get(rocksdb::ReadOptions(), h[cf], k, &orig);
      ASSERT_TRUE(st.ok()) << idx::kCfNames[cf] << " " << st.ToString();
    });
    for (std::size_t pos = 0; pos < orig.size(); pos += (cf == idx::kCalls ? 7 : 1)) {
      std::string t = orig;
      t[pos] ^= 0x10;
      RawEdit([&](rocksdb::DB* db, auto& h) { ASSERT_TRUE(db->Put({}, h[cf], k, t).ok()); });
      auto v = store_->Verify();
      ASSERT_TRUE(v.ok()) << v.status();
      ASSERT_FALSE(v->ok()) << idx::kCfNames[cf] << " byte " << pos << " undetected";
      EXPECT_NE(v->problems[0].find(id.ToString()), std::string::npos) << v->problems[0];
      if (cf == idx::kKeys || cf == idx::kCalls) {
        EXPECT_EQ(store_->GetCall(id).status().code(), absl::StatusCode::kDataLoss);
      }
    }
    RawEdit([&](rocksdb::DB* db, auto& h) { ASSERT_TRUE(db->Put({}, h[cf], k, orig).ok()); });
  }
  auto v = store_->Verify();
  EXPECT_TRUE(v->ok()) << v->ToStatus();
  // Moving one call's sealed record onto another call is detected too.
  RawEdit([&](rocksdb::DB* db, auto& h) {
    std::string other;
    ASSERT_TRUE(db->Get({}, h[idx::kCalls], idx::IdKey(written[1].record.call_id), &other).ok());
    ASSERT_TRUE(db->Put({}, h[idx::kCalls], key, other).ok());
  });
  EXPECT_EQ(store_->GetCall(id).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(StoreTest, NewerStoreFormatRefused) {
  store_.reset();
  std::ofstream(opts_.config.path + "/VERSION", std::ios::trunc) << "callvault-store 2\n";
  auto s = Store::Open(opts_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(s.status().message()).find("newer"), std::string::npos);
}

TEST_F(StoreTest, KeyFileReadableByOthersRefused) {
  store_.reset();
  ::chmod(opts_.config.key_file.c_str(), 0644);
  auto s = Store::Open(opts_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(s.status().message()).find(opts_.config.key_file), std::string::npos);
  EXPECT_NE(std::string(s.status().message()).find("0644"), std::string::npos);
}

TEST_F(StoreTest, WrongKeyFileIsIntegrityError) {
  auto written = WriteCalls(1);
  store_.reset();
  std::string other = dir_.path() + "/other.key";
  ASSERT_TRUE(InitKeyFile(other).ok());
  opts_.config.key_file = other;
  Reopen();
  EXPECT_EQ(store_->GetCall(written[0].record.call_id).status().code(),
            absl::StatusCode::kDataLoss);
}

std::string Slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// `keys status` names how new blocks are sealed, and the blocks written carry that format.
TEST_F(StoreTest, KeyStatusNamesTheBlockFormatItWrites) {
  WriteCalls(2);
  auto ks = store_->GetKeyStatus();
  ASSERT_TRUE(ks.ok());
  EXPECT_EQ(ks->block_format, uint16_t(PreferredBlockCipher()));
  EXPECT_EQ(ks->block_cipher, BlockCipherName(PreferredBlockCipher()));
  EXPECT_FALSE(ks->sealer.empty());
  auto segs = store_->ListSegments();
  ASSERT_TRUE(segs.ok());
  ASSERT_FALSE(segs->empty());
  const std::string bytes = Slurp(segs->front().path);
  ASSERT_GT(bytes.size(), kSegmentHeaderBytes + kBlockHeaderBytes);
  auto h = ParseBlockHeader(std::span<const uint8_t>(
      reinterpret_cast<const uint8_t*>(bytes.data()) + kSegmentHeaderBytes, kBlockHeaderBytes));
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->version, ks->block_format);
}

TEST_F(StoreTest, RotationRewrapsWithoutTouchingSegments) {
  auto written = WriteCalls(10);
  auto segs = *store_->ListSegments();
  std::map<std::string, std::string> before;
  for (const auto& s : segs) before[s.path] = Slurp(s.path);
  std::string search_before = Ids(*store_->Search(ByAni(written[3].record.ani)))[0].ToString();
  ASSERT_TRUE(store_->RotateKeys().ok());
  auto ks = store_->GetKeyStatus();
  ASSERT_TRUE(ks.ok());
  EXPECT_EQ(ks->current_kek_id, 2u);
  EXPECT_EQ(ks->keks_in_file, std::vector<uint32_t>{2});
  ASSERT_EQ(ks->wrapped_keys_by_kek.size(), 1u);
  EXPECT_EQ(ks->wrapped_keys_by_kek[0], (std::pair<uint32_t, uint64_t>{2, 10}));
  auto more = WriteCalls(3, kT0 + 3'600'000'000'000ull, 5);
  Reopen();  // from the rotated key file on disk
  for (const auto& s : segs) EXPECT_EQ(Slurp(s.path), before[s.path]);
  for (const auto* set : {&written, &more}) {
    for (const auto& x : *set) {
      auto c = store_->GetCall(x.record.call_id);
      ASSERT_TRUE(c.ok()) << c.status();
      EXPECT_TRUE(store_->ReadBlocks(x.record.call_id, {}, [](const PlainBlock&) { return true; }).ok());
    }
  }
  EXPECT_EQ(Ids(*store_->Search(ByAni(written[3].record.ani)))[0].ToString(), search_before);
  ASSERT_TRUE(store_->RotateKeys().ok());
  EXPECT_EQ(store_->GetKeyStatus()->current_kek_id, 3u);
  EXPECT_TRUE(store_->Verify()->ok());
}

TEST_F(StoreTest, DestroyIsCryptoShredAndExactAccounting) {
  auto written = WriteCalls(6);
  auto held = written[1].record.call_id;
  ASSERT_TRUE(store_->AddHold({held, "CASE-1", "investigation", "root", 0}).ok());
  std::vector<CallId> ids;
  uint64_t expect_bytes = 0;
  for (const auto& x : written) {
    ids.push_back(x.record.call_id);
    if (x.record.call_id != held) {
      for (const auto& b : x.blocks) expect_bytes += 80 + b.payload.size() + 16;
    }
  }
  ids.push_back(CallId{999});
  auto lst = store_->ListCalls(0, ~0ull);
  ASSERT_TRUE(lst.ok());
  ASSERT_EQ(lst->size(), 6u);
  EXPECT_TRUE(std::any_of(lst->begin(), lst->end(), [&](const CallListing& l) { return l.held; }));
  auto r = store_->DestroyCalls(ids);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->calls, 5u);
  EXPECT_EQ(r->bytes, expect_bytes);
  EXPECT_EQ(r->skipped_held, std::vector<CallId>{held});
  EXPECT_EQ(r->not_found, std::vector<CallId>{CallId{999}});
  for (const auto& x : written) {
    auto c = store_->GetCall(x.record.call_id);
    if (x.record.call_id == held) {
      EXPECT_TRUE(c.ok());
      EXPECT_TRUE(c->held);
    } else {
      EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
      EXPECT_TRUE(store_->Search(ByAni(x.record.ani))->empty() ||
                  x.record.ani == written[1].record.ani);
    }
  }
  auto segs = *store_->ListSegments();
  ASSERT_EQ(segs.size(), 1u);
  EXPECT_EQ(segs[0].dead_bytes, expect_bytes);
  EXPECT_EQ(segs[0].live_bytes + segs[0].dead_bytes + 32, segs[0].file_bytes);
  auto days = *store_->DiskUsageByDay();
  ASSERT_EQ(days.size(), 1u);
  EXPECT_EQ(days[0].dead_bytes, expect_bytes);
  EXPECT_EQ(days[0].day, DayOf(kT0));
  EXPECT_TRUE(store_->Verify()->ok()) << store_->Verify()->ToStatus();
  // release the hold, destroy the last call: the segment is all dead and can go
  // Not deleted while it holds live bytes.
  auto kept = DeleteDeadSegments(*store_, segs);
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_TRUE(kept->empty());
  EXPECT_EQ(store_->ListSegments()->size(), 1u);
  ASSERT_TRUE(store_->RemoveHold(held).ok());
  EXPECT_EQ(store_->RemoveHold(held).code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(store_->DestroyCalls(std::vector<CallId>{held}).ok());
  auto gone = DeleteDeadSegments(*store_, segs);
  ASSERT_TRUE(gone.ok()) << gone.status();
  ASSERT_EQ(gone->size(), 1u);
  EXPECT_EQ((*gone)[0].file_bytes, segs[0].file_bytes);
  struct stat st;
  EXPECT_NE(::stat(segs[0].path.c_str(), &st), 0);
  EXPECT_TRUE(store_->ListSegments()->empty());
  EXPECT_TRUE(store_->DiskUsageByDay()->empty());
  EXPECT_TRUE(store_->Verify()->ok());
  // idempotent
  auto again = store_->DestroyCalls(ids);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->calls, 0u);
}

TEST_F(StoreTest, HoldsAreSealedAndListed) {
  auto written = WriteCalls(3);
  HoldInfo h{written[2].record.call_id, "CASE-2026-9", "union grievance 4411", "alice", 42};
  ASSERT_TRUE(store_->AddHold(h).ok());
  EXPECT_EQ(store_->AddHold({CallId{5}, "x", "y", "z", 1}).code(), absl::StatusCode::kNotFound);
  auto l = store_->ListHolds();
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l->size(), 1u);
  EXPECT_EQ((*l)[0].case_id, "CASE-2026-9");
  EXPECT_EQ((*l)[0].reason, "union grievance 4411");
  EXPECT_EQ((*l)[0].who, "alice");
  EXPECT_EQ((*l)[0].when_ns, 42u);
  EXPECT_TRUE(*store_->IsHeld(h.call_id));
  EXPECT_FALSE(*store_->IsHeld(written[0].record.call_id));
}

// A legal hold placed while a purge is destroying calls is never lost: either the hold
// is in place before the destroy reads the holds (the call survives), or AddHold fails
// NotFound because the call is already gone. "Hold accepted and call destroyed" is the
// failure this guards against (AddHold is serialised with DestroyCalls).
TEST_F(StoreTest, HoldRacingADestroyIsNeverLost) {
  for (int round = 0; round < 8; ++round) {
    auto written = WriteCalls(300, kT0 + uint64_t(round) * 86'400'000'000'000ull, round + 7);
    std::vector<CallId> ids;
    for (const auto& x : written) ids.push_back(x.record.call_id);
    CallId target = ids[ids.size() / 2 + round * 10];
    absl::Status hold_status;
    std::thread holder([&] {
      std::this_thread::sleep_for(std::chrono::microseconds(200 * round));
      hold_status = store_->AddHold({target, "CASE-R", "race", "root", 0});
    });
    auto r = store_->DestroyCalls(ids);
    holder.join();
    ASSERT_TRUE(r.ok()) << r.status();
    auto held = store_->IsHeld(target);
    auto call = store_->GetCall(target);
    if (hold_status.ok()) {
      ASSERT_TRUE(held.ok() && *held) << "round " << round;
      EXPECT_TRUE(call.ok()) << "round " << round << ": held call destroyed";
      EXPECT_EQ(r->calls, ids.size() - 1);
      ASSERT_TRUE(store_->RemoveHold(target).ok());
      ASSERT_TRUE(store_->DestroyCalls(std::vector<CallId>{target}).ok());
    } else {
      EXPECT_EQ(hold_status.code(), absl::StatusCode::kNotFound) << hold_status;
      EXPECT_FALSE(call.ok());
      EXPECT_EQ(r->calls, ids.size());
    }
  }
}

TEST_F(StoreTest, StartupDiscardsUnsealedLeftovers) {
  WriteCalls(2);
  std::mt19937_64 rng(4);
  CallRecord r = testing::RandomRecord(rng, kT0 + 7'200'000'000'000ull);
  store_->writer()->OnCallStarted(r);
  ASSERT_TRUE(store_->writer()->Push(testing::RandomBlock(rng, r.call_id, StreamKind::kRtp, 0, 0, r.start_ns, 500)));
  // no Flush: the segment stays a .tmp; closing without sealing loses it by design
  std::string day = opts_.config.path + "/segments/" + DayString(DayOf(r.start_ns));
  auto count = [&](const char* suffix) {
    int n = 0;
    for (const auto& f : testing::AllFiles(day)) n += f.ends_with(suffix);
    return n;
  };
  ASSERT_EQ(count(".seg.tmp"), 1);
  ASSERT_EQ(count(".seg"), 1);  // the sealed segment of WriteCalls
  // a sealed-looking segment nobody indexed (crash between rename and WriteBatch)
  std::ofstream(day + "/00000000000000ff.seg") << "junk";
  ASSERT_EQ(count(".seg"), 2);
  Reopen();
  EXPECT_EQ(count(".seg.tmp"), 0);
  EXPECT_EQ(count(".seg"), 1);
  EXPECT_EQ(store_->GetCall(r.call_id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(store_->Verify()->ok());
}

TEST_F(StoreTest, IntervalModeSealsOnlyAfterInterval) {
  store_.reset();
  opts_.config.sync = "interval";
  opts_.config.sync_interval_ms = 60'000;
  Reopen();
  std::mt19937_64 rng(8);
  CallRecord r = testing::RandomRecord(rng, kT0);
  store_->writer()->OnCallStarted(r);
  ASSERT_TRUE(store_->writer()->Push(testing::RandomBlock(rng, r.call_id, StreamKind::kRtp, 0, 0, r.start_ns, 500)));
  ASSERT_TRUE(store_->writer()->Flush().ok());
  EXPECT_EQ(store_->GetCall(r.call_id).status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(store_->writer()->Sync().ok());
  EXPECT_TRUE(store_->GetCall(r.call_id).ok());
}

// FlushBehind() hands the seal to the sealer thread and returns; the next seal (or Sync)
// waits for it. A call that ended before a seal in flight and gets late blocks after it
// must keep its one data key: the writer may only forget it once that seal is in the
// index (a new key would make the earlier blocks unreadable).
TEST_F(StoreTest, FlushBehindSealsInOrderAndKeepsAnEndedCallsKey) {
  std::mt19937_64 rng(21);
  StoreWriter* w = store_->writer();
  CallRecord late = testing::RandomRecord(rng, kT0);
  std::vector<PlainBlock> late_blocks;
  auto push_late = [&](uint32_t seq) {
    late_blocks.push_back(testing::RandomBlock(rng, late.call_id, StreamKind::kRtp, 0, seq,
                                               late.start_ns + seq * 1'000'000'000ull, 900));
    PlainBlock copy = late_blocks.back();
    ASSERT_TRUE(w->Push(std::move(copy)));
  };
  w->OnCallStarted(late);
  push_late(0);
  w->OnCallEnded(late);
  ASSERT_TRUE(w->FlushBehind().ok());  // seal 1 in flight: the call is ended in it
  push_late(1);                        // a late block while seal 1 may still be running
  ASSERT_TRUE(w->FlushBehind().ok());  // waits for seal 1; the writer may forget the call
  push_late(2);                        // the key must come back from the index
  std::vector<Written> rounds;
  for (int round = 0; round < 6; ++round) {
    Written x;
    x.record = testing::RandomRecord(rng, kT0 + uint64_t(round + 1) * 60'000'000'000ull);
    w->OnCallStarted(x.record);
    for (uint32_t seq = 0; seq < 3; ++seq) {
      x.blocks.push_back(testing::RandomBlock(rng, x.record.call_id, StreamKind::kRtp, 1, seq,
                                              x.record.start_ns, 500 + rng() % 2000));
      PlainBlock copy = x.blocks.back();
      ASSERT_TRUE(w->Push(std::move(copy)));
    }
    w->OnCallEnded(x.record);
    ASSERT_TRUE(w->FlushBehind().ok());
    rounds.push_back(std::move(x));
  }
  ASSERT_TRUE(w->Sync().ok());  // waits for the last seal in flight
  Reopen();
  auto read_all = [&](CallId id) {
    std::map<uint32_t, std::vector<uint8_t>> got;
    absl::Status s = store_->ReadBlocks(id, {}, [&](const PlainBlock& b) {
      got[b.info.seq] = b.payload;
      return true;
    });
    EXPECT_TRUE(s.ok()) << s;
    return got;
  };
  auto got = read_all(late.call_id);
  ASSERT_EQ(got.size(), late_blocks.size());
  for (const auto& b : late_blocks) EXPECT_EQ(got[b.info.seq], b.payload) << b.info.seq;
  for (const auto& x : rounds) {
    ASSERT_TRUE(store_->GetCall(x.record.call_id).ok());
    auto blocks = read_all(x.record.call_id);
    ASSERT_EQ(blocks.size(), x.blocks.size());
    for (const auto& b : x.blocks) EXPECT_EQ(blocks[b.info.seq], b.payload);
  }
  auto v = store_->Verify();
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->ok()) << v->ToStatus();
  EXPECT_EQ(v->calls, 7u);
  EXPECT_EQ(v->blocks, 3u + 6u * 3u);
}

// A seal that fails on the sealer thread (here: its segment's directory vanished, so
// the rename fails) fails the writer at once: the next pushes are refused and counted,
// not written into segments that would never seal; FlushBehind and Sync return the error.
TEST_F(StoreTest, BackgroundSealFailureRefusesAndCountsWhatFollows) {
  std::mt19937_64 rng(31);
  StoreWriter* w = store_->writer();
  CallRecord r = testing::RandomRecord(rng, kT0);
  w->OnCallStarted(r);
  ASSERT_TRUE(w->Push(testing::RandomBlock(rng, r.call_id, StreamKind::kRtp, 0, 0, r.start_ns, 500)));
  std::filesystem::remove_all(opts_.config.path + "/segments/" + DayString(DayOf(r.start_ns)));
  ASSERT_TRUE(w->FlushBehind().ok());  // handed over; the rename will fail
  uint32_t seq = 1, refused = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (refused == 0 && std::chrono::steady_clock::now() < deadline) {
    if (!w->Push(testing::RandomBlock(rng, r.call_id, StreamKind::kRtp, 0, seq++, r.start_ns, 500))) {
      ++refused;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  ASSERT_EQ(refused, 1u) << "the writer went on accepting blocks after its seal failed";
  EXPECT_FALSE(w->Push(testing::RandomBlock(rng, r.call_id, StreamKind::kRtp, 0, seq++, r.start_ns, 500)));
  EXPECT_EQ(w->blocks_dropped(), 2u);
  EXPECT_FALSE(w->status().ok());
  EXPECT_NE(std::string(w->status().message()).find("rename"), std::string::npos) << w->status();
  EXPECT_FALSE(w->FlushBehind().ok());
  EXPECT_FALSE(w->Sync().ok());
}

// Sealed blocks reach the segment file a megabyte at a time. Many megabytes of blocks
// across those writes, sealed with some still pending, read back whole; and a write that
// fails (here: the file size limit) fails the writer: the push is refused and counted,
// the error names the segment write, and the unsealed data never reaches the index.
TEST_F(StoreTest, CoalescedSegmentWritesReadBackAndFailLoudly) {
  std::mt19937_64 rng(47);
  StoreWriter* w = store_->writer();
  CallRecord r = testing::RandomRecord(rng, kT0);
  w->OnCallStarted(r);
  std::vector<PlainBlock> kept;
  for (uint32_t seq = 0; seq < 200; ++seq) {  // ~3.2 MB: several coalesced writes
    kept.push_back(testing::RandomBlock(rng, r.call_id, StreamKind::kRtp, 0, seq, r.start_ns, 16000));
    PlainBlock copy = kept.back();
    ASSERT_TRUE(w->Push(std::move(copy)));
  }
  ASSERT_TRUE(w->Sync().ok());
  auto got = store_->GetCall(r.call_id);
  ASSERT_TRUE(got.ok()) << got.status();
  size_t n = 0;
  ASSERT_TRUE(store_->ReadBlocks(r.call_id, {}, [&](const PlainBlock& b) {
    EXPECT_LT(n, kept.size());
    if (n < kept.size()) {
      EXPECT_EQ(b.payload, kept[n].payload) << n;
    }
    ++n;
    return true;
  }).ok());
  EXPECT_EQ(n, kept.size());

  // Now the file size limit: the next segment cannot grow past 1.5 MB.
  struct sigaction ign{}, old_xfsz{};
  ign.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGXFSZ, &ign, &old_xfsz), 0);
  struct rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  struct rlimit lim = old;
  lim.rlim_cur = 1536u << 10;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &lim), 0);
  CallRecord r2 = testing::RandomRecord(rng, kT0 + 1);
  w->OnCallStarted(r2);
  uint32_t accepted = 0;
  bool refused = false;
  for (uint32_t seq = 0; seq < 400 && !refused; ++seq) {
    if (w->Push(testing::RandomBlock(rng, r2.call_id, StreamKind::kRtp, 0, seq, r2.start_ns, 16000))) {
      ++accepted;
    } else {
      refused = true;
    }
  }
  absl::Status sync = w->Sync();
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old), 0);
  ::sigaction(SIGXFSZ, &old_xfsz, nullptr);
  EXPECT_TRUE(refused) << "a failed segment write went unnoticed";
  EXPECT_GT(accepted, 60u);  // the first megabyte was written
  EXPECT_EQ(w->blocks_dropped(), 1u);
  EXPECT_FALSE(sync.ok());
  EXPECT_NE(std::string(w->status().message()).find("write segment"), std::string::npos)
      << w->status();
  size_t indexed = 0;
  (void)store_->ReadBlocks(r2.call_id, {}, [&](const PlainBlock&) { return ++indexed, true; });
  EXPECT_EQ(indexed, 0u);
}

TEST_F(StoreTest, SegmentRollsAtSegmentBytes) {
  store_.reset();
  opts_.config.segment_bytes = 10'000;
  Reopen();
  auto written = WriteCalls(5);
  EXPECT_GE(store_->ListSegments()->size(), 4u);
  for (const auto& x : written) EXPECT_TRUE(store_->GetCall(x.record.call_id).ok());
  EXPECT_TRUE(store_->Verify()->ok());
}

TEST_F(StoreTest, DerivedSubkeysStableAndDistinct) {
  auto a = store_->DeriveSubkey(16, "cvaudit_");
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(store_->RotateKeys().ok());
  auto b = store_->DeriveSubkey(16, "cvaudit_");
  EXPECT_EQ(*a, *b);
  EXPECT_NE(*a, *store_->DeriveSubkey(17, "cvaudit_"));
  EXPECT_FALSE(store_->DeriveSubkey(1, "cvblind_").ok());
  EXPECT_EQ(store_->BlindHex("ani", "+1 202 555 0143"), store_->BlindHex("ani", "12025550143"));
  EXPECT_EQ(store_->BlindHex("ani", "+12025550143").size(), 32u);
}

TEST_F(StoreTest, CompactSegmentsKeepsLiveBlocksOnly) {
  auto written = WriteCalls(8);
  auto segs = *store_->ListSegments();
  ASSERT_EQ(segs.size(), 1u);
  std::vector<CallId> gone;
  uint64_t dead = 0;
  for (int i = 0; i < 8; i += 2) {
    gone.push_back(written[i].record.call_id);
    for (const auto& b : written[i].blocks) dead += 80 + b.payload.size() + 16;
  }
  ASSERT_TRUE(store_->DestroyCalls(gone).ok());
  auto outs = CompactSegments(*store_, segs);
  ASSERT_TRUE(outs.ok()) << outs.status();
  ASSERT_EQ(outs->size(), 1u);
  EXPECT_EQ((*outs)[0].problem, "");
  EXPECT_EQ((*outs)[0].segments_in, 1u);
  EXPECT_EQ((*outs)[0].blocks_moved, 4u * 5u);  // 4 live calls of 5 blocks
  EXPECT_EQ((*outs)[0].old_file_bytes - (*outs)[0].new_file_bytes, dead);  // reclaimed
  auto after = *store_->ListSegments();
  ASSERT_EQ(after.size(), 1u);
  EXPECT_NE(after[0].segment_id, segs[0].segment_id);
  EXPECT_EQ(after[0].dead_bytes, 0u);
  EXPECT_EQ(after[0].file_bytes, segs[0].file_bytes - dead);
  struct stat st;
  EXPECT_NE(::stat(segs[0].path.c_str(), &st), 0);
  ASSERT_EQ(::stat(after[0].path.c_str(), &st), 0);
  EXPECT_EQ(uint64_t(st.st_size), after[0].file_bytes);
  auto days = *store_->DiskUsageByDay();
  ASSERT_EQ(days.size(), 1u);
  EXPECT_EQ(days[0].bytes, after[0].file_bytes);
  EXPECT_EQ(days[0].dead_bytes, 0u);
  for (int i = 1; i < 8; i += 2) {
    std::size_t n = 0;
    ASSERT_TRUE(store_->ReadBlocks(written[i].record.call_id, {}, [&](const PlainBlock& b) {
      auto it = std::find_if(written[i].blocks.begin(), written[i].blocks.end(),
                             [&](const PlainBlock& w) {
                               return w.info.kind == b.info.kind && w.info.leg == b.info.leg &&
                                      w.info.seq == b.info.seq;
                             });
      EXPECT_TRUE(it != written[i].blocks.end() && it->payload == b.payload);
      ++n;
      return true;
    }).ok());
    EXPECT_EQ(n, written[i].blocks.size());
  }
  auto v = store_->Verify();
  EXPECT_TRUE(v->ok()) << v->ToStatus();
  // New writes after a compaction do not collide with compacted segment ids.
  Reopen();
  WriteCalls(2, kT0 + 3'600'000'000'000ull, 3);
  auto segs2 = store_->ListSegments();
  ASSERT_TRUE(segs2.ok());
  for (const auto& s : *segs2) {
    if (s.segment_id != after[0].segment_id) {
      EXPECT_GT(s.segment_id, after[0].segment_id);  // the writer continues above it
    }
  }
  ASSERT_TRUE(store_->DestroyCalls(std::vector<CallId>{written[1].record.call_id}).ok());
  auto again = CompactSegments(*store_, {after[0]});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)[0].problem, "");
  EXPECT_EQ(store_->ListSegments()->size(), 2u);
  EXPECT_TRUE(store_->Verify()->ok());
}

TEST_F(StoreTest, RotationResumesAfterCrashBetweenSteps) {
  auto written = WriteCalls(4);
  store_.reset();
  {
    // Step 1 done (new KEK in the file), then "crash" before any re-wrap.
    auto ring = KeyRing::Load(opts_.config.key_file);
    ASSERT_TRUE(ring.ok());
    ASSERT_TRUE((*ring)->AddKek().ok());
  }
  Reopen();
  auto ks = store_->GetKeyStatus();
  ASSERT_TRUE(ks.ok());
  EXPECT_EQ(ks->keks_in_file, (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(ks->wrapped_keys_by_kek, (std::vector<std::pair<uint32_t, uint64_t>>{{1, 4}}));
  for (const auto& x : written) EXPECT_TRUE(store_->GetCall(x.record.call_id).ok());
  ASSERT_TRUE(store_->RotateKeys().ok());  // resumes: no third key
  ks = store_->GetKeyStatus();
  EXPECT_EQ(ks->keks_in_file, std::vector<uint32_t>{2});
  EXPECT_EQ(ks->wrapped_keys_by_kek, (std::vector<std::pair<uint32_t, uint64_t>>{{2, 4}}));
  Reopen();
  for (const auto& x : written) EXPECT_TRUE(store_->GetCall(x.record.call_id).ok());
}

}  // namespace
}  // namespace callvault
