// SegmentCompactor (segment_compactor.h): copy live sealed blocks into a new segment and
// move their index locations atomically.
#include "storage/retention/segment_compactor.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <mutex>
#include <set>
#include <span>
#include <utility>

#include <fmt/format.h>
#include <rocksdb/write_batch.h>

#include "appliance/common/status.h"
#include "storage/index/index_keys.h"
#include "storage/segment/block_codec.h"
#include "storage/segment/segment_format.h"
#include "storage/store_impl.h"

namespace callvault::retention {
namespace {

constexpr uint64_t kIdGap = 1ull << 32;

std::string_view AsView(const rocksdb::Slice& s) { return {s.data(), s.size()}; }
uint64_t Neg(uint64_t v) { return ~v + 1; }

struct Live {
  std::string key;
  idx::BlockLocation loc;
};

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

absl::Status ReadAt(int fd, uint8_t* p, std::size_t n, uint64_t off, const std::string& path) {
  while (n > 0) {
    ssize_t r = ::pread(fd, p, n, off_t(off));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return ErrnoToStatus(errno, fmt::format("read {}", path));
    if (r == 0) return IntegrityError(fmt::format("segment {} shorter than its index", path));
    p += r;
    n -= std::size_t(r);
    off += uint64_t(r);
  }
  return absl::OkStatus();
}

absl::Status WriteAll(int fd, const uint8_t* p, std::size_t n, const std::string& path) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return ErrnoToStatus(errno, fmt::format("write {}", path));
    p += w;
    n -= std::size_t(w);
  }
  return absl::OkStatus();
}

// The next id: 2^32 above the highest id known to the index (meta or accounting).
absl::StatusOr<uint64_t> NextId(StoreImpl& m) {
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
  RETURN_IF_ERROR(FromRocks(it->status(), "compact: scan segments"));
  return hi + kIdGap;
}

// Rewrites one segment. Returns the outcome (problem set when left alone) or an I/O error.
absl::StatusOr<CompactOutcome> CompactOne(StoreImpl& m, const SegmentUsage& s,
                                          std::vector<Live>& blocks,
                                          const std::function<void(std::string_view)>& step) {
  CompactOutcome out;
  out.day = s.day;
  out.old_segment = s.segment_id;
  out.old_file_bytes = s.file_bytes;
  uint64_t live = 0;
  for (const Live& b : blocks) live += b.loc.length;
  if (live != s.live_bytes || blocks.empty()) {
    out.problem = fmt::format("segment {:016x}: index holds {} live bytes, accounting {}",
                              s.segment_id, live, s.live_bytes);
    return out;
  }
  std::sort(blocks.begin(), blocks.end(),
            [](const Live& a, const Live& b) { return a.loc.offset < b.loc.offset; });
  ASSIGN_OR_RETURN(uint64_t id, NextId(m));
  std::string final_path, tmp;
  Fd dst;
  for (;; ++id) {
    final_path = m.SegmentPath(s.day, id);
    tmp = final_path + ".tmp";
    struct stat st;
    if (::stat(final_path.c_str(), &st) == 0) continue;
    dst.fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (dst.fd >= 0) break;
    if (errno != EEXIST) return ErrnoToStatus(errno, fmt::format("create {}", tmp));
  }
  Fd src{::open(s.path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (src.fd < 0) return ErrnoToStatus(errno, fmt::format("open {}", s.path));

  uint8_t hdr[kSegmentHeaderBytes];
  EncodeSegmentHeader(s.day, id, hdr);
  RETURN_IF_ERROR(WriteAll(dst.fd, hdr, sizeof hdr, tmp));
  uint64_t size = sizeof hdr;
  rocksdb::WriteBatch batch;
  std::vector<uint8_t> buf;
  for (Live& b : blocks) {
    buf.resize(b.loc.length);
    RETURN_IF_ERROR(ReadAt(src.fd, buf.data(), buf.size(), b.loc.offset, s.path));
    auto h = ParseBlockHeader(buf);
    if (!h.ok() || h->info.call_id.value != idx::GetBe(b.key.data(), 8) ||
        SealedBlockSize(h->payload_len) != buf.size()) {
      ::unlink(tmp.c_str());
      out.problem = fmt::format("segment {:016x}: block at offset {} does not match its index",
                                s.segment_id, b.loc.offset);
      return out;
    }
    RETURN_IF_ERROR(WriteAll(dst.fd, buf.data(), buf.size(), tmp));
    b.loc.segment = id;
    b.loc.offset = size;
    size += buf.size();
    batch.Put(m.h(idx::kBlocks), b.key, idx::EncodeLocation(b.loc));
  }
  if (::fsync(dst.fd) != 0) return ErrnoToStatus(errno, fmt::format("fsync {}", tmp));
  ::close(dst.fd);
  dst.fd = -1;
  if (::link(tmp.c_str(), final_path.c_str()) != 0) {
    return ErrnoToStatus(errno, fmt::format("publish {}", final_path));
  }
  ::unlink(tmp.c_str());
  RETURN_IF_ERROR(FsyncPath(m.SegmentDir(s.day), O_RDONLY | O_DIRECTORY));
  if (step) step("compact_written");

  batch.Merge(m.h(idx::kUsage), idx::UsageSegKey(s.day, id), idx::U64s<3>({size, live, 0}));
  batch.Delete(m.h(idx::kUsage), idx::UsageSegKey(s.day, s.segment_id));
  // Day bucket: + new file, - old file, - the old file's dead bytes, segment count same.
  batch.Merge(m.h(idx::kUsage), idx::UsageDayKey(s.day),
              idx::U64s<3>({size + Neg(s.file_bytes), Neg(s.dead_bytes), 0}));
  std::string ns;
  idx::PutLe(ns, id + 1);
  batch.Put(m.h(idx::kMeta), "next_segment", ns);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  RETURN_IF_ERROR(FromRocks(m.db->Write(wo, &batch), "compact: move block locations"));
  if (step) step("compact_indexed");

  if (::unlink(s.path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoToStatus(errno, fmt::format("delete {}", s.path));
  }
  RETURN_IF_ERROR(FsyncPath(m.SegmentDir(s.day), O_RDONLY | O_DIRECTORY));
  out.new_segment = id;
  out.new_file_bytes = size;
  out.blocks_moved = blocks.size();
  return out;
}

}  // namespace

absl::StatusOr<std::vector<CompactOutcome>> CompactSegments(
    Store& store, const std::vector<SegmentUsage>& segments,
    const std::function<void(std::string_view)>& step) {
  std::vector<CompactOutcome> outs;
  if (segments.empty()) return outs;
  StoreImpl& m = *store.impl();
  std::lock_guard<std::mutex> admin(m.admin_mu);
  // One scan of the block index finds the live blocks of every target segment.
  std::map<std::pair<uint32_t, uint64_t>, std::vector<Live>> live;
  for (const auto& s : segments) live[{s.day, s.segment_id}];
  std::unique_ptr<rocksdb::Iterator> it(
      m.db->NewIterator(rocksdb::ReadOptions(), m.h(idx::kBlocks)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto loc = idx::DecodeLocation(AsView(it->value()));
    if (!loc || it->key().size() != idx::kBlockKeyBytes) continue;
    auto f = live.find({loc->day, loc->segment});
    if (f != live.end()) f->second.push_back({it->key().ToString(), *loc});
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "compact: scan block index"));
  it.reset();
  for (const auto& s : segments) {
    ASSIGN_OR_RETURN(CompactOutcome o, CompactOne(m, s, live[{s.day, s.segment_id}], step));
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

}  // namespace callvault::retention
