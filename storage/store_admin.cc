// Store: retention primitives, disk accounting, key rotation and status, Verify().
#include <sodium.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>

#include <fmt/format.h>
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

// Calls destroyed per synced WriteBatch in DestroyCalls().
constexpr std::size_t kDestroyBatchCalls = 16384;

std::string_view AsView(const rocksdb::Slice& s) { return {s.data(), s.size()}; }
uint64_t Neg(uint64_t v) { return ~v + 1; }
rocksdb::WriteOptions Synced() {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return wo;
}

}  // namespace

absl::StatusOr<DestroyResult> Store::DestroyCalls(std::span<const CallId> ids) {
  StoreImpl& m = *impl_;
  std::lock_guard<std::mutex> admin(m.admin_mu);
  DestroyResult res;
  rocksdb::WriteBatch batch;
  std::size_t in_batch = 0;
  auto commit = [&]() -> absl::Status {
    if (in_batch == 0) return absl::OkStatus();
    RETURN_IF_ERROR(FromRocks(m.db->Write(Synced(), &batch), "destroy calls"));
    batch.Clear();
    in_batch = 0;
    return absl::OkStatus();
  };
  // One iterator for every call: it reads only block locations of calls being destroyed,
  // which nothing else writes, so its snapshot going stale across commits is harmless.
  std::unique_ptr<rocksdb::Iterator> it(
      m.db->NewIterator(rocksdb::ReadOptions(), m.h(idx::kBlocks)));
  for (CallId id : ids) {
    std::string key = idx::IdKey(id), v;
    if (m.db->Get(rocksdb::ReadOptions(), m.h(idx::kHolds), key, &v).ok()) {
      res.skipped_held.push_back(id);
      continue;
    }
    bool found = false;
    // The wrapped key first: deleting it is what makes the call unreadable.
    if (m.db->Get(rocksdb::ReadOptions(), m.h(idx::kKeys), key, &v).ok()) found = true;
    batch.Delete(m.h(idx::kKeys), key);
    batch.Delete(m.h(idx::kCalls), key);
    if (m.db->Get(rocksdb::ReadOptions(), m.h(idx::kTime), key, &v).ok()) {
      found = true;
      if (auto sv = idx::DecodeSummary(v)) {
        if (sv->ani) batch.Delete(m.h(idx::kAni), idx::BlindKey(0, *sv->ani, id));
        if (sv->dialled) batch.Delete(m.h(idx::kDialled), idx::BlindKey(0, *sv->dialled, id));
        if (sv->name) batch.Delete(m.h(idx::kAgent), idx::BlindKey('n', *sv->name, id));
        if (sv->ext) batch.Delete(m.h(idx::kAgent), idx::BlindKey('e', *sv->ext, id));
      }
    }
    batch.Delete(m.h(idx::kTime), key);
    for (it->Seek(key); it->Valid() && AsView(it->key()).starts_with(key); it->Next()) {
      found = true;
      batch.Delete(m.h(idx::kBlocks), it->key());
      if (auto loc = idx::DecodeLocation(AsView(it->value()))) {
        batch.Merge(m.h(idx::kUsage), idx::UsageSegKey(loc->day, loc->segment),
                    idx::U64s<3>({0, Neg(loc->length), loc->length}));
        batch.Merge(m.h(idx::kUsage), idx::UsageDayKey(loc->day),
                    idx::U64s<3>({0, loc->length, 0}));
        res.bytes += loc->length;
      }
    }
    RETURN_IF_ERROR(FromRocks(it->status(), "destroy: read block index"));
    batch.Delete(m.h(idx::kUsage), idx::UsageCallKey(id));
    if (found) {
      ++res.calls;
    } else {
      res.not_found.push_back(id);
    }
    // Each batch is atomic and synced: a crash leaves whole calls destroyed or intact.
    // Large batches because the purge is bound by synced writes, not CPU (docs/BENCHMARKS.md).
    if (++in_batch >= kDestroyBatchCalls) RETURN_IF_ERROR(commit());
  }
  RETURN_IF_ERROR(commit());
  return res;
}

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

absl::Status Store::DeleteDeadSegment(uint32_t day, uint64_t seg) {
  StoreImpl& m = *impl_;
  std::string v;
  std::string key = idx::UsageSegKey(day, seg);
  RETURN_IF_ERROR(FromRocks(m.db->Get(rocksdb::ReadOptions(), m.h(idx::kUsage), key, &v),
                            fmt::format("segment {:016x}", seg)));
  auto a = idx::ParseU64s<3>(v);
  if (a[1] != 0) {
    return absl::FailedPreconditionError(
        fmt::format("segment {:016x} still holds {} live bytes", seg, a[1]));
  }
  // Accounting first: a crash before unlink leaves an unaccounted file, which the next
  // writer start-up discards.
  rocksdb::WriteBatch b;
  b.Delete(m.h(idx::kUsage), key);
  b.Merge(m.h(idx::kUsage), idx::UsageDayKey(day),
          idx::U64s<3>({Neg(a[0]), Neg(a[2]), Neg(1)}));
  RETURN_IF_ERROR(FromRocks(m.db->Write(Synced(), &b), "delete segment accounting"));
  std::string path = m.SegmentPath(day, seg);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoToStatus(errno, fmt::format("delete segment {}", path));
  }
  return absl::OkStatus();
}

absl::Status Store::CompactIndex() {
  rocksdb::CompactRangeOptions o;
  o.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  for (auto* h : impl_->cf) {
    RETURN_IF_ERROR(FromRocks(impl_->db->CompactRange(o, h, nullptr, nullptr), "compact index"));
  }
  return FromRocks(impl_->db->FlushWAL(true), "flush WAL");
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

namespace callvault {

absl::StatusOr<uint64_t> Store::CompactSegment(uint32_t day, uint64_t seg) {
  StoreImpl& m = *impl_;
  std::lock_guard<std::mutex> admin(m.admin_mu);
  std::string ukey = idx::UsageSegKey(day, seg), uv;
  RETURN_IF_ERROR(FromRocks(m.db->Get(rocksdb::ReadOptions(), m.h(idx::kUsage), ukey, &uv),
                            fmt::format("compact segment {:016x}", seg)));
  auto usage = idx::ParseU64s<3>(uv);
  std::string old_path = m.SegmentPath(day, seg);
  int in = ::open(old_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return ErrnoToStatus(errno, fmt::format("open segment {}", old_path));
  // New id: 2^32 above every id in use (the writer caches its next id, so it can never
  // pick this one later); the same rule as storage/retention/segment_compactor.
  std::string nv;
  uint64_t hi = 0;
  if (m.db->Get(rocksdb::ReadOptions(), m.h(idx::kMeta), "next_segment", &nv).ok() &&
      nv.size() == 8) {
    hi = idx::GetLe<uint64_t>(nv.data());
  }
  {
    std::unique_ptr<rocksdb::Iterator> it(
        m.db->NewIterator(rocksdb::ReadOptions(), m.h(idx::kUsage)));
    for (it->Seek("s"); it->Valid() && it->key().starts_with("s"); it->Next()) {
      if (it->key().size() == 13) hi = std::max(hi, idx::GetBe(it->key().data() + 5, 8) + 1);
    }
  }
  uint64_t new_id = hi + (1ull << 32);
  std::string new_path = m.SegmentPath(day, new_id), tmp = new_path + ".tmp";
  int out = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (out < 0) {
    int e = errno;
    ::close(in);
    return ErrnoToStatus(e, fmt::format("create {}", tmp));
  }
  auto fail = [&](absl::Status s) {
    ::close(in);
    if (out >= 0) ::close(out);
    ::unlink(tmp.c_str());
    return s;
  };
  uint8_t hdr[kSegmentHeaderBytes];
  if (::pread(in, hdr, sizeof hdr, 0) != ssize_t(sizeof hdr) ||
      CheckSegmentHeader(hdr, day, seg) != 0) {
    return fail(IntegrityError(fmt::format("segment {}: header corrupt", old_path)));
  }
  EncodeSegmentHeader(day, new_id, hdr);
  if (::write(out, hdr, sizeof hdr) != ssize_t(sizeof hdr)) {
    return fail(ErrnoToStatus(errno, "write " + tmp));
  }
  rocksdb::WriteBatch batch;
  uint64_t off = kSegmentHeaderBytes, new_size = kSegmentHeaderBytes, live = 0;
  std::vector<uint8_t> buf;
  for (;;) {
    uint8_t bh[kBlockHeaderBytes];
    ssize_t n = ::pread(in, bh, sizeof bh, off_t(off));
    if (n == 0) break;
    if (n != ssize_t(sizeof bh)) {
      return fail(IntegrityError(fmt::format("segment {}: truncated at {}", old_path, off)));
    }
    auto h = ParseBlockHeader(std::span<const uint8_t>(bh, sizeof bh));
    if (!h.ok()) return fail(Annotate(h.status(), fmt::format("segment {} offset {}", old_path, off)));
    uint64_t len = SealedBlockSize(h->payload_len);
    std::string key = idx::BlockKey(h->info.call_id, h->info.kind, h->info.leg, h->info.seq);
    std::string lv;
    std::optional<idx::BlockLocation> loc;
    if (m.db->Get(rocksdb::ReadOptions(), m.h(idx::kBlocks), key, &lv).ok()) {
      loc = idx::DecodeLocation(lv);
    }
    if (loc && loc->day == day && loc->segment == seg && loc->offset == off &&
        loc->length == len) {
      buf.resize(len);
      if (::pread(in, buf.data(), len, off_t(off)) != ssize_t(len)) {
        return fail(IntegrityError(fmt::format("segment {}: truncated at {}", old_path, off)));
      }
      if (::write(out, buf.data(), len) != ssize_t(len)) {
        return fail(ErrnoToStatus(errno, "write " + tmp));
      }
      loc->segment = new_id;
      loc->offset = new_size;
      batch.Put(m.h(idx::kBlocks), key, idx::EncodeLocation(*loc));
      new_size += len;
      live += len;
    }
    off += len;
  }
  if (live != usage[1]) {
    return fail(IntegrityError(fmt::format(
        "segment {}: found {} live bytes but accounting says {}", old_path, live, usage[1])));
  }
  if (::fsync(out) != 0) return fail(ErrnoToStatus(errno, "fsync " + tmp));
  ::close(out);
  out = -1;
  ::close(in);
  in = -1;
  // link() refuses to replace an existing segment, unlike rename().
  if (::link(tmp.c_str(), new_path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return ErrnoToStatus(e, "link " + tmp + " to " + new_path);
  }
  ::unlink(tmp.c_str());
  int dfd = ::open(m.SegmentDir(day).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  batch.Delete(m.h(idx::kUsage), ukey);
  batch.Merge(m.h(idx::kUsage), idx::UsageSegKey(day, new_id),
              idx::U64s<3>({new_size, live, 0}));
  batch.Merge(m.h(idx::kUsage), idx::UsageDayKey(day),
              idx::U64s<3>({new_size - usage[0], Neg(usage[2]), 0}));
  std::string next;
  idx::PutLe(next, new_id + 1);
  batch.Put(m.h(idx::kMeta), "next_segment", next);
  RETURN_IF_ERROR(FromRocks(m.db->Write(Synced(), &batch), "compact segment: switch index"));
  ::unlink(old_path.c_str());
  return usage[0] - new_size;
}

}  // namespace callvault
