// StoreWriter implementation: seals blocks into per-day segment files and makes them
// visible with the seal rule of store.h (fsync, rename, fsync dir, one synced WriteBatch).
//
// A seal has two halves. The writer thread closes the batch: it takes the open segments
// and builds the index batch (block locations sorted by key, one usage update per call,
// records and blind-index entries). A sealer thread then does what waits on the disk, in
// the seal rule's order: fsync and rename the segments, fsync their directories, wrap the
// new data keys under the current master key and write the batch, synced. At most one
// seal is in flight: the next one (or Flush/Sync) first waits for it, and only then may
// the writer forget the calls it ended (until their wrapped key is in the index, a late
// block of such a call must find its key here, not make a new one).
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <rocksdb/write_batch.h>

#include "appliance/common/status.h"
#include "appliance/common/time_util.h"
#include "storage/index/record_codec.h"
#include "storage/keys/secure_bytes.h"
#include "storage/segment/block_codec.h"
#include "storage/segment/segment_format.h"
#include "storage/store_impl.h"

namespace callvault {
namespace {

absl::Status WriteAll(int fd, const uint8_t* p, std::size_t n, const std::string& path) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return ErrnoToStatus(errno, fmt::format("write segment {}", path));
    }
    p += w;
    n -= std::size_t(w);
  }
  return absl::OkStatus();
}

absl::Status FsyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoToStatus(errno, fmt::format("open directory {}", dir));
  int rc = ::fsync(fd);
  int e = errno;
  ::close(fd);
  if (rc != 0) return ErrnoToStatus(e, fmt::format("fsync directory {}", dir));
  return absl::OkStatus();
}

class WriterImpl final : public StoreWriter {
 public:
  explicit WriterImpl(StoreImpl* m) : m_(m) {
    std::string v;
    if (m_->db->Get(rocksdb::ReadOptions(), m_->h(idx::kMeta), "next_segment", &v).ok() &&
        v.size() == 8) {
      next_seg_ = idx::GetLe<uint64_t>(v.data());
    }
    std::unique_ptr<rocksdb::Iterator> it(
        m_->db->NewIterator(rocksdb::ReadOptions(), m_->h(idx::kUsage)));
    for (it->Seek("s"); it->Valid() && it->key().starts_with("s"); it->Next()) {
      uint64_t id = it->key().size() == 13 ? idx::GetBe(it->key().data() + 5, 8) : 0;
      next_seg_ = std::max(next_seg_, id + 1);
    }
    interval_mode_ = m_->opts.config.sync == "interval";
    last_seal_ns_ = NowNs();
  }

  ~WriterImpl() override {
    // A seal already handed to the sealer completes (as it would have before a crash);
    // unsealed data is discarded by the next start-up scan: close descriptors only.
    if (sealer_.joinable()) {
      {
        std::lock_guard<std::mutex> lock(seal_mu_);
        sealer_stop_ = true;
      }
      seal_cv_.notify_all();
      sealer_.join();
    }
    for (auto& s : open_) ::close(s.fd);
    for (auto& [id, c] : calls_) pool_.Release(c.dek);
  }

  void OnCallStarted(const CallRecord& r) override { Record(r, false); }
  void OnCallUpdated(const CallRecord& r) override { Record(r, false); }
  void OnCallEnded(const CallRecord& r) override { Record(r, true); }

  bool Push(PlainBlock&& b) override {
    // A seal that failed in the background makes the writer fail now, so what follows is
    // counted as dropped instead of being written into segments that will never seal.
    if (seal_failed_.load(std::memory_order_relaxed) && status_.ok()) (void)WaitSealed();
    if (!status_.ok()) {
      ++dropped_;
      return false;
    }
    Active* c = GetCall(b.info.call_id);
    if (c == nullptr) {
      ++dropped_;
      return false;
    }
    uint32_t day = DayOf(b.info.first_ts_ns ? b.info.first_ts_ns : NowNs());
    OpenSeg* seg = SegFor(day);
    if (seg == nullptr) {
      ++dropped_;
      return false;
    }
    const uint64_t at = seg->size;
    const std::size_t before = seg->pending.size();
    if (!block_sealer_.Seal(b.info, b.payload, c->dek, seg->pending)) {
      status_ = absl::InternalError(fmt::format("seal {}: {} refused the block", BlockName(b.info),
                                                block_sealer_.implementation()));
      ++dropped_;
      return false;
    }
    const uint32_t sealed = uint32_t(seg->pending.size() - before);
    seg->size += sealed;
    if (seg->pending.size() >= kWriteBytes) {
      absl::Status s = WritePending(*seg);
      if (!s.ok()) {
        status_ = s;
        ++dropped_;
        return false;
      }
    }
    idx::BlockLocation loc;
    loc.direction = b.info.direction;
    loc.day = day;
    loc.segment = seg->id;
    loc.offset = at;
    loc.length = sealed;
    loc.first_ts_ns = b.info.first_ts_ns;
    loc.last_ts_ns = b.info.last_ts_ns;
    loc.frames = b.info.frames;
    blocks_.emplace_back(idx::BlockKey(b.info.call_id, b.info.kind, b.info.leg, b.info.seq),
                         idx::EncodeLocation(loc));
    Usage& u = usage_[b.info.call_id.value];
    u.bytes += sealed;
    u.blocks += 1;
    seg->live += sealed;
    if (seg->size >= m_->opts.config.segment_bytes) (void)BeginSeal();  // error: status_
    return true;
  }

  absl::Status Flush() override {
    RETURN_IF_ERROR(status_);
    if (!SealDue()) return absl::OkStatus();
    RETURN_IF_ERROR(BeginSeal());
    return WaitSealed();
  }
  absl::Status FlushBehind() override {
    RETURN_IF_ERROR(status_);
    if (!SealDue()) return absl::OkStatus();
    return BeginSeal();
  }
  absl::Status Sync() override {
    RETURN_IF_ERROR(status_);
    RETURN_IF_ERROR(BeginSeal());
    return WaitSealed();
  }
  absl::Status status() const override { return status_; }
  uint64_t blocks_dropped() const override { return dropped_; }

 private:
  struct Active {
    uint8_t* dek = nullptr;
    bool key_new = false;     // wrapped key not yet in the index
    bool ended = false;
    std::optional<idx::SummaryValue> written;  // what the index holds for this call
  };
  struct OpenSeg {
    uint32_t day = 0;
    uint64_t id = 0;
    int fd = -1;
    uint64_t size = 0, live = 0;  // size counts the pending bytes
    uint64_t written = 0;         // bytes write() has taken
    uint64_t kicked = 0;          // bytes already handed to the kernel's writeback
    std::vector<uint8_t> pending;  // sealed blocks not yet written (< kWriteBytes)
    std::string tmp, final;
  };

  // Sealed blocks are collected per segment and written kWriteBytes at a time: one
  // write() per ~64 blocks instead of one each (a system call costs microseconds on a
  // virtual machine). Nothing is lost by waiting: no block counts before its seal, and a
  // seal first writes what is pending (BeginSeal).
  static constexpr std::size_t kWriteBytes = 1u << 20;
  absl::Status WritePending(OpenSeg& seg) {
    if (seg.pending.empty()) return absl::OkStatus();
    RETURN_IF_ERROR(WriteAll(seg.fd, seg.pending.data(), seg.pending.size(), seg.tmp));
    seg.written += seg.pending.size();
    seg.pending.clear();
    KickWriteback(seg);
    return absl::OkStatus();
  }

  // Starts the disk write of every full kWritebackBytes of a segment as it is written,
  // without waiting for it (as RocksDB's bytes_per_sync does), so the fsync of the seal
  // rule finds the data already on its way to disk instead of stalling the writer for
  // a whole flush interval's worth of bytes. Advisory: an error here is not one of the
  // seal rule's, the fsync at the seal still decides durability.
  static constexpr uint64_t kWritebackBytes = 4ull << 20;
  static void KickWriteback(OpenSeg& seg) {
    if (seg.written - seg.kicked < kWritebackBytes) return;
    ::sync_file_range(seg.fd, off64_t(seg.kicked), off64_t(seg.written - seg.kicked),
                      SYNC_FILE_RANGE_WRITE);
    seg.kicked = seg.written;
  }

  Active* GetCall(CallId id) {
    auto it = calls_.find(id.value);
    if (it != calls_.end()) return &it->second;
    Active a;
    a.dek = pool_.Acquire();
    SecureBytes dek;
    absl::Status s = m_->LoadDek(id, &dek);
    if (s.ok()) {
      std::memcpy(a.dek, dek.data(), kKeyBytes);
    } else if (absl::IsNotFound(s)) {
      KeyRing::NewDek(a.dek);
      a.key_new = true;
    } else {
      pool_.Release(a.dek);
      status_ = Annotate(s, "writer");
      return nullptr;
    }
    return &calls_.emplace(id.value, a).first->second;
  }

  void Record(const CallRecord& r, bool ended) {
    Active* c = GetCall(r.call_id);
    if (c == nullptr) return;
    c->ended = c->ended || ended;
    pending_records_[r.call_id.value] = r;
  }

  OpenSeg* SegFor(uint32_t day) {
    for (auto& s : open_) {
      if (s.day == day) return &s;
    }
    std::string dir = m_->SegmentDir(day);
    if (::mkdir(dir.c_str(), 0700) == 0) {
      absl::Status s = FsyncDir(m_->opts.config.path + "/segments");
      if (!s.ok()) {
        status_ = s;
        return nullptr;
      }
    } else if (errno != EEXIST) {
      status_ = ErrnoToStatus(errno, fmt::format("create {}", dir));
      return nullptr;
    }
    OpenSeg seg;
    seg.day = day;
    for (;;) {
      seg.id = next_seg_++;
      seg.final = m_->SegmentPath(day, seg.id);
      seg.tmp = seg.final + ".tmp";
      struct stat st;
      if (::stat(seg.final.c_str(), &st) == 0) continue;  // never reuse a sealed name
      seg.fd = ::open(seg.tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (seg.fd >= 0) break;
      if (errno != EEXIST) {
        status_ = ErrnoToStatus(errno, fmt::format("create segment {}", seg.tmp));
        return nullptr;
      }
    }
    uint8_t hdr[kSegmentHeaderBytes];
    EncodeSegmentHeader(day, seg.id, hdr);
    absl::Status s = WriteAll(seg.fd, hdr, sizeof hdr, seg.tmp);
    if (!s.ok()) {
      ::close(seg.fd);
      status_ = s;
      return nullptr;
    }
    seg.size = seg.written = sizeof hdr;
    seg.pending.reserve(kWriteBytes + (64u << 10));  // + one block of common size
    open_.push_back(std::move(seg));
    return &open_.back();
  }

  struct Usage {
    uint64_t bytes = 0, blocks = 0;
  };
  // One seal handed to the sealer thread.
  struct SealJob {
    std::vector<OpenSeg> segments;
    rocksdb::WriteBatch batch;
    std::vector<CallId> new_key_calls;  // their data keys, in order, in new_keys
    SecureBytes new_keys;
  };

  bool SealDue() const {
    return !interval_mode_ ||
           NowNs() - last_seal_ns_ >= uint64_t(m_->opts.config.sync_interval_ms) * kNsPerMs;
  }

  // Writer thread: waits for the seal in flight, then closes the batch of everything
  // pushed so far and hands it to the sealer. Errors become the sticky status_.
  absl::Status BeginSeal() {
    RETURN_IF_ERROR(WaitSealed());
    for (auto& s : open_) {
      absl::Status w = WritePending(s);
      if (!w.ok()) return status_ = w;
    }
    SealJob job;
    // 1. The open segments and their usage; the next push opens new ones.
    for (const auto& s : open_) {
      job.batch.Merge(m_->h(idx::kUsage), idx::UsageSegKey(s.day, s.id),
                      idx::U64s<3>({s.size, s.live, 0}));
      job.batch.Merge(m_->h(idx::kUsage), idx::UsageDayKey(s.day),
                      idx::U64s<3>({s.size, 0, 1}));
    }
    job.segments = std::move(open_);
    open_.clear();
    std::string ns;
    idx::PutLe(ns, next_seg_);
    job.batch.Put(m_->h(idx::kMeta), "next_segment", ns);
    // 2. Block locations in key order (the memtable inserts a sorted run cheaply), one
    // usage update per call.
    std::sort(blocks_.begin(), blocks_.end());
    for (const auto& [k, v] : blocks_) job.batch.Put(m_->h(idx::kBlocks), k, v);
    blocks_.clear();
    for (const auto& [id, u] : usage_) {
      job.batch.Merge(m_->h(idx::kUsage), idx::UsageCallKey(CallId{id}),
                      idx::U64s<2>({u.bytes, u.blocks}));
    }
    usage_.clear();
    // 3. New data keys (wrapped by the sealer, under the master key current then),
    // records and their index entries.
    size_t fresh = 0;
    for (const auto& [id, c] : calls_) fresh += c.key_new ? 1 : 0;
    if (fresh > 0) {
      job.new_keys = SecureBytes(fresh * kKeyBytes);
      for (auto& [id, c] : calls_) {
        if (!c.key_new) continue;
        std::memcpy(job.new_keys.data() + job.new_key_calls.size() * kKeyBytes, c.dek,
                    kKeyBytes);
        job.new_key_calls.push_back(CallId{id});
        c.key_new = false;
      }
    }
    for (auto& [idv, r] : pending_records_) {
      CallId id{idv};
      Active& c = calls_.at(idv);
      if (!c.written) {
        std::string v;
        if (m_->db->Get(rocksdb::ReadOptions(), m_->h(idx::kTime), idx::IdKey(id), &v).ok()) {
          c.written = idx::DecodeSummary(v);
        }
      }
      idx::SummaryValue nv = m_->SummaryOf(r);
      auto sync_blind = [&](idx::Cf cf, char tag, const std::optional<Blind>& oldb,
                            const std::optional<Blind>& newb) {
        if (oldb && oldb != newb) job.batch.Delete(m_->h(cf), idx::BlindKey(tag, *oldb, id));
        if (newb) job.batch.Put(m_->h(cf), idx::BlindKey(tag, *newb, id), "");
      };
      const idx::SummaryValue none;
      const idx::SummaryValue& ov = c.written ? *c.written : none;
      sync_blind(idx::kAni, 0, ov.ani, nv.ani);
      sync_blind(idx::kDialled, 0, ov.dialled, nv.dialled);
      sync_blind(idx::kAgent, 'n', ov.name, nv.name);
      sync_blind(idx::kAgent, 'e', ov.ext, nv.ext);
      job.batch.Put(m_->h(idx::kTime), idx::IdKey(id), idx::EncodeSummary(nv));
      std::string plain = EncodeCallRecord(r);
      job.batch.Put(m_->h(idx::kCalls), idx::IdKey(id), SealValue("cv-rec1", id, c.dek, plain));
      sodium_memzero(plain.data(), plain.size());
      c.written = nv;
    }
    pending_records_.clear();
    // Ended calls are forgotten once this seal is in the index (WaitSealed).
    for (const auto& [id, c] : calls_) {
      if (c.ended) retiring_.push_back(id);
    }
    last_seal_ns_ = NowNs();
    if (!sealer_.joinable()) sealer_ = std::thread([this] { SealerMain(); });
    {
      std::lock_guard<std::mutex> lock(seal_mu_);
      job_ = std::move(job);
      sealing_ = true;
    }
    seal_cv_.notify_all();
    return absl::OkStatus();
  }

  // Writer thread: waits until no seal is in flight; its error becomes status_. Then the
  // calls that had ended when it began, and got nothing since, are forgotten.
  absl::Status WaitSealed() {
    RETURN_IF_ERROR(status_);
    {
      std::unique_lock<std::mutex> lock(seal_mu_);
      seal_cv_.wait(lock, [this] { return !sealing_; });
      if (!seal_result_.ok()) status_ = seal_result_;
    }
    RETURN_IF_ERROR(status_);
    for (uint64_t id : retiring_) {
      auto it = calls_.find(id);
      if (it == calls_.end() || !it->second.ended || it->second.key_new ||
          pending_records_.count(id) != 0) {
        continue;  // already gone, or still has something for the next seal
      }
      pool_.Release(it->second.dek);
      calls_.erase(it);
    }
    retiring_.clear();
    return absl::OkStatus();
  }

  // Sealer thread: one job at a time, in the seal rule's order.
  void SealerMain() {
    pthread_setname_np(pthread_self(), "cv-sealer");
    std::unique_lock<std::mutex> lock(seal_mu_);
    for (;;) {
      seal_cv_.wait(lock, [this] { return job_.has_value() || sealer_stop_; });
      if (!job_.has_value()) return;  // stop with nothing in flight
      SealJob job = std::move(*job_);
      job_.reset();
      lock.unlock();
      absl::Status s = Seal(job);
      lock.lock();
      if (seal_result_.ok()) seal_result_ = s;
      if (!s.ok()) seal_failed_.store(true, std::memory_order_relaxed);
      sealing_ = false;
      seal_cv_.notify_all();
    }
  }

  absl::Status Seal(SealJob& job) {
    // Exclusive against key rotation: no key wrapped under an old KEK lands after it.
    std::shared_lock<std::shared_mutex> lock(m_->rotation_mu);
    // 1. Segments: fsync, rename to the final name, fsync the directory.
    absl::Status result;
    for (auto& s : job.segments) {
      if (!result.ok()) {
        ::close(s.fd);
        continue;
      }
      if (::fsync(s.fd) != 0) result = ErrnoToStatus(errno, "fsync " + s.tmp);
      ::close(s.fd);
      s.fd = -1;
      if (!result.ok()) continue;
      if (::rename(s.tmp.c_str(), s.final.c_str()) != 0) {
        result = ErrnoToStatus(errno, "rename " + s.tmp);
        continue;
      }
      result = FsyncDir(m_->SegmentDir(s.day));
    }
    RETURN_IF_ERROR(result);
    // 2. The new data keys, wrapped under the master key current now.
    for (size_t i = 0; i < job.new_key_calls.size(); ++i) {
      WrappedKey w = m_->keys->Wrap(job.new_keys.data() + i * kKeyBytes, job.new_key_calls[i]);
      job.batch.Put(m_->h(idx::kKeys), idx::IdKey(job.new_key_calls[i]),
                    rocksdb::Slice(reinterpret_cast<const char*>(w.data()), w.size()));
    }
    // 3. One synced WriteBatch: the index never points at data that is not durable.
    rocksdb::WriteOptions wo;
    wo.sync = true;
    return FromRocks(m_->db->Write(wo, &job.batch), "write index batch");
  }

  StoreImpl* m_;
  DekPool pool_;
  std::unordered_map<uint64_t, Active> calls_;
  std::map<uint64_t, CallRecord> pending_records_;
  std::vector<OpenSeg> open_;
  std::vector<std::pair<std::string, std::string>> blocks_;  // block key, location
  std::unordered_map<uint64_t, Usage> usage_;                // by call id
  std::vector<uint64_t> retiring_;  // ended calls, forgotten once the seal in flight lands
  BlockSealer block_sealer_;  // cipher and nonce pool of this writer
  uint64_t next_seg_ = 1;
  uint64_t last_seal_ns_ = 0;
  bool interval_mode_ = false;
  absl::Status status_;
  uint64_t dropped_ = 0;
  // The sealer thread and its single job slot (seal_mu_ guards the four below).
  std::thread sealer_;
  std::mutex seal_mu_;
  std::condition_variable seal_cv_;
  std::optional<SealJob> job_;
  bool sealing_ = false;      // a job handed over and not yet finished
  bool sealer_stop_ = false;
  absl::Status seal_result_;  // first sealer error
  std::atomic<bool> seal_failed_{false};  // seal_result_ is an error (cheap check in Push)
};

}  // namespace

std::unique_ptr<StoreWriter> MakeStoreWriter(StoreImpl* impl) {
  return std::make_unique<WriterImpl>(impl);
}

}  // namespace callvault
