// SegmentRewriter (segment_rewriter.h): copy live sealed blocks of one or more segments
// into a new segment and move their index locations in one synced WriteBatch.
#include "storage/maintenance/segment_rewriter.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <set>
#include <utility>

#include <fmt/format.h>
#include <rocksdb/write_batch.h>

#include "appliance/common/status.h"
#include "storage/index/index_keys.h"
#include "storage/segment/block_codec.h"
#include "storage/segment/segment_format.h"
#include "storage/store_impl.h"

namespace callvault {
namespace {

constexpr uint64_t kIdGap = 1ull << 32;
constexpr std::size_t kIoChunk = 1u << 20;

uint64_t Neg(uint64_t v) { return ~v + 1; }

// Closes a descriptor on every path.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

absl::Status FsyncPath(const std::string& path, int flags) {
  Fd f{::open(path.c_str(), flags | O_CLOEXEC)};
  if (f.fd < 0) return ErrnoToStatus(errno, fmt::format("open {}", path));
  if (::fsync(f.fd) != 0) return ErrnoToStatus(errno, fmt::format("fsync {}", path));
  return absl::OkStatus();
}

// Sequential reads of one segment file through a read-ahead window (a walk over many small
// blocks costs one read per MiB, not two per block).
class SegmentReader {
 public:
  SegmentReader(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  // The `n` bytes at `off`; IntegrityError when the file ends before them.
  absl::StatusOr<const uint8_t*> At(uint64_t off, std::size_t n) {
    if (off < start_ || off + n > start_ + buf_.size()) {
      buf_.resize(std::max(n, kIoChunk));
      std::size_t got = 0;
      while (got < buf_.size()) {
        ssize_t r = ::pread(fd_, buf_.data() + got, buf_.size() - got, off_t(off + got));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return ErrnoToStatus(errno, fmt::format("read {}", path_));
        if (r == 0) break;
        got += std::size_t(r);
      }
      buf_.resize(got);
      start_ = off;
      if (got < n) {
        return IntegrityError(fmt::format("segment {} ends at {} inside a block at offset {}",
                                          path_, off + got, off));
      }
    }
    return buf_.data() + (off - start_);
  }

 private:
  int fd_;
  std::string path_;
  std::vector<uint8_t> buf_;
  uint64_t start_ = 0;
};

// Buffered appends to the new segment.
class SegmentWriter {
 public:
  SegmentWriter(int fd, std::string path) : fd_(fd), path_(std::move(path)) {
    buf_.reserve(kIoChunk);
  }
  absl::Status Append(const uint8_t* p, std::size_t n) {
    if (buf_.size() + n > kIoChunk) RETURN_IF_ERROR(Drain());
    if (n >= kIoChunk) return WriteAll(p, n);
    buf_.insert(buf_.end(), p, p + n);
    return absl::OkStatus();
  }
  absl::Status Drain() {
    absl::Status s = WriteAll(buf_.data(), buf_.size());
    buf_.clear();
    return s;
  }

 private:
  absl::Status WriteAll(const uint8_t* p, std::size_t n) {
    while (n > 0) {
      ssize_t w = ::write(fd_, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return ErrnoToStatus(errno, fmt::format("write {}", path_));
      p += w;
      n -= std::size_t(w);
    }
    return absl::OkStatus();
  }
  int fd_;
  std::string path_;
  std::vector<uint8_t> buf_;
};

// Walks one input and appends its live blocks to `out`, adding their new locations to
// `batch`. Returns a non-empty problem when the input must be left alone.
absl::StatusOr<std::string> CopyLive(StoreImpl& m, const SegmentUsage& in, uint64_t new_id,
                                     SegmentWriter& out, uint64_t* out_size, uint64_t* blocks,
                                     rocksdb::WriteBatch& batch) {
  Fd src{::open(in.path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (src.fd < 0) return ErrnoToStatus(errno, fmt::format("open {}", in.path));
  SegmentReader r(src.fd, in.path);
  auto hdr = r.At(0, kSegmentHeaderBytes);
  if (!hdr.ok() || CheckSegmentHeader(*hdr, in.day, in.segment_id) != 0) {
    return fmt::format("segment {:016x}: header missing or corrupt", in.segment_id);
  }
  uint64_t live = 0;
  std::string lv;
  for (uint64_t off = kSegmentHeaderBytes; off < in.file_bytes;) {
    auto bh = r.At(off, kBlockHeaderBytes);
    if (!bh.ok()) {
      return fmt::format("segment {:016x}: {}", in.segment_id, std::string(bh.status().message()));
    }
    auto h = ParseBlockHeader(std::span<const uint8_t>(*bh, kBlockHeaderBytes));
    if (!h.ok()) {
      return fmt::format("segment {:016x}: block at offset {}: {}", in.segment_id, off,
                         std::string(h.status().message()));
    }
    const uint64_t len = SealedBlockSize(h->payload_len);
    if (off + len > in.file_bytes) {
      return fmt::format("segment {:016x}: block at offset {} runs past the sealed size {}",
                         in.segment_id, off, in.file_bytes);
    }
    std::string key = idx::BlockKey(h->info.call_id, h->info.kind, h->info.leg, h->info.seq);
    rocksdb::Status gs = m.db->Get(rocksdb::ReadOptions(), m.h(idx::kBlocks), key, &lv);
    if (!gs.ok() && !gs.IsNotFound()) return FromRocks(gs, "rewrite: read block location");
    std::optional<idx::BlockLocation> loc;
    if (gs.ok()) loc = idx::DecodeLocation(lv);
    if (loc && loc->day == in.day && loc->segment == in.segment_id && loc->offset == off &&
        loc->length == len) {
      ASSIGN_OR_RETURN(const uint8_t* p, r.At(off, len));
      RETURN_IF_ERROR(out.Append(p, len));
      loc->segment = new_id;
      loc->offset = *out_size;
      batch.Put(m.h(idx::kBlocks), key, idx::EncodeLocation(*loc));
      *out_size += len;
      live += len;
      ++*blocks;
    }
    off += len;
  }
  if (live != in.live_bytes) {
    return fmt::format("segment {:016x}: holds {} live bytes, accounting says {}",
                       in.segment_id, live, in.live_bytes);
  }
  return std::string();
}

}  // namespace

absl::StatusOr<SegmentIdAllocator> SegmentIdAllocator::Create(StoreImpl& m) {
  uint64_t hi = 0;
  std::string v;
  if (m.db->Get(rocksdb::ReadOptions(), m.h(idx::kMeta), "next_segment", &v).ok() &&
      v.size() == 8) {
    hi = idx::GetLe<uint64_t>(v.data());
  }
  std::unique_ptr<rocksdb::Iterator> it(
      m.db->NewIterator(rocksdb::ReadOptions(), m.h(idx::kUsage)));
  for (it->Seek("s"); it->Valid() && it->key().starts_with("s"); it->Next()) {
    if (it->key().size() == 13) hi = std::max(hi, idx::GetBe(it->key().data() + 5, 8) + 1);
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "rewrite: scan segments"));
  return SegmentIdAllocator(hi + kIdGap);
}

absl::StatusOr<CompactOutcome> RewriteSegments(StoreImpl& m, uint32_t day,
                                               std::span<const SegmentUsage> inputs,
                                               SegmentIdAllocator& ids,
                                               const RewriteStages& stages,
                                               const RewriteStep& step) {
  CompactOutcome out;
  out.day = day;
  if (inputs.empty()) return out;
  out.old_segment = inputs[0].segment_id;
  // Fresh accounting (the listing may predate a destroy).
  std::vector<SegmentUsage> ins;
  for (const SegmentUsage& s : inputs) {
    std::string v;
    rocksdb::Status gs =
        m.db->Get(rocksdb::ReadOptions(), m.h(idx::kUsage), idx::UsageSegKey(day, s.segment_id), &v);
    if (gs.IsNotFound() || s.day != day) {
      out.problem = fmt::format("segment {:016x} of day {} is no longer accounted", s.segment_id,
                                s.day);
      return out;
    }
    RETURN_IF_ERROR(FromRocks(gs, "rewrite: read segment accounting"));
    SegmentUsage f = s;
    auto a = idx::ParseU64s<3>(v);
    f.file_bytes = a[0];
    f.live_bytes = a[1];
    f.dead_bytes = a[2];
    f.path = m.SegmentPath(day, s.segment_id);
    out.old_file_bytes += f.file_bytes;
    ins.push_back(std::move(f));
  }
  if (std::none_of(ins.begin(), ins.end(), [](const SegmentUsage& s) { return s.live_bytes; })) {
    out.problem = fmt::format("segment {:016x}: no live blocks to rewrite (deleted instead)",
                              out.old_segment);
    return out;
  }

  uint64_t id = 0;
  std::string final_path, tmp;
  Fd dst;
  for (;;) {
    id = ids.Next();
    final_path = m.SegmentPath(day, id);
    tmp = final_path + ".tmp";
    struct stat st;
    if (::stat(final_path.c_str(), &st) == 0) continue;  // never reuse a sealed name
    dst.fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (dst.fd >= 0) break;
    if (errno != EEXIST) return ErrnoToStatus(errno, fmt::format("create {}", tmp));
  }
  SegmentWriter w(dst.fd, tmp);
  uint8_t hdr[kSegmentHeaderBytes];
  EncodeSegmentHeader(day, id, hdr);
  rocksdb::WriteBatch batch;
  uint64_t size = sizeof hdr, blocks = 0, live = 0, dead = 0;
  absl::Status ws = w.Append(hdr, sizeof hdr);
  for (const SegmentUsage& in : ins) {
    if (!ws.ok()) break;
    auto problem = CopyLive(m, in, id, w, &size, &blocks, batch);
    if (!problem.ok() || !problem->empty()) {
      ::unlink(tmp.c_str());
      if (!problem.ok()) return Annotate(problem.status(), fmt::format("rewrite {}", in.path));
      out.problem = std::move(*problem);
      return out;
    }
    live += in.live_bytes;
    dead += in.dead_bytes;
  }
  if (ws.ok()) ws = w.Drain();
  if (ws.ok() && ::fsync(dst.fd) != 0) ws = ErrnoToStatus(errno, fmt::format("fsync {}", tmp));
  if (!ws.ok()) {
    ::unlink(tmp.c_str());
    return ws;
  }
  ::close(dst.fd);
  dst.fd = -1;
  if (::link(tmp.c_str(), final_path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return ErrnoToStatus(e, fmt::format("publish {}", final_path));
  }
  ::unlink(tmp.c_str());
  RETURN_IF_ERROR(FsyncPath(m.SegmentDir(day), O_RDONLY | O_DIRECTORY));
  if (step) step(stages.written);

  batch.Merge(m.h(idx::kUsage), idx::UsageSegKey(day, id), idx::U64s<3>({size, live, 0}));
  for (const SegmentUsage& in : ins) batch.Delete(m.h(idx::kUsage), idx::UsageSegKey(day, in.segment_id));
  // Day bucket: + new file - old files, - the old files' dead bytes, segments 1 - N.
  batch.Merge(m.h(idx::kUsage), idx::UsageDayKey(day),
              idx::U64s<3>({size + Neg(out.old_file_bytes), Neg(dead), 1 + Neg(ins.size())}));
  std::string ns;
  idx::PutLe(ns, id + 1);
  batch.Put(m.h(idx::kMeta), "next_segment", ns);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  RETURN_IF_ERROR(FromRocks(m.db->Write(wo, &batch), "rewrite: move block locations"));
  if (step) step(stages.indexed);

  for (const SegmentUsage& in : ins) {
    if (::unlink(in.path.c_str()) != 0 && errno != ENOENT) {
      return ErrnoToStatus(errno, fmt::format("delete {}", in.path));
    }
  }
  RETURN_IF_ERROR(FsyncPath(m.SegmentDir(day), O_RDONLY | O_DIRECTORY));
  out.segments_in = ins.size();
  out.new_segment = id;
  out.new_file_bytes = size;
  out.blocks_moved = blocks;
  return out;
}

absl::StatusOr<std::vector<CompactOutcome>> CompactSegments(
    Store& store, const std::vector<SegmentUsage>& segments, const RewriteStep& step) {
  std::vector<CompactOutcome> outs;
  if (segments.empty()) return outs;
  StoreImpl& m = *store.impl();
  std::lock_guard<std::mutex> admin(m.admin_mu);
  ASSIGN_OR_RETURN(SegmentIdAllocator ids, SegmentIdAllocator::Create(m));
  for (const SegmentUsage& s : segments) {
    ASSIGN_OR_RETURN(CompactOutcome o,
                     RewriteSegments(m, s.day, std::span<const SegmentUsage>(&s, 1), ids, {}, step));
    outs.push_back(std::move(o));
  }
  return outs;
}

absl::StatusOr<std::vector<SegmentUsage>> DeleteDeadSegments(
    Store& store, const std::vector<SegmentUsage>& segments) {
  std::vector<SegmentUsage> done;
  if (segments.empty()) return done;
  StoreImpl& m = *store.impl();
  std::lock_guard<std::mutex> admin(m.admin_mu);
  rocksdb::WriteBatch batch;
  for (const SegmentUsage& s : segments) {
    std::string v, key = idx::UsageSegKey(s.day, s.segment_id);
    if (!m.db->Get(rocksdb::ReadOptions(), m.h(idx::kUsage), key, &v).ok()) continue;
    auto a = idx::ParseU64s<3>(v);
    if (a[1] != 0) continue;  // live bytes: never deleted
    batch.Delete(m.h(idx::kUsage), key);
    batch.Merge(m.h(idx::kUsage), idx::UsageDayKey(s.day),
                idx::U64s<3>({Neg(a[0]), Neg(a[2]), Neg(1)}));
    SegmentUsage d = s;
    d.file_bytes = a[0];
    d.dead_bytes = a[2];
    done.push_back(std::move(d));
  }
  rocksdb::WriteOptions wo;
  wo.sync = true;
  RETURN_IF_ERROR(FromRocks(m.db->Write(wo, &batch), "delete dead segment accounting"));
  std::set<uint32_t> days;
  for (const SegmentUsage& s : done) {
    std::string path = m.SegmentPath(s.day, s.segment_id);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return ErrnoToStatus(errno, fmt::format("delete segment {}", path));
    }
    days.insert(s.day);
  }
  for (uint32_t d : days) RETURN_IF_ERROR(FsyncPath(m.SegmentDir(d), O_RDONLY | O_DIRECTORY));
  return done;
}

}  // namespace callvault
