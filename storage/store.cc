// Store: opening, the VERSION check, the start-up scan, and shared helpers.
#include "storage/store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include <fmt/format.h>
#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>

#include "appliance/common/status.h"
#include "appliance/common/time_util.h"
#include "storage/index/normalize.h"
#include "storage/index/record_codec.h"
#include "storage/store_impl.h"

namespace callvault {
namespace {

// usage CF: element-wise addition of little-endian u64 arrays (mod 2^64, so adding the
// two's complement subtracts).
class U64ArrayAdd : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* new_value, rocksdb::Logger*) const override {
    std::size_t n = std::max(existing ? existing->size() : 0, value.size()) / 8;
    new_value->assign(n * 8, '\0');
    for (std::size_t i = 0; i < n; ++i) {
      uint64_t a = 0, b = 0;
      if (existing && (i + 1) * 8 <= existing->size()) {
        std::memcpy(&a, existing->data() + i * 8, 8);
      }
      if ((i + 1) * 8 <= value.size()) std::memcpy(&b, value.data() + i * 8, 8);
      uint64_t c = a + b;
      std::memcpy(new_value->data() + i * 8, &c, 8);
    }
    return true;
  }
  const char* Name() const override { return "callvault.U64ArrayAdd"; }
};

absl::Status MkdirP(const std::string& path) {
  // Create each prefix ending before a '/' and the full path (no string reassignments:
  // GCC 12 -O3 reports a false -Wrestrict on those).
  for (std::size_t i = 1; i <= path.size(); ++i) {
    if (i < path.size() && path[i] != '/') continue;
    std::string cur = path.substr(0, i);
    if (::mkdir(cur.c_str(), 0700) != 0 && errno != EEXIST) {
      return ErrnoToStatus(errno, fmt::format("create directory {}", cur));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckVersionFile(const std::string& root, bool create) {
  std::string vpath = root + "/VERSION";
  std::ifstream in(vpath);
  if (!in) {
    if (!create) {
      return absl::UnavailableError(fmt::format(
          "{} is not a callvault store (no VERSION file); create it with ingest or the "
          "daemon",
          root));
    }
    std::string text = fmt::format("callvault-store {}\n", kStoreFormatVersion);
    std::string tmp = vpath + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return ErrnoToStatus(errno, fmt::format("create {}", tmp));
    bool ok = ::write(fd, text.data(), text.size()) == ssize_t(text.size()) &&
              ::fsync(fd) == 0;
    ::close(fd);
    if (!ok || ::rename(tmp.c_str(), vpath.c_str()) != 0) {
      return ErrnoToStatus(errno, fmt::format("write {}", vpath));
    }
    return absl::OkStatus();
  }
  std::string word;
  uint64_t version = 0;
  in >> word >> version;
  if (word != "callvault-store" || version == 0) {
    return IntegrityError(fmt::format("{}: not a callvault store VERSION file", vpath));
  }
  if (version > kStoreFormatVersion) {
    return absl::FailedPreconditionError(fmt::format(
        "store {} was written by a newer callvault (store format {}; this build reads up "
        "to {}): upgrade callvault",
        root, version, kStoreFormatVersion));
  }
  return absl::OkStatus();
}

bool ParseSegName(std::string_view name, uint64_t* id, bool* tmp) {
  *tmp = name.ends_with(".seg.tmp");
  if (!*tmp && !name.ends_with(".seg")) return false;
  std::string_view hex = name.substr(0, name.find('.'));
  if (hex.size() != 16) return false;
  uint64_t v = 0;
  for (char c : hex) {
    v <<= 4;
    if (c >= '0' && c <= '9') v |= uint64_t(c - '0');
    else if (c >= 'a' && c <= 'f') v |= uint64_t(c - 'a' + 10);
    else return false;
  }
  *id = v;
  return true;
}

uint32_t ParseDayDir(std::string_view name) {
  if (name.size() != 8) return 0;
  for (char c : name) {
    if (c < '0' || c > '9') return 0;
  }
  int y = std::stoi(std::string(name.substr(0, 4)));
  unsigned m = unsigned(std::stoi(std::string(name.substr(4, 2))));
  unsigned d = unsigned(std::stoi(std::string(name.substr(6, 2))));
  // days_from_civil (H. Hinnant)
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = unsigned(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return uint32_t(era * 146097 + int(doe) - 719468);
}

}  // namespace

absl::Status FromRocks(const rocksdb::Status& s, std::string_view context) {
  if (s.ok()) return absl::OkStatus();
  std::string msg = fmt::format("{}: {}", context, s.ToString());
  if (s.IsNotFound()) return absl::NotFoundError(msg);
  if (s.IsCorruption()) return IntegrityError(msg);
  if (s.IsBusy() || s.IsTimedOut() || s.IsTryAgain()) return absl::UnavailableError(msg);
  if (s.IsIOError() && (s.ToString().find("lock") != std::string::npos ||
                        s.ToString().find("LOCK") != std::string::npos)) {
    return absl::UnavailableError(
        fmt::format("{} (is the daemon or another callvault holding the store?)", msg));
  }
  return absl::InternalError(msg);
}

std::string SealValue(std::string_view purpose, CallId id, const uint8_t* dek,
                      std::string_view plain) {
  std::string ad(purpose);
  idx::PutBe(ad, id.value, 8);
  std::string out(1 + 24 + plain.size() + 16, '\0');
  auto* p = reinterpret_cast<uint8_t*>(out.data());
  p[0] = 1;
  randombytes_buf(p + 1, 24);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      p + 25, &clen, reinterpret_cast<const uint8_t*>(plain.data()), plain.size(),
      reinterpret_cast<const uint8_t*>(ad.data()), ad.size(), nullptr, p + 1, dek);
  return out;
}

absl::StatusOr<std::string> OpenValue(std::string_view purpose, CallId id, const uint8_t* dek,
                                      std::string_view sealed) {
  if (sealed.size() < 1 + 24 + 16 || sealed[0] != 1) {
    return IntegrityError(fmt::format("call {}: sealed {} value malformed ({} bytes)",
                                      id.ToString(), purpose, sealed.size()));
  }
  std::string ad(purpose);
  idx::PutBe(ad, id.value, 8);
  std::string out(sealed.size() - 41, '\0');
  unsigned long long mlen = 0;
  const auto* p = reinterpret_cast<const uint8_t*>(sealed.data());
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<uint8_t*>(out.data()), &mlen, nullptr, p + 25, sealed.size() - 25,
          reinterpret_cast<const uint8_t*>(ad.data()), ad.size(), p + 1, dek) != 0) {
    return IntegrityError(fmt::format(
        "call {}: sealed {} value failed authentication (tampered or corrupt)", id.ToString(),
        purpose));
  }
  return out;
}

StoreImpl::~StoreImpl() {
  writer.reset();
  if (db) {
    for (auto* c : cf) {
      if (c != nullptr) db->DestroyColumnFamilyHandle(c).PermitUncheckedError();
    }
    cf.clear();
    db->Close().PermitUncheckedError();
  }
}

std::string StoreImpl::SegmentDir(uint32_t day) const {
  return fmt::format("{}/segments/{}", opts.config.path, DayString(day));
}
std::string StoreImpl::SegmentPath(uint32_t day, uint64_t seg) const {
  return fmt::format("{}/{:016x}.seg", SegmentDir(day), seg);
}

absl::Status StoreImpl::LoadDek(CallId id, SecureBytes* dek) {
  std::string v;
  rocksdb::Status s = db->Get(rocksdb::ReadOptions(), h(idx::kKeys), idx::IdKey(id), &v);
  if (s.IsNotFound()) {
    return absl::NotFoundError(fmt::format("call {} not found (no data key)", id.ToString()));
  }
  RETURN_IF_ERROR(FromRocks(s, fmt::format("read data key of call {}", id.ToString())));
  if (dek->empty()) *dek = SecureBytes(kKeyBytes);
  return keys->Unwrap(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(v.data()),
                                               v.size()),
                      id, dek->data());
}

absl::StatusOr<CallRecord> StoreImpl::ReadRecord(CallId id, const uint8_t* dek) {
  std::string v;
  rocksdb::Status s = db->Get(rocksdb::ReadOptions(), h(idx::kCalls), idx::IdKey(id), &v);
  if (s.IsNotFound()) {
    return absl::NotFoundError(fmt::format("call {} not found", id.ToString()));
  }
  RETURN_IF_ERROR(FromRocks(s, fmt::format("read call {}", id.ToString())));
  ASSIGN_OR_RETURN(std::string plain, OpenValue("cv-rec1", id, dek, v));
  auto r = DecodeCallRecord(std::span<const uint8_t>(
      reinterpret_cast<const uint8_t*>(plain.data()), plain.size()));
  sodium_memzero(plain.data(), plain.size());
  if (!r.ok()) return Annotate(r.status(), fmt::format("call {}", id.ToString()));
  if (r->call_id != id) {
    return IntegrityError(fmt::format("call {}: sealed record names another call {}",
                                      id.ToString(), r->call_id.ToString()));
  }
  return r;
}

idx::SummaryValue StoreImpl::SummaryOf(const CallRecord& r) const {
  idx::SummaryValue s;
  s.start_ns = r.start_ns;
  s.end_ns = r.end_ns;
  s.state = r.state;
  std::string n = NormalizeNumberForIndex(r.ani);
  if (!n.empty()) s.ani = keys->BlindIndex("ani", n);
  n = NormalizeNumberForIndex(r.dialled);
  if (!n.empty()) s.dialled = keys->BlindIndex("dialled", n);
  n = NormalizeNameForIndex(r.agent.name);
  if (!n.empty()) s.name = keys->BlindIndex("agent", n);
  n = NormalizeExtensionForIndex(r.agent.extension);
  if (!n.empty()) s.ext = keys->BlindIndex("extension", n);
  return s;
}

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const StoreOptions& o) {
  if (sodium_init() < 0) return absl::InternalError("libsodium initialisation failed");
  const std::string& root = o.config.path;
  if (root.empty()) return absl::InvalidArgumentError("store path is empty");
  struct stat st;
  if (::stat(root.c_str(), &st) != 0) {
    if (!o.create) {
      return absl::UnavailableError(fmt::format("store {} does not exist", root));
    }
    RETURN_IF_ERROR(MkdirP(root));
  }
  RETURN_IF_ERROR(CheckVersionFile(root, o.create && !o.read_only));
  auto impl = std::make_unique<StoreImpl>();
  impl->opts = o;
  ASSIGN_OR_RETURN(impl->keys, KeyRing::Load(o.config.key_file));
  if (!o.read_only) RETURN_IF_ERROR(MkdirP(root + "/segments"));

  rocksdb::DBOptions dbo;
  dbo.create_if_missing = !o.read_only;
  dbo.create_missing_column_families = !o.read_only;
  dbo.keep_log_file_num = 5;
  dbo.max_background_jobs = 2;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfds;
  cfds.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());
  // Bloom filters on every CF (the writer probes "keys" for every new call); the blind
  // index CFs get a fixed-length prefix extractor so a search's prefix seek consults the
  // prefix bloom filter and never scans.
  std::shared_ptr<rocksdb::Cache> cache = rocksdb::NewLRUCache(128ull << 20);
  for (int i = 0; i < idx::kCfCount; ++i) {
    rocksdb::ColumnFamilyOptions co;
    rocksdb::BlockBasedTableOptions t;
    t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    t.block_cache = cache;
    if (i == idx::kUsage) co.merge_operator = std::make_shared<U64ArrayAdd>();
    if (i == idx::kAni || i == idx::kDialled) {
      co.prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(kBlindBytes));
    } else if (i == idx::kAgent) {
      co.prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(1 + kBlindBytes));
    }
    // Ciphertext (calls, keys, holds) and keyed-hash keys with empty values (the blind
    // CFs) do not compress: compressing them only costs CPU on every flush, compaction
    // and purge. Each SST records its own compression, so older files still read.
    if (i == idx::kCalls || i == idx::kKeys || i == idx::kHolds || i == idx::kAni ||
        i == idx::kDialled || i == idx::kAgent) {
      co.compression = rocksdb::kNoCompression;
    }
    co.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
    cfds.emplace_back(idx::kCfNames[i], co);
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  std::string dbpath = root + "/index";
  rocksdb::Status s =
      o.read_only ? rocksdb::DB::OpenForReadOnly(dbo, dbpath, cfds, &handles, &raw)
                  : rocksdb::DB::Open(dbo, dbpath, cfds, &handles, &raw);
  RETURN_IF_ERROR(FromRocks(s, fmt::format("open index {}", dbpath)));
  impl->db.reset(raw);
  impl->db->DestroyColumnFamilyHandle(handles[0]).PermitUncheckedError();
  impl->cf.assign(handles.begin() + 1, handles.end());

  std::string fmtv;
  s = impl->db->Get(rocksdb::ReadOptions(), impl->h(idx::kMeta), "format", &fmtv);
  if (s.ok()) {
    if (std::strtoul(fmtv.c_str(), nullptr, 10) > idx::kIndexFormatVersion) {
      return absl::FailedPreconditionError(fmt::format(
          "store {}: index format {} is newer than this build supports ({})", root, fmtv,
          idx::kIndexFormatVersion));
    }
  } else if (s.IsNotFound() && !o.read_only) {
    RETURN_IF_ERROR(FromRocks(
        impl->db->Put(rocksdb::WriteOptions(), impl->h(idx::kMeta), "format",
                      std::to_string(idx::kIndexFormatVersion)),
        "write index format"));
  }

  if (!o.read_only) {
    // Start-up scan: discard unsealed leftovers (*.tmp) and sealed segments that no index
    // entry accounts for (renamed, but the flush's WriteBatch never landed).
    std::string segroot = root + "/segments";
    DIR* d = ::opendir(segroot.c_str());
    if (d != nullptr) {
      while (dirent* e = ::readdir(d)) {
        uint32_t day = ParseDayDir(e->d_name);
        if (day == 0) continue;
        std::string dir = segroot + "/" + e->d_name;
        DIR* dd = ::opendir(dir.c_str());
        if (dd == nullptr) continue;
        while (dirent* f = ::readdir(dd)) {
          uint64_t id = 0;
          bool tmp = false;
          if (!ParseSegName(f->d_name, &id, &tmp)) continue;
          std::string v;
          bool known = !tmp && impl->db->Get(rocksdb::ReadOptions(), impl->h(idx::kUsage),
                                             idx::UsageSegKey(day, id), &v)
                                   .ok();
          if (!known) ::unlink((dir + "/" + f->d_name).c_str());
        }
        ::closedir(dd);
      }
      ::closedir(d);
    }
    impl->writer = MakeStoreWriter(impl.get());
  }
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Store::Store(std::unique_ptr<StoreImpl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;
StoreWriter* Store::writer() { return impl_->writer.get(); }
const StoreConfig& Store::config() const { return impl_->opts.config; }

absl::StatusOr<uint32_t> InitKeyFile(const std::string& path) {
  return KeyRing::InitFile(path);
}

absl::Status VerifyReport::ToStatus() const {
  if (problems.empty()) return absl::OkStatus();
  return IntegrityError(fmt::format("{} integrity problem(s); first: {}", problems.size(),
                                    problems.front()));
}

}  // namespace callvault
