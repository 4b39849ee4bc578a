// StoreWriter implementation: seals blocks into per-day segment files and makes them
// visible with the seal rule of store.h (fsync, rename, fsync dir, one synced WriteBatch).
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include <fmt/format.h>
#include <rocksdb/write_batch.h>

#include "appliance/common/status.h"
#include "appliance/common/time_util.h"
#include "storage/index/record_codec.h"
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
    // Unsealed data is discarded by the next start-up scan; close descriptors only.
    for (auto& s : open_) ::close(s.fd);
    for (auto& [id, c] : calls_) pool_.Release(c.dek);
  }

  void OnCallStarted(const CallRecord& r) override { Record(r, false); }
  void OnCallUpdated(const CallRecord& r) override { Record(r, false); }
  void OnCallEnded(const CallRecord& r) override { Record(r, true); }

  bool Push(PlainBlock&& b) override {
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
    scratch_.clear();
    SealBlock(b.info, b.payload, c->dek, scratch_);
    absl::Status s = WriteAll(seg->fd, scratch_.data(), scratch_.size(), seg->tmp);
    if (!s.ok()) {
      status_ = s;
      ++dropped_;
      return false;
    }
    idx::BlockLocation loc;
    loc.direction = b.info.direction;
    loc.day = day;
    loc.segment = seg->id;
    loc.offset = seg->size;
    loc.length = uint32_t(scratch_.size());
    loc.first_ts_ns = b.info.first_ts_ns;
    loc.last_ts_ns = b.info.last_ts_ns;
    loc.frames = b.info.frames;
    batch_.Put(m_->h(idx::kBlocks),
               idx::BlockKey(b.info.call_id, b.info.kind, b.info.leg, b.info.seq),
               idx::EncodeLocation(loc));
    batch_.Merge(m_->h(idx::kUsage), idx::UsageCallKey(b.info.call_id),
                 idx::U64s<2>({scratch_.size(), 1}));
    seg->size += scratch_.size();
    seg->live += scratch_.size();
    if (seg->size >= m_->opts.config.segment_bytes) {
      absl::Status ss = SealAll();
      if (!ss.ok()) status_ = ss;
    }
    return true;
  }

  absl::Status Flush() override {
    RETURN_IF_ERROR(status_);
    if (interval_mode_ &&
        NowNs() - last_seal_ns_ < uint64_t(m_->opts.config.sync_interval_ms) * kNsPerMs) {
      return absl::OkStatus();
    }
    return SealAll();
  }
  absl::Status Sync() override {
    RETURN_IF_ERROR(status_);
    return SealAll();
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
    uint64_t size = 0, live = 0;
    std::string tmp, final;
  };

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
    seg.size = sizeof hdr;
    open_.push_back(std::move(seg));
    return &open_.back();
  }

  absl::Status SealAll() {
    std::shared_lock<std::shared_mutex> lock(m_->rotation_mu);
    // 1. Segments: fsync, rename to the final name, fsync the directory.
    for (auto& s : open_) {
      if (::fsync(s.fd) != 0) return status_ = ErrnoToStatus(errno, "fsync " + s.tmp);
      ::close(s.fd);
      s.fd = -1;
      if (::rename(s.tmp.c_str(), s.final.c_str()) != 0) {
        return status_ = ErrnoToStatus(errno, "rename " + s.tmp);
      }
      RETURN_IF_ERROR(status_ = FsyncDir(m_->SegmentDir(s.day)));
      batch_.Merge(m_->h(idx::kUsage), idx::UsageSegKey(s.day, s.id),
                   idx::U64s<3>({s.size, s.live, 0}));
      batch_.Merge(m_->h(idx::kUsage), idx::UsageDayKey(s.day), idx::U64s<3>({s.size, 0, 1}));
    }
    open_.clear();
    std::string ns;
    idx::PutLe(ns, next_seg_);
    batch_.Put(m_->h(idx::kMeta), "next_segment", ns);
    // 2. New wrapped keys (under the KEK current now), records and their index entries.
    for (auto& [id, c] : calls_) {
      if (!c.key_new) continue;
      WrappedKey w = m_->keys->Wrap(c.dek, CallId{id});
      batch_.Put(m_->h(idx::kKeys), idx::IdKey(CallId{id}),
                 rocksdb::Slice(reinterpret_cast<const char*>(w.data()), w.size()));
    }
    for (auto& [idv, r] : pending_records_) {
      CallId id{idv};
      Active& c = calls_.at(idv);
      if (!c.written && !c.key_new) {
        std::string v;
        if (m_->db->Get(rocksdb::ReadOptions(), m_->h(idx::kTime), idx::IdKey(id), &v).ok()) {
          c.written = idx::DecodeSummary(v);
        }
      }
      idx::SummaryValue nv = m_->SummaryOf(r);
      auto sync_blind = [&](idx::Cf cf, char tag, const std::optional<Blind>& oldb,
                            const std::optional<Blind>& newb) {
        if (oldb && oldb != newb) batch_.Delete(m_->h(cf), idx::BlindKey(tag, *oldb, id));
        if (newb) batch_.Put(m_->h(cf), idx::BlindKey(tag, *newb, id), "");
      };
      const idx::SummaryValue none;
      const idx::SummaryValue& ov = c.written ? *c.written : none;
      sync_blind(idx::kAni, 0, ov.ani, nv.ani);
      sync_blind(idx::kDialled, 0, ov.dialled, nv.dialled);
      sync_blind(idx::kAgent, 'n', ov.name, nv.name);
      sync_blind(idx::kAgent, 'e', ov.ext, nv.ext);
      batch_.Put(m_->h(idx::kTime), idx::IdKey(id), idx::EncodeSummary(nv));
      std::string plain = EncodeCallRecord(r);
      batch_.Put(m_->h(idx::kCalls), idx::IdKey(id), SealValue("cv-rec1", id, c.dek, plain));
      sodium_memzero(plain.data(), plain.size());
      c.written = nv;
    }
    // 3. One synced WriteBatch: the index never points at data that is not durable.
    rocksdb::WriteOptions wo;
    wo.sync = true;
    RETURN_IF_ERROR(status_ = FromRocks(m_->db->Write(wo, &batch_), "write index batch"));
    batch_.Clear();
    pending_records_.clear();
    for (auto it = calls_.begin(); it != calls_.end();) {
      it->second.key_new = false;
      if (it->second.ended) {
        pool_.Release(it->second.dek);
        it = calls_.erase(it);
      } else {
        ++it;
      }
    }
    last_seal_ns_ = NowNs();
    return absl::OkStatus();
  }

  StoreImpl* m_;
  DekPool pool_;
  std::unordered_map<uint64_t, Active> calls_;
  std::map<uint64_t, CallRecord> pending_records_;
  std::vector<OpenSeg> open_;
  rocksdb::WriteBatch batch_;
  std::vector<uint8_t> scratch_;
  uint64_t next_seg_ = 1;
  uint64_t last_seal_ns_ = 0;
  bool interval_mode_ = false;
  absl::Status status_;
  uint64_t dropped_ = 0;
};

}  // namespace

std::unique_ptr<StoreWriter> MakeStoreWriter(StoreImpl* impl) {
  return std::make_unique<WriterImpl>(impl);
}

}  // namespace callvault
