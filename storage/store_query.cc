// Store: reads — GetCall, Search, ReadBlocks, ListCalls — and legal holds.
#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>

#include <fmt/format.h>

#include "appliance/common/status.h"
#include "appliance/common/time_util.h"
#include "storage/index/normalize.h"
#include "storage/index/record_codec.h"
#include "storage/segment/block_codec.h"
#include "storage/store_impl.h"

namespace callvault {
namespace {

std::string_view AsView(const rocksdb::Slice& s) { return {s.data(), s.size()}; }

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

absl::Status StoreImpl::ReadBlock(CallId id, std::string_view key, std::string_view value,
                                  const uint8_t* dek, PlainBlock* out) {
  BlockInfo want;
  want.call_id = id;
  if (key.size() == idx::kBlockKeyBytes) {
    want.kind = StreamKind(uint8_t(key[8]));
    want.leg = uint16_t(idx::GetBe(key.data() + 9, 2));
    want.seq = uint32_t(idx::GetBe(key.data() + 11, 4));
  }
  std::string name = BlockName(want);
  auto loc = idx::DecodeLocation(value);
  if (key.size() != idx::kBlockKeyBytes || !loc || loc->length < SealedBlockSize(0) ||
      loc->length > SealedBlockSize(kMaxBlockPayload)) {
    return IntegrityError(fmt::format("{}: block location entry malformed", name));
  }
  std::string path = SegmentPath(loc->day, loc->segment);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return IntegrityError(fmt::format("{}: segment {} unreadable: {}", name, path,
                                      std::strerror(errno)));
  }
  std::vector<uint8_t> buf(loc->length);
  ssize_t n = ::pread(fd, buf.data(), buf.size(), off_t(loc->offset));
  ::close(fd);
  if (n != ssize_t(buf.size())) {
    return IntegrityError(fmt::format("{}: segment {} truncated at offset {}", name, path,
                                      loc->offset));
  }
  absl::Status s = OpenBlock(buf, dek, out);
  if (!s.ok()) return Annotate(s, fmt::format("{} (segment {} offset {})", name, path, loc->offset));
  const BlockInfo& g = out->info;
  if (g.call_id != id || g.kind != want.kind || g.leg != want.leg || g.seq != want.seq ||
      g.direction != loc->direction || g.first_ts_ns != loc->first_ts_ns ||
      g.last_ts_ns != loc->last_ts_ns || g.frames != loc->frames) {
    return IntegrityError(fmt::format(
        "{}: index entry does not match the sealed block it points at ({}, segment {} "
        "offset {})",
        name, BlockName(g), path, loc->offset));
  }
  return absl::OkStatus();
}

absl::StatusOr<CallSummary> StoreImpl::Summarise(CallId id, const CallRecord& r) {
  CallSummary s;
  s.record = r;
  std::string v;
  rocksdb::Status st = db->Get(rocksdb::ReadOptions(), h(idx::kHolds), idx::IdKey(id), &v);
  if (!st.IsNotFound()) RETURN_IF_ERROR(FromRocks(st, "read hold"));
  s.held = st.ok();
  st = db->Get(rocksdb::ReadOptions(), h(idx::kUsage), idx::UsageCallKey(id), &v);
  if (st.ok()) {
    auto a = idx::ParseU64s<2>(v);
    s.stored_bytes = a[0];
    s.blocks = uint32_t(a[1]);
  }
  return s;
}

absl::StatusOr<CallSummary> Store::GetCall(CallId id) {
  SecureBytes dek;
  RETURN_IF_ERROR(impl_->LoadDek(id, &dek));
  ASSIGN_OR_RETURN(CallRecord r, impl_->ReadRecord(id, dek.data()));
  return impl_->Summarise(id, r);
}

absl::StatusOr<std::vector<CallSummary>> Store::Search(const SearchCriteria& c) {
  StoreImpl& m = *impl_;
  // Pick the most selective access path: ANI, dialled, extension, agent name, time.
  idx::Cf cfi = idx::kTime;
  char tag = 0;
  std::optional<Blind> blind;
  std::string want_ani = NormalizeNumberForIndex(c.ani);
  std::string want_dialled = NormalizeNumberForIndex(c.dialled);
  std::string want_ext = NormalizeExtensionForIndex(c.agent_extension);
  std::string want_name;
  if (AllDigits(NormalizeExtensionForIndex(c.agent))) {
    if (want_ext.empty()) want_ext = NormalizeExtensionForIndex(c.agent);
  } else {
    want_name = NormalizeNameForIndex(c.agent);
  }
  if (!want_ani.empty()) {
    cfi = idx::kAni;
    blind = m.keys->BlindIndex("ani", want_ani);
  } else if (!want_dialled.empty()) {
    cfi = idx::kDialled;
    blind = m.keys->BlindIndex("dialled", want_dialled);
  } else if (!want_ext.empty()) {
    cfi = idx::kAgent;
    tag = 'e';
    blind = m.keys->BlindIndex("extension", want_ext);
  } else if (!want_name.empty()) {
    cfi = idx::kAgent;
    tag = 'n';
    blind = m.keys->BlindIndex("agent", want_name);
  }
  // Call ids embed the start in ms: bound the id range by [from, to).
  uint64_t lo_id = c.from_ns ? (c.from_ns / kNsPerMs) << 20 : 0;
  uint64_t hi_id = c.to_ns ? ((c.to_ns + kNsPerMs - 1) / kNsPerMs) << 20 : ~0ull;

  std::vector<CallSummary> out;
  auto consider = [&](CallId id) -> absl::StatusOr<bool> {  // returns "stop"
    if (id.value < lo_id || id.value >= hi_id) return false;
    SecureBytes dek;
    absl::Status s = m.LoadDek(id, &dek);
    if (absl::IsNotFound(s)) return false;  // destroyed while we iterated
    RETURN_IF_ERROR(s);
    ASSIGN_OR_RETURN(CallRecord r, m.ReadRecord(id, dek.data()));
    if (c.from_ns && r.start_ns < c.from_ns) return false;
    if (c.to_ns && r.start_ns >= c.to_ns) return false;
    if (c.state && r.state != *c.state) return false;
    if (!want_ani.empty() && NormalizeNumberForIndex(r.ani) != want_ani) return false;
    if (!want_dialled.empty() && NormalizeNumberForIndex(r.dialled) != want_dialled) {
      return false;
    }
    if (!want_ext.empty() && NormalizeExtensionForIndex(r.agent.extension) != want_ext) {
      return false;
    }
    if (!want_name.empty() && NormalizeNameForIndex(r.agent.name) != want_name) return false;
    ASSIGN_OR_RETURN(CallSummary sum, m.Summarise(id, r));
    out.push_back(std::move(sum));
    return c.limit != 0 && out.size() >= c.limit;
  };

  rocksdb::ReadOptions ro;
  ro.prefix_same_as_start = blind.has_value();  // prefix bloom; never leaves the prefix
  std::unique_ptr<rocksdb::Iterator> it(m.db->NewIterator(ro, m.h(cfi)));
  if (blind) {
    std::string prefix = idx::BlindPrefix(tag, *blind);
    std::string start = prefix;
    idx::PutBe(start, ~(hi_id == ~0ull ? ~0ull : hi_id - 1), 8);
    for (it->Seek(start); it->Valid(); it->Next()) {
      std::string_view k = AsView(it->key());
      if (!k.starts_with(prefix) || k.size() != prefix.size() + 8) break;
      CallId id{~idx::GetBe(k.data() + prefix.size(), 8)};
      if (id.value < lo_id) break;
      ASSIGN_OR_RETURN(bool stop, consider(id));
      if (stop) break;
    }
  } else {
    std::string start;
    idx::PutBe(start, hi_id == ~0ull ? ~0ull : hi_id - 1, 8);
    for (it->SeekForPrev(start); it->Valid(); it->Prev()) {
      std::string_view k = AsView(it->key());
      if (k.size() != 8) continue;
      CallId id{idx::GetBe(k.data(), 8)};
      if (id.value < lo_id) break;
      if (c.state) {  // cheap pre-filter on the plain summary
        auto sv = idx::DecodeSummary(AsView(it->value()));
        if (sv && sv->state != *c.state) continue;
      }
      ASSIGN_OR_RETURN(bool stop, consider(id));
      if (stop) break;
    }
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "search index"));
  return out;
}

absl::Status Store::ReadBlocks(CallId id, const BlockFilter& filter,
                               const std::function<bool(const PlainBlock&)>& fn) {
  StoreImpl& m = *impl_;
  SecureBytes dek;
  RETURN_IF_ERROR(m.LoadDek(id, &dek));
  std::string prefix = idx::IdKey(id);
  std::unique_ptr<rocksdb::Iterator> it(
      m.db->NewIterator(rocksdb::ReadOptions(), m.h(idx::kBlocks)));
  PlainBlock b;
  // One stream: seek to its first wanted block instead of walking the call's keys.
  std::string start = filter.kind && filter.leg
                          ? idx::BlockKey(id, *filter.kind, *filter.leg, filter.min_seq.value_or(0))
                          : prefix;
  for (it->Seek(start); it->Valid(); it->Next()) {
    std::string_view k = AsView(it->key());
    if (!k.starts_with(prefix)) break;
    if (k.size() == idx::kBlockKeyBytes) {
      if (filter.kind && StreamKind(uint8_t(k[8])) != *filter.kind) continue;
      if (filter.leg && idx::GetBe(k.data() + 9, 2) != *filter.leg) continue;
      if (filter.min_seq && idx::GetBe(k.data() + 11, 4) < *filter.min_seq) continue;
    }
    RETURN_IF_ERROR(m.ReadBlock(id, k, AsView(it->value()), dek.data(), &b));
    bool more = fn(b);
    sodium_memzero(b.payload.data(), b.payload.size());
    if (!more) break;
  }
  return FromRocks(it->status(), "read block index");
}

absl::StatusOr<std::vector<StreamListing>> Store::ListStreams(CallId id) {
  StoreImpl& m = *impl_;
  std::string prefix = idx::IdKey(id);
  std::unique_ptr<rocksdb::Iterator> it(
      m.db->NewIterator(rocksdb::ReadOptions(), m.h(idx::kBlocks)));
  std::vector<StreamListing> out;
  for (it->Seek(prefix); it->Valid(); it->Next()) {
    std::string_view k = AsView(it->key());
    if (!k.starts_with(prefix)) break;
    if (k.size() != idx::kBlockKeyBytes) continue;
    StreamKind kind = StreamKind(uint8_t(k[8]));
    uint16_t leg = uint16_t(idx::GetBe(k.data() + 9, 2));
    if (out.empty() || out.back().kind != kind || out.back().leg != leg) {
      out.push_back(StreamListing{kind, leg, 0});
    }
    ++out.back().blocks;
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "list block streams"));
  return out;
}

absl::StatusOr<std::vector<CallListing>> Store::ListCalls(uint64_t from_ns, uint64_t to_ns) {
  StoreImpl& m = *impl_;
  std::vector<CallListing> out;
  uint64_t lo_id = (from_ns / kNsPerMs) << 20;
  std::unique_ptr<rocksdb::Iterator> it(m.db->NewIterator(rocksdb::ReadOptions(), m.h(idx::kTime)));
  std::string start;
  idx::PutBe(start, lo_id, 8);
  // Holds and per-call bytes are read by merge join (ids ascend): one forward iterator
  // each, a few Next() steps or a Seek per call, instead of two point reads per call.
  struct Forward {
    std::unique_ptr<rocksdb::Iterator> it;
    bool positioned = false, done = false;  // done: no key >= the last one asked for
    rocksdb::Iterator* operator->() { return it.get(); }
  };
  Forward holds{std::unique_ptr<rocksdb::Iterator>(
      m.db->NewIterator(rocksdb::ReadOptions(), m.h(idx::kHolds)))};
  Forward usage{std::unique_ptr<rocksdb::Iterator>(
      m.db->NewIterator(rocksdb::ReadOptions(), m.h(idx::kUsage)))};
  // True when `want` exists; leaves the iterator at the first key >= want.
  auto forward = [](Forward& f, std::string_view want) {
    if (f.done) return false;
    const rocksdb::Slice w(want.data(), want.size());
    rocksdb::Iterator& c = *f.it;
    int steps = 0;
    while (f.positioned && c.Valid() && c.key().compare(w) < 0 && steps++ < 8) c.Next();
    if (!f.positioned || (c.Valid() && c.key().compare(w) < 0)) {
      c.Seek(w);
      f.positioned = true;
    }
    if (!c.Valid()) {
      f.done = true;
      return false;
    }
    return c.key() == w;
  };
  for (it->Seek(start); it->Valid(); it->Next()) {
    std::string_view k = AsView(it->key());
    CallId id{k.size() == 8 ? idx::GetBe(k.data(), 8) : 0};
    auto sv = idx::DecodeSummary(AsView(it->value()));
    if (!sv) {
      return IntegrityError(fmt::format("call {}: time index value malformed", id.ToString()));
    }
    if (to_ns && id.start_ms() > to_ns / kNsPerMs) break;
    if (sv->start_ns < from_ns || (to_ns && sv->start_ns >= to_ns)) continue;
    CallListing l;
    l.call_id = id;
    l.start_ns = sv->start_ns;
    l.end_ns = sv->end_ns;
    l.state = sv->state;
    l.held = forward(holds, k);
    if (forward(usage, idx::UsageCallKey(id))) {
      auto a = idx::ParseU64s<2>(AsView(usage->value()));
      l.bytes = a[0];
      l.blocks = uint32_t(a[1]);
    }
    out.push_back(l);
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "list calls"));
  RETURN_IF_ERROR(FromRocks(holds->status(), "list calls: holds"));
  RETURN_IF_ERROR(FromRocks(usage->status(), "list calls: byte accounting"));
  return out;
}

absl::Status Store::AddHold(const HoldInfo& hold) {
  StoreImpl& m = *impl_;
  // Serialised with DestroyCalls: a hold is either in place before a destroy batch reads
  // the holds (the call is skipped) or is refused because the call is already gone.
  // Without the lock a hold written while a batch is being built could be missed.
  std::lock_guard<std::mutex> admin(m.admin_mu);
  SecureBytes dek;
  RETURN_IF_ERROR(m.LoadDek(hold.call_id, &dek));
  HoldInfo h = hold;
  if (h.when_ns == 0) h.when_ns = NowNs();
  std::string plain = EncodeHold(h);
  std::string v = SealValue("cv-hold1", h.call_id, dek.data(), plain);
  sodium_memzero(plain.data(), plain.size());
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(m.db->Put(wo, m.h(idx::kHolds), idx::IdKey(h.call_id), v),
                   fmt::format("hold call {}", h.call_id.ToString()));
}

absl::Status Store::RemoveHold(CallId id) {
  StoreImpl& m = *impl_;
  std::string v;
  rocksdb::Status s = m.db->Get(rocksdb::ReadOptions(), m.h(idx::kHolds), idx::IdKey(id), &v);
  if (s.IsNotFound()) {
    return absl::NotFoundError(fmt::format("call {} is not under legal hold", id.ToString()));
  }
  RETURN_IF_ERROR(FromRocks(s, "read hold"));
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(m.db->Delete(wo, m.h(idx::kHolds), idx::IdKey(id)),
                   fmt::format("release hold on call {}", id.ToString()));
}

absl::StatusOr<bool> Store::IsHeld(CallId id) {
  std::string v;
  rocksdb::Status s =
      impl_->db->Get(rocksdb::ReadOptions(), impl_->h(idx::kHolds), idx::IdKey(id), &v);
  if (s.IsNotFound()) return false;
  RETURN_IF_ERROR(FromRocks(s, "read hold"));
  return true;
}

absl::StatusOr<std::vector<HoldInfo>> Store::ListHolds() {
  StoreImpl& m = *impl_;
  std::vector<HoldInfo> out;
  std::unique_ptr<rocksdb::Iterator> it(m.db->NewIterator(rocksdb::ReadOptions(), m.h(idx::kHolds)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string_view k = AsView(it->key());
    if (k.size() != 8) return IntegrityError("legal hold index key malformed");
    CallId id{idx::GetBe(k.data(), 8)};
    SecureBytes dek;
    RETURN_IF_ERROR(Annotate(m.LoadDek(id, &dek), "legal hold"));
    ASSIGN_OR_RETURN(std::string plain, OpenValue("cv-hold1", id, dek.data(), AsView(it->value())));
    auto h = DecodeHold(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(plain.data()),
                                                 plain.size()));
    sodium_memzero(plain.data(), plain.size());
    if (!h.ok() || h->call_id != id) {
      return IntegrityError(fmt::format("call {}: legal hold record malformed", id.ToString()));
    }
    out.push_back(*std::move(h));
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "list holds"));
  return out;
}

}  // namespace callvault
