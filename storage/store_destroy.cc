// Store::DestroyCalls (store.h): crypto-shredding and index removal for retention.
//
// Per call, in ONE synced WriteBatch per kDestroyBatchCalls calls: the wrapped data key
// (crypto-shredding: from then on the call's blocks, record and hold are unreadable, also
// in copies of the segment files), the record, the time entry, the blind index entries
// (taken from the time entry, so no DEK is needed), every block location and the per-call
// byte accounting; the call's block bytes are booked dead in their segment and day.
// Held calls are skipped, unknown ids reported; idempotent. A crash leaves whole batches
// of calls destroyed or intact (each batch is atomic and synced).
//
// Cost model (docs/BENCHMARKS.md, "Retention purge"): a destroy is nearly all RocksDB
// memtable inserts, one per deleted key. A skiplist insert is cheap while each column
// family receives its keys in ascending order (the memtable's insert hint stays valid)
// and costs a full search with cache misses for a key in random order. So:
//  - calls are processed in id order, so the keys of `keys`, `calls`, `time`, `blocks`
//    and the usage 'c' entries ascend by themselves;
//  - the blind index keys (random by construction) are collected per batch and sorted
//    before they enter the batch;
//  - the dead bytes are summed per segment and per day and merged once per batch, not
//    twice per block;
//  - reads are merge joins of the sorted ids with one forward iterator per column family
//    (holds, keys, time, blocks) instead of three point reads and a seek per call;
//  - RocksDB's per-thread perf counters are off while destroying (each skiplist key
//    comparison otherwise pays a thread-local counter update: ~14 % of the time).
// No per-call heap allocation: keys are built in fixed buffers.
// Thread: a control thread; serialised with rotation by StoreImpl::admin_mu.
#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <rocksdb/perf_level.h>
#include <rocksdb/write_batch.h>

#include "appliance/common/status.h"
#include "storage/store_impl.h"

namespace callvault {
namespace {

// Calls destroyed per synced WriteBatch: ~20 MB of batch, one fsync per batch. Larger
// batches also narrow the gaps between the sorted blind keys in the memtable.
constexpr std::size_t kDestroyBatchCalls = 65536;

uint64_t Neg(uint64_t v) { return ~v + 1; }

void PutBe64(char* p, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    p[i] = char(uint8_t(v));
    v >>= 8;
  }
}

// A forward-only cursor over one column family, probed with ascending keys: a few Next()
// steps when the wanted key is near, else one Seek. Once past the last key it stays done.
class Cursor {
 public:
  Cursor(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf)
      : it_(db->NewIterator(rocksdb::ReadOptions(), cf)) {}

  // Positions at the first key >= `key`; false when there is none.
  bool SeekForward(const rocksdb::Slice& key) {
    if (done_) return false;
    if (positioned_) {
      for (int i = 0; i < kMaxSteps && it_->Valid(); ++i) {
        if (it_->key().compare(key) >= 0) return true;
        it_->Next();
      }
      if (!it_->Valid()) {
        done_ = true;
        return false;
      }
    }
    it_->Seek(key);
    positioned_ = true;
    if (!it_->Valid()) done_ = true;
    return !done_;
  }
  // True when `key` itself exists.
  bool At(const rocksdb::Slice& key) { return SeekForward(key) && it_->key() == key; }
  rocksdb::Iterator& it() { return *it_; }
  absl::Status status(std::string_view what) const { return FromRocks(it_->status(), what); }

 private:
  static constexpr int kMaxSteps = 8;
  std::unique_ptr<rocksdb::Iterator> it_;
  bool positioned_ = false;
  bool done_ = false;
};

// One blind index key (['n'|'e'] | blind16 | ~id), kept in a fixed buffer for sorting.
struct BlindKeyBuf {
  std::array<char, 1 + kBlindBytes + 8> b;
  uint8_t len;
  std::string_view view() const { return {b.data(), len}; }
  bool operator<(const BlindKeyBuf& o) const { return view() < o.view(); }
};

BlindKeyBuf MakeBlindKey(char tag, const Blind& blind, CallId id) {
  BlindKeyBuf k;
  std::size_t n = 0;
  if (tag != 0) k.b[n++] = tag;
  std::memcpy(k.b.data() + n, blind.data(), kBlindBytes);
  n += kBlindBytes;
  PutBe64(k.b.data() + n, ~id.value);
  k.len = uint8_t(n + 8);
  return k;
}

// Everything one WriteBatch needs beyond the per-call deletes, reused across batches.
struct BatchState {
  rocksdb::WriteBatch batch;
  std::vector<BlindKeyBuf> ani, dialled, agent;
  std::map<std::pair<uint32_t, uint64_t>, uint64_t> seg_dead;  // (day, segment) -> bytes
  std::map<uint32_t, uint64_t> day_dead;
  std::size_t calls = 0;
  uint64_t max_id = 0;  // the highest id deleted in this batch

  void Clear() {
    batch.Clear();
    ani.clear();
    dialled.clear();
    agent.clear();
    seg_dead.clear();
    day_dead.clear();
    calls = 0;
    max_id = 0;
  }
};

}  // namespace

absl::StatusOr<DestroyResult> Store::DestroyCalls(std::span<const CallId> ids) {
  StoreImpl& m = *impl_;
  std::lock_guard<std::mutex> admin(m.admin_mu);
  DestroyResult res;
  struct PerfOff {
    rocksdb::PerfLevel old = rocksdb::GetPerfLevel();
    PerfOff() { rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable); }
    ~PerfOff() { rocksdb::SetPerfLevel(old); }
  } perf_off;

  std::vector<CallId> sorted(ids.begin(), ids.end());
  if (!std::is_sorted(sorted.begin(), sorted.end())) std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());

  // The highest id ever deleted, for CompactDestroyed(): raised inside each batch.
  uint64_t max_id = 0;
  {
    std::string v;
    rocksdb::Status s =
        m.db->Get(rocksdb::ReadOptions(), m.h(idx::kMeta), kMetaDestroyedMaxId, &v);
    if (!s.IsNotFound()) RETURN_IF_ERROR(FromRocks(s, "destroy: read the highest destroyed id"));
    if (s.ok() && v.size() == 8) max_id = idx::GetBe(v.data(), 8);
  }

  BatchState st;
  const std::size_t per_batch = std::min(kDestroyBatchCalls, sorted.size());
  st.ani.reserve(per_batch);
  st.dialled.reserve(per_batch);
  st.agent.reserve(2 * per_batch);

  auto commit = [&]() -> absl::Status {
    if (st.calls == 0) return absl::OkStatus();
    // Random-order keys go in sorted, after the ascending per-call keys.
    for (auto* v : {&st.ani, &st.dialled, &st.agent}) std::sort(v->begin(), v->end());
    auto del = [&](idx::Cf cf, const std::vector<BlindKeyBuf>& keys) {
      for (const BlindKeyBuf& k : keys) {
        st.batch.Delete(m.h(cf), rocksdb::Slice(k.b.data(), k.len));
      }
    };
    del(idx::kAni, st.ani);
    del(idx::kDialled, st.dialled);
    del(idx::kAgent, st.agent);
    // usage keys: 'c' (deleted per call above) < 'd' < 's'.
    for (const auto& [day, bytes] : st.day_dead) {
      st.batch.Merge(m.h(idx::kUsage), idx::UsageDayKey(day), idx::U64s<3>({0, bytes, 0}));
    }
    for (const auto& [seg, bytes] : st.seg_dead) {
      st.batch.Merge(m.h(idx::kUsage), idx::UsageSegKey(seg.first, seg.second),
                     idx::U64s<3>({0, Neg(bytes), bytes}));
    }
    if (st.max_id > max_id) {
      max_id = st.max_id;
      char v[8];
      PutBe64(v, max_id);
      st.batch.Put(m.h(idx::kMeta), kMetaDestroyedMaxId, rocksdb::Slice(v, sizeof v));
    }
    rocksdb::WriteOptions wo;
    wo.sync = true;
    RETURN_IF_ERROR(FromRocks(m.db->Write(wo, &st.batch), "destroy calls"));
    st.Clear();
    return absl::OkStatus();
  };

  for (std::size_t start = 0; start < sorted.size(); start += kDestroyBatchCalls) {
    const std::size_t end = std::min(sorted.size(), start + kDestroyBatchCalls);
    // Fresh cursors per batch: each batch reads the index as it was when the batch began
    // (a hold added before then is honoured).
    Cursor holds(m.db.get(), m.h(idx::kHolds));
    Cursor keys(m.db.get(), m.h(idx::kKeys));
    Cursor time(m.db.get(), m.h(idx::kTime));
    Cursor blocks(m.db.get(), m.h(idx::kBlocks));
    for (std::size_t i = start; i < end; ++i) {
      const CallId id = sorted[i];
      char kb[8];
      PutBe64(kb, id.value);
      const rocksdb::Slice key(kb, sizeof kb);
      if (holds.At(key)) {
        res.skipped_held.push_back(id);
        continue;
      }
      // The wrapped key first: deleting it is what makes the call unreadable.
      bool found = keys.At(key);
      st.batch.Delete(m.h(idx::kKeys), key);
      st.batch.Delete(m.h(idx::kCalls), key);
      if (time.At(key)) {
        found = true;
        const rocksdb::Slice v = time.it().value();
        if (auto sv = idx::DecodeSummary(std::string_view(v.data(), v.size()))) {
          if (sv->ani) st.ani.push_back(MakeBlindKey(0, *sv->ani, id));
          if (sv->dialled) st.dialled.push_back(MakeBlindKey(0, *sv->dialled, id));
          if (sv->name) st.agent.push_back(MakeBlindKey('n', *sv->name, id));
          if (sv->ext) st.agent.push_back(MakeBlindKey('e', *sv->ext, id));
        }
      }
      st.batch.Delete(m.h(idx::kTime), key);
      if (blocks.SeekForward(key)) {
        rocksdb::Iterator& it = blocks.it();
        for (; it.Valid() && it.key().starts_with(key); it.Next()) {
          found = true;
          st.batch.Delete(m.h(idx::kBlocks), it.key());
          const rocksdb::Slice v = it.value();
          if (auto loc = idx::DecodeLocation(std::string_view(v.data(), v.size()))) {
            st.seg_dead[{loc->day, loc->segment}] += loc->length;
            st.day_dead[loc->day] += loc->length;
            res.bytes += loc->length;
          }
        }
      }
      st.max_id = id.value;  // ids ascend
      char uk[9];
      uk[0] = 'c';
      PutBe64(uk + 1, id.value);
      st.batch.Delete(m.h(idx::kUsage), rocksdb::Slice(uk, sizeof uk));
      if (found) {
        ++res.calls;
      } else {
        res.not_found.push_back(id);
      }
      ++st.calls;
    }
    RETURN_IF_ERROR(holds.status("destroy: read holds"));
    RETURN_IF_ERROR(keys.status("destroy: read wrapped keys"));
    RETURN_IF_ERROR(time.status("destroy: read time index"));
    RETURN_IF_ERROR(blocks.status("destroy: read block index"));
    RETURN_IF_ERROR(commit());
  }
  return res;
}

}  // namespace callvault
