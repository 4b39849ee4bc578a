// Store: retention primitives, disk accounting, key rotation and status, Verify().
#include <sodium.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <shared_mutex>

#include <fmt/format.h>
#include <rocksdb/env.h>
#include <rocksdb/metadata.h>
#include <rocksdb/write_batch.h>

#include "appliance/common/status.h"
#include "appliance/common/time_util.h"
#include "storage/index/normalize.h"
#include "storage/index/record_codec.h"
#include "storage/segment/block_codec.h"
#include "storage/segment/segment_format.h"
#include "storage/store_impl.h"

namespace callvault {
namespace {

std::string_view AsView(const rocksdb::Slice& s) { return {s.data(), s.size()}; }
rocksdb::WriteOptions Synced() {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return wo;
}

// One manual compaction: a column family over [begin, end] (nullopt = that side open).
struct CompactTask {
  idx::Cf cf;
  std::optional<std::string> begin, end;
};

// Every memtable to SST files; the WAL rolls.
absl::Status FlushAll(StoreImpl& m) {
  return FromRocks(m.db->Flush(rocksdb::FlushOptions(), m.cf), "flush index");
}

// Flushes every memtable first (so the WAL rolls and deleted keys leave it too, and a
// ranged compaction sees every tombstone in an SST file), then runs the tasks on two
// threads, those of the largest column families first, then syncs the WAL.
// Deleted keys and their tombstones leave when they meet in the bottommost level;
// kForceOptimized still rewrites every older bottommost file in the range but not the
// files this same compaction just wrote there (kForce rewrote those a second time).
absl::Status RunCompactions(StoreImpl& m, std::vector<CompactTask> tasks) {
  RETURN_IF_ERROR(FlushAll(m));
  std::vector<uint64_t> bytes(m.cf.size());
  for (std::size_t i = 0; i < m.cf.size(); ++i) {
    rocksdb::ColumnFamilyMetaData md;
    m.db->GetColumnFamilyMetaData(m.cf[i], &md);
    bytes[i] = md.size;
  }
  std::stable_sort(tasks.begin(), tasks.end(), [&](const CompactTask& a, const CompactTask& b) {
    return bytes[std::size_t(a.cf)] > bytes[std::size_t(b.cf)];
  });
  rocksdb::CompactRangeOptions o;
  o.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForceOptimized;
  o.max_subcompactions = 2;
  // Two manual compactions at once (the appliance has two cores; this runs in the
  // nightly job). A manual compaction runs on RocksDB's LOW-priority pool, which
  // max_background_jobs = 2 sizes to ONE thread, and an exclusive one waits for every
  // other: so, not exclusive, and a second pool thread. Automatic compactions stay
  // limited by max_background_jobs; the extra thread only lets the manual ones overlap.
  o.exclusive_manual_compaction = false;
  m.db->GetEnv()->IncBackgroundThreadsIfNeeded(2, rocksdb::Env::Priority::LOW);
  std::atomic<std::size_t> next{0};
  std::vector<absl::Status> status(tasks.size());
  auto work = [&] {
    for (std::size_t i = next++; i < tasks.size(); i = next++) {
      const CompactTask& t = tasks[i];
      rocksdb::Slice b(t.begin ? *t.begin : std::string_view()),
          e(t.end ? *t.end : std::string_view());
      status[i] = FromRocks(m.db->CompactRange(o, m.h(t.cf), t.begin ? &b : nullptr,
                                               t.end ? &e : nullptr),
                            fmt::format("compact index ({})", idx::kCfNames[t.cf]));
    }
  };
  std::thread helper(work);
  work();
  helper.join();
  for (const absl::Status& s : status) RETURN_IF_ERROR(s);
  return FromRocks(m.db->FlushWAL(true), "flush WAL");
}

}  // namespace

// Store::DestroyCalls: storage/store_destroy.cc.

absl::Status Store::FlushIndex() { return FlushAll(*impl_); }

absl::StatusOr<std::vector<SegmentUsage>> Store::ListSegments() {
  StoreImpl& m = *impl_;
  std::vector<SegmentUsage> out;
  std::unique_ptr<rocksdb::Iterator> it(m.db->NewIterator(rocksdb::ReadOptions(), m.h(idx::kUsage)));
  for (it->Seek("s"); it->Valid() && it->key().starts_with("s"); it->Next()) {
    if (it->key().size() != 13) continue;
    SegmentUsage s;
    s.day = uint32_t(idx::GetBe(it->key().data() + 1, 4));
    s.segment_id = idx::GetBe(it->key().data() + 5, 8);
    auto a = idx::ParseU64s<3>(AsView(it->value()));
    s.file_bytes = a[0];
    s.live_bytes = a[1];
    s.dead_bytes = a[2];
    s.path = m.SegmentPath(s.day, s.segment_id);
    out.push_back(std::move(s));
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "list segments"));
  return out;
}

absl::Status Store::CompactIndex() {
  std::vector<CompactTask> tasks;
  for (int c = 0; c < idx::kCfCount; ++c) tasks.push_back({idx::Cf(c), {}, {}});
  return RunCompactions(*impl_, std::move(tasks));
}

absl::Status Store::CompactDestroyed() {
  StoreImpl& m = *impl_;
  std::string v;
  rocksdb::Status s = m.db->Get(rocksdb::ReadOptions(), m.h(idx::kMeta), kMetaDestroyedMaxId, &v);
  if (s.IsNotFound()) return CompactIndex();  // destroyed by an older build, or never
  RETURN_IF_ERROR(FromRocks(s, "compact index: read the highest destroyed id"));
  if (v.size() != 8) {
    return IntegrityError(fmt::format("index meta {}: {} bytes, want 8", kMetaDestroyedMaxId,
                                      v.size()));
  }
  const std::string last = v;  // IdKey of the highest destroyed call
  std::vector<CompactTask> tasks;
  for (idx::Cf c : {idx::kCalls, idx::kTime, idx::kBlocks, idx::kKeys}) {
    tasks.push_back({c, {}, last});
  }
  // usage: the per-call entries 'c'|id over the same ids. The day and segment entries
  // ('d', 's') name no call; a second range in the same column family would rewrite the
  // file the first one just wrote (kForceOptimized spares only files of its own run).
  tasks.push_back({idx::kUsage, {}, "c" + last});
  for (idx::Cf c : {idx::kAni, idx::kDialled, idx::kAgent, idx::kHolds, idx::kMeta}) {
    tasks.push_back({c, {}, {}});
  }
  return RunCompactions(m, std::move(tasks));
}

absl::StatusOr<std::vector<DayUsage>> Store::DiskUsageByDay() {
  StoreImpl& m = *impl_;
  std::vector<DayUsage> out;
  std::unique_ptr<rocksdb::Iterator> it(m.db->NewIterator(rocksdb::ReadOptions(), m.h(idx::kUsage)));
  for (it->Seek("d"); it->Valid() && it->key().starts_with("d"); it->Next()) {
    if (it->key().size() != 5) continue;
    auto a = idx::ParseU64s<3>(AsView(it->value()));
    if (a[2] == 0 && a[0] == 0) continue;
    out.push_back({uint32_t(idx::GetBe(it->key().data() + 1, 4)), a[0], a[1], a[2]});
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "disk usage"));
  return out;
}

absl::Status Store::RotateKeys() {
  StoreImpl& m = *impl_;
  std::lock_guard<std::mutex> admin(m.admin_mu);
  if (m.keys->ids().size() == 1) RETURN_IF_ERROR(Annotate(m.keys->AddKek(), "rotate keys"));
  // Re-wrap every data key not under the current KEK; segment files are not touched.
  auto rewrap = [&]() -> absl::StatusOr<uint64_t> {
    uint32_t cur = m.keys->current_id();
    uint64_t n = 0;
    rocksdb::WriteBatch b;
    std::unique_ptr<rocksdb::Iterator> it(m.db->NewIterator(rocksdb::ReadOptions(), m.h(idx::kKeys)));
    SecureBytes dek(kKeyBytes);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      std::span<const uint8_t> w(reinterpret_cast<const uint8_t*>(it->value().data()),
                                 it->value().size());
      if (KeyRing::WrappedKekId(w) == cur) continue;
      CallId id{it->key().size() == 8 ? idx::GetBe(it->key().data(), 8) : 0};
      RETURN_IF_ERROR(Annotate(m.keys->Unwrap(w, id, dek.data()), "rotate keys"));
      WrappedKey nw = m.keys->Wrap(dek.data(), id);
      b.Put(m.h(idx::kKeys), it->key(),
            rocksdb::Slice(reinterpret_cast<const char*>(nw.data()), nw.size()));
      if (++n % 10000 == 0) {
        RETURN_IF_ERROR(FromRocks(m.db->Write(Synced(), &b), "rotate keys: write"));
        b.Clear();
      }
    }
    RETURN_IF_ERROR(FromRocks(it->status(), "rotate keys: scan"));
    RETURN_IF_ERROR(FromRocks(m.db->Write(Synced(), &b), "rotate keys: write"));
    return n;
  };
  RETURN_IF_ERROR(rewrap().status());
  // Exclusive against the writer's seal so no key wrapped under an old KEK lands after
  // the final pass; then the old KEKs leave the key file.
  std::unique_lock<std::shared_mutex> lock(m.rotation_mu);
  RETURN_IF_ERROR(rewrap().status());
  return Annotate(m.keys->RetireOldKeks(), "rotate keys: retire old master keys");
}

absl::StatusOr<KeyStatus> Store::GetKeyStatus() {
  StoreImpl& m = *impl_;
  KeyStatus ks;
  ks.current_kek_id = m.keys->current_id();
  ks.keks_in_file = m.keys->ids();
  std::map<uint32_t, uint64_t> counts;
  std::unique_ptr<rocksdb::Iterator> it(m.db->NewIterator(rocksdb::ReadOptions(), m.h(idx::kKeys)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    counts[KeyRing::WrappedKekId(std::span<const uint8_t>(
        reinterpret_cast<const uint8_t*>(it->value().data()), it->value().size()))]++;
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "key status"));
  ks.wrapped_keys_by_kek.assign(counts.begin(), counts.end());
  const BlockCipher cipher = PreferredBlockCipher();
  ks.block_format = uint16_t(cipher);
  ks.block_cipher = BlockCipherName(cipher);
  ks.sealer = BlockSealer(cipher).implementation();
  return ks;
}

absl::StatusOr<std::array<uint8_t, 32>> Store::DeriveSubkey(uint64_t id, const char (&ctx)[9]) {
  if (id < 16) {
    return absl::InvalidArgumentError("subkey ids below 16 are reserved for the store");
  }
  std::array<uint8_t, 32> out{};
  impl_->keys->DeriveSubkey(id, ctx, out.data());
  return out;
}

std::string Store::BlindHex(std::string_view kind, std::string_view value) {
  std::string n;
  if (kind == "ani" || kind == "dialled") n = NormalizeNumberForIndex(value);
  else if (kind == "agent") n = NormalizeNameForIndex(value);
  else n = NormalizeExtensionForIndex(value);
  Blind b = impl_->keys->BlindIndex(kind, n);
  std::string out;
  for (uint8_t c : b) out += fmt::format("{:02x}", c);
  return out;
}

absl::StatusOr<VerifyReport> Store::Verify() {
  StoreImpl& m = *impl_;
  VerifyReport rep;
  auto problem = [&](std::string s) { rep.problems.push_back(std::move(s)); };
  auto msg = [](const absl::Status& s) { return std::string(s.message()); };

  // 1. Every call that has a data key: key, record, summary, blind entries, blocks.
  std::unique_ptr<rocksdb::Iterator> it(m.db->NewIterator(rocksdb::ReadOptions(), m.h(idx::kKeys)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    ++rep.wrapped_keys;
    if (it->key().size() != 8) {
      problem("keys index: malformed key");
      continue;
    }
    CallId id{idx::GetBe(it->key().data(), 8)};
    std::string cid = id.ToString();
    SecureBytes dek;
    absl::Status s = m.LoadDek(id, &dek);
    if (!s.ok()) {
      problem(msg(s));
      continue;
    }
    auto rec = m.ReadRecord(id, dek.data());
    std::string tv;
    bool has_time = m.db->Get(rocksdb::ReadOptions(), m.h(idx::kTime), it->key(), &tv).ok();
    if (!rec.ok()) {
      problem(absl::IsNotFound(rec.status())
                  ? fmt::format("call {}: data key and blocks but no call record", cid)
                  : msg(rec.status()));
    } else {
      ++rep.calls;
      idx::SummaryValue want = m.SummaryOf(*rec);
      if (!has_time || idx::DecodeSummary(tv) == std::nullopt ||
          idx::EncodeSummary(want) != tv) {
        problem(fmt::format("call {}: time index entry missing or altered", cid));
      }
      auto need = [&](idx::Cf cf, char tag, const std::optional<Blind>& b, const char* what) {
        std::string v;
        if (b && !m.db->Get(rocksdb::ReadOptions(), m.h(cf), idx::BlindKey(tag, *b, id), &v)
                      .ok()) {
          problem(fmt::format("call {}: {} index entry missing", cid, what));
        }
      };
      need(idx::kAni, 0, want.ani, "ANI");
      need(idx::kDialled, 0, want.dialled, "dialled");
      need(idx::kAgent, 'n', want.name, "agent name");
      need(idx::kAgent, 'e', want.ext, "extension");
    }
    uint64_t bytes = 0, blocks = 0;
    std::unique_ptr<rocksdb::Iterator> bi(
        m.db->NewIterator(rocksdb::ReadOptions(), m.h(idx::kBlocks)));
    PlainBlock pb;
    for (bi->Seek(it->key()); bi->Valid() && bi->key().starts_with(it->key()); bi->Next()) {
      ++rep.blocks;
      ++blocks;
      absl::Status bs = m.ReadBlock(id, AsView(bi->key()), AsView(bi->value()), dek.data(), &pb);
      auto loc = idx::DecodeLocation(AsView(bi->value()));
      if (loc) bytes += loc->length;
      if (!bs.ok()) {
        problem(msg(bs));
        continue;
      }
      sodium_memzero(pb.payload.data(), pb.payload.size());
    }
    rep.block_bytes += bytes;
    std::string uv;
    auto u = m.db->Get(rocksdb::ReadOptions(), m.h(idx::kUsage), idx::UsageCallKey(id), &uv).ok()
                 ? idx::ParseU64s<2>(uv)
                 : std::array<uint64_t, 2>{};
    if (u[0] != bytes || u[1] != blocks) {
      problem(fmt::format("call {}: byte accounting says {} bytes/{} blocks, index has {}/{}",
                          cid, u[0], u[1], bytes, blocks));
    }
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "verify: scan keys"));

  // 2. Every entry of the other access paths must belong to a call that has a data key.
  auto has_key = [&](CallId id) {
    std::string v;
    return m.db->Get(rocksdb::ReadOptions(), m.h(idx::kKeys), idx::IdKey(id), &v).ok();
  };
  for (idx::Cf cf : {idx::kCalls, idx::kTime, idx::kAni, idx::kDialled, idx::kAgent,
                     idx::kBlocks, idx::kHolds}) {
    rocksdb::ReadOptions total;
    total.total_order_seek = true;  // blind CFs have a prefix extractor
    std::unique_ptr<rocksdb::Iterator> ci(m.db->NewIterator(total, m.h(cf)));
    for (ci->SeekToFirst(); ci->Valid(); ci->Next()) {
      ++rep.index_entries;
      std::string_view k = AsView(ci->key());
      CallId id;
      if (cf == idx::kAni || cf == idx::kDialled || cf == idx::kAgent) {
        std::size_t pre = cf == idx::kAgent ? 1 + kBlindBytes : kBlindBytes;
        if (k.size() != pre + 8) {
          problem(fmt::format("{} index: malformed key", idx::kCfNames[cf]));
          continue;
        }
        id.value = ~idx::GetBe(k.data() + pre, 8);
        std::string tv;
        auto sv = m.db->Get(rocksdb::ReadOptions(), m.h(idx::kTime), idx::IdKey(id), &tv).ok()
                      ? idx::DecodeSummary(tv)
                      : std::nullopt;
        Blind b;
        std::memcpy(b.data(), k.data() + pre - kBlindBytes, kBlindBytes);
        std::optional<Blind> ob = b;
        bool match = sv && ((cf == idx::kAni && sv->ani == ob) ||
                            (cf == idx::kDialled && sv->dialled == ob) ||
                            (cf == idx::kAgent && k[0] == 'n' && sv->name == ob) ||
                            (cf == idx::kAgent && k[0] == 'e' && sv->ext == ob));
        if (!match) {
          problem(fmt::format("call {}: stale or altered {} index entry", id.ToString(),
                              idx::kCfNames[cf]));
        }
        continue;
      }
      if (k.size() < 8) {
        problem(fmt::format("{} index: malformed key", idx::kCfNames[cf]));
        continue;
      }
      id.value = idx::GetBe(k.data(), 8);
      if (cf == idx::kCalls && k.size() == 8 && ci->value().size() == 0) continue;
      if (!has_key(id)) {
        problem(fmt::format("call {}: {} index entry without a data key (dangling)",
                            id.ToString(), idx::kCfNames[cf]));
      } else if (cf == idx::kHolds) {
        SecureBytes dek;
        if (m.LoadDek(id, &dek).ok()) {
          auto pv = OpenValue("cv-hold1", id, dek.data(), AsView(ci->value()));
          if (!pv.ok()) problem(msg(pv.status()));
        }
      }
    }
    RETURN_IF_ERROR(FromRocks(ci->status(), "verify: scan index"));
  }

  // 3. Segment files against their accounting.
  ASSIGN_OR_RETURN(auto segs, ListSegments());
  for (const auto& s : segs) {
    ++rep.segments;
    struct stat st;
    if (::stat(s.path.c_str(), &st) != 0) {
      if (s.live_bytes != 0) problem(fmt::format("segment {} missing", s.path));
      continue;
    }
    if (uint64_t(st.st_size) != s.file_bytes) {
      problem(fmt::format("segment {}: size {} but {} bytes were sealed", s.path, st.st_size,
                          s.file_bytes));
    }
    int fd = ::open(s.path.c_str(), O_RDONLY | O_CLOEXEC);
    uint8_t hdr[kSegmentHeaderBytes] = {};
    bool ok = fd >= 0 && ::pread(fd, hdr, sizeof hdr, 0) == ssize_t(sizeof hdr);
    if (fd >= 0) ::close(fd);
    int hc = ok ? CheckSegmentHeader(hdr, s.day, s.segment_id) : 1;
    if (hc == 2) {
      return absl::FailedPreconditionError(
          fmt::format("segment {} was written by a newer format version", s.path));
    }
    if (hc != 0) problem(fmt::format("segment {}: header corrupt", s.path));
  }
  return rep;
}

}  // namespace callvault
