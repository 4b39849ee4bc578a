#include "storage/keys/key_ring.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include <fmt/format.h>

#include "appliance/common/status.h"

namespace callvault {
namespace {

constexpr char kMagic[8] = {'C', 'V', 'K', 'E', 'Y', 'F', 'I', 'L'};
constexpr std::size_t kFixed = 8 + 4 + 4 + 4 + kKeyBytes;
constexpr std::size_t kPerKek = 4 + 8 + kKeyBytes;
constexpr std::size_t kSum = 32;
constexpr uint32_t kMaxKeks = 64;

void PutU32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
void PutU64(uint8_t* p, uint64_t v) { std::memcpy(p, &v, 8); }
uint32_t GetU32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint64_t GetU64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

void DekAd(CallId call, uint32_t kek, uint8_t ad[19]) {
  std::memcpy(ad, "cv-dek1", 7);
  for (int i = 0; i < 8; ++i) ad[7 + i] = uint8_t(call.value >> (56 - 8 * i));
  for (int i = 0; i < 4; ++i) ad[15 + i] = uint8_t(kek >> (24 - 8 * i));
}

// Writes `data` to path.tmp (0600), fsyncs, renames over `path`, fsyncs the directory.
absl::Status AtomicWrite(const std::string& path, const uint8_t* data, std::size_t n) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoToStatus(errno, fmt::format("create key file {}", tmp));
  ::fchmod(fd, 0600);
  std::size_t off = 0;
  while (off < n) {
    ssize_t w = ::write(fd, data + off, n - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return ErrnoToStatus(e, fmt::format("write key file {}", tmp));
    }
    off += std::size_t(w);
  }
  if (::fsync(fd) != 0) {
    int e = errno;
    ::close(fd);
    return ErrnoToStatus(e, fmt::format("fsync key file {}", tmp));
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return ErrnoToStatus(errno, fmt::format("rename {} to {}", tmp, path));
  }
  std::string dir = path.find('/') == std::string::npos
                        ? std::string(".")
                        : path.substr(0, path.rfind('/') == 0 ? 1 : path.rfind('/'));
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<uint32_t> KeyRing::InitFile(const std::string& path) {
  if (sodium_init() < 0) return absl::InternalError("libsodium initialisation failed");
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    return absl::AlreadyExistsError(
        fmt::format("key file {} already exists; refusing to overwrite it", path));
  }
  KeyRing r;
  r.path_ = path;
  r.root_ = SecureBytes(kKeyBytes);
  randombytes_buf(r.root_.data(), kKeyBytes);
  Kek k;
  k.created_s = uint64_t(::time(nullptr));
  k.key = SecureBytes(kKeyBytes);
  randombytes_buf(k.key.data(), kKeyBytes);
  r.keks_.emplace(1, std::move(k));
  r.current_ = 1;
  std::lock_guard<std::mutex> l(r.mu_);
  RETURN_IF_ERROR(r.WriteFileLocked());
  return 1u;
}

absl::Status KeyRing::WriteFileLocked() const {
  std::size_t n = kFixed + keks_.size() * kPerKek + kSum;
  SecureBytes buf(n);
  uint8_t* p = buf.data();
  std::memcpy(p, kMagic, 8);
  PutU32(p + 8, kKeyFileVersion);
  PutU32(p + 12, uint32_t(keks_.size()));
  PutU32(p + 16, current_);
  std::memcpy(p + 20, root_.data(), kKeyBytes);
  std::size_t off = kFixed;
  for (const auto& [id, k] : keks_) {
    PutU32(p + off, id);
    PutU64(p + off + 4, k.created_s);
    std::memcpy(p + off + 12, k.key.data(), kKeyBytes);
    off += kPerKek;
  }
  crypto_generichash(p + off, kSum, p, off, nullptr, 0);
  return AtomicWrite(path_, p, n);
}

absl::StatusOr<std::unique_ptr<KeyRing>> KeyRing::Load(const std::string& path) {
  if (sodium_init() < 0) return absl::InternalError("libsodium initialisation failed");
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoToStatus(errno, fmt::format("open key file {}", path));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    return ErrnoToStatus(e, fmt::format("stat key file {}", path));
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    return absl::FailedPreconditionError(fmt::format(
        "key file {} has mode {:04o}: it must not be accessible by group or others "
        "(chmod 600 {})",
        path, unsigned(st.st_mode & 07777), path));
  }
  std::size_t size = std::size_t(st.st_size);
  if (size < kFixed + kSum || size > kFixed + kMaxKeks * kPerKek + kSum) {
    ::close(fd);
    return IntegrityError(fmt::format("key file {} is not a callvault key file (size {})",
                                      path, size));
  }
  SecureBytes buf(size);
  std::size_t off = 0;
  while (off < size) {
    ssize_t r = ::read(fd, buf.data() + off, size - off);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      int e = r < 0 ? errno : EIO;
      ::close(fd);
      return ErrnoToStatus(e, fmt::format("read key file {}", path));
    }
    off += std::size_t(r);
  }
  ::close(fd);
  const uint8_t* p = buf.data();
  if (std::memcmp(p, kMagic, 8) != 0) {
    return IntegrityError(fmt::format("key file {}: bad magic, not a callvault key file", path));
  }
  uint32_t version = GetU32(p + 8);
  if (version > kKeyFileVersion) {
    return absl::FailedPreconditionError(fmt::format(
        "key file {} has format version {}, newer than this build supports ({})", path,
        version, kKeyFileVersion));
  }
  uint32_t n = GetU32(p + 12);
  if (n == 0 || n > kMaxKeks || size != kFixed + n * kPerKek + kSum) {
    return IntegrityError(fmt::format("key file {}: corrupt (key count {})", path, n));
  }
  uint8_t sum[kSum];
  crypto_generichash(sum, kSum, p, size - kSum, nullptr, 0);
  if (sodium_memcmp(sum, p + size - kSum, kSum) != 0) {
    return IntegrityError(fmt::format("key file {}: checksum mismatch (corrupt)", path));
  }
  auto r = std::unique_ptr<KeyRing>(new KeyRing());
  r->path_ = path;
  r->current_ = GetU32(p + 16);
  r->root_ = SecureBytes(kKeyBytes);
  std::memcpy(r->root_.data(), p + 20, kKeyBytes);
  for (uint32_t i = 0; i < n; ++i) {
    const uint8_t* e = p + kFixed + i * kPerKek;
    Kek k;
    k.created_s = GetU64(e + 4);
    k.key = SecureBytes(kKeyBytes);
    std::memcpy(k.key.data(), e + 12, kKeyBytes);
    r->keks_.emplace(GetU32(e), std::move(k));
  }
  if (!r->keks_.contains(r->current_)) {
    return IntegrityError(fmt::format("key file {}: current key id {} missing", path,
                                      r->current_));
  }
  r->blind_key_ = SecureBytes(kKeyBytes);
  crypto_kdf_derive_from_key(r->blind_key_.data(), kKeyBytes, 1, "cvblind_",
                             r->root_.data());
  return r;
}

uint32_t KeyRing::current_id() const {
  std::lock_guard<std::mutex> l(mu_);
  return current_;
}

std::vector<uint32_t> KeyRing::ids() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<uint32_t> out;
  for (const auto& [id, k] : keks_) out.push_back(id);
  return out;
}

WrappedKey KeyRing::Wrap(const uint8_t* dek32, CallId call) const {
  std::lock_guard<std::mutex> l(mu_);
  WrappedKey w{};
  w[0] = 1;
  PutU32(w.data() + 1, current_);
  uint8_t* nonce = w.data() + 5;
  randombytes_buf(nonce, 24);
  uint8_t ad[19];
  DekAd(call, current_, ad);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(w.data() + 29, &clen, dek32, kKeyBytes, ad,
                                             sizeof ad, nullptr, nonce,
                                             keks_.at(current_).key.data());
  return w;
}

uint32_t KeyRing::WrappedKekId(std::span<const uint8_t> wrapped) {
  return wrapped.size() == kWrappedKeyBytes ? GetU32(wrapped.data() + 1) : 0;
}

absl::Status KeyRing::Unwrap(std::span<const uint8_t> w, CallId call, uint8_t* dek) const {
  if (w.size() != kWrappedKeyBytes || w[0] != 1) {
    return IntegrityError(fmt::format("call {}: wrapped data key malformed ({} bytes)",
                                      call.ToString(), w.size()));
  }
  uint32_t kek = GetU32(w.data() + 1);
  std::lock_guard<std::mutex> l(mu_);
  auto it = keks_.find(kek);
  if (it == keks_.end()) {
    return IntegrityError(fmt::format(
        "call {}: data key is wrapped by master key id {}, which is not in key file {}",
        call.ToString(), kek, path_));
  }
  uint8_t ad[19];
  DekAd(call, kek, ad);
  unsigned long long mlen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(dek, &mlen, nullptr, w.data() + 29, 48, ad,
                                                 sizeof ad, w.data() + 5,
                                                 it->second.key.data()) != 0) {
    return IntegrityError(fmt::format(
        "call {}: wrapped data key failed authentication (tampered, or wrong key file)",
        call.ToString()));
  }
  return absl::OkStatus();
}

Blind KeyRing::BlindIndex(std::string_view kind, std::string_view v) const {
  Blind out{};
  crypto_generichash_state st;
  crypto_generichash_init(&st, blind_key_.data(), kKeyBytes, kBlindBytes);
  crypto_generichash_update(&st, reinterpret_cast<const uint8_t*>(kind.data()), kind.size());
  const uint8_t sep = 0;
  crypto_generichash_update(&st, &sep, 1);
  crypto_generichash_update(&st, reinterpret_cast<const uint8_t*>(v.data()), v.size());
  crypto_generichash_final(&st, out.data(), kBlindBytes);
  return out;
}

void KeyRing::DeriveSubkey(uint64_t id, const char ctx[8], uint8_t out32[32]) const {
  crypto_kdf_derive_from_key(out32, 32, id, ctx, root_.data());
}

absl::Status KeyRing::AddKek() {
  std::lock_guard<std::mutex> l(mu_);
  if (keks_.size() >= kMaxKeks) {
    return absl::FailedPreconditionError("too many master keys in the key file");
  }
  uint32_t id = keks_.rbegin()->first + 1;
  Kek k;
  k.created_s = uint64_t(::time(nullptr));
  k.key = SecureBytes(kKeyBytes);
  randombytes_buf(k.key.data(), kKeyBytes);
  keks_.emplace(id, std::move(k));
  uint32_t old = current_;
  current_ = id;
  absl::Status s = WriteFileLocked();
  if (!s.ok()) {
    keks_.erase(id);
    current_ = old;
  }
  return s;
}

absl::Status KeyRing::RetireOldKeks() {
  std::lock_guard<std::mutex> l(mu_);
  std::map<uint32_t, Kek> keep;
  keep.emplace(current_, std::move(keks_.at(current_)));
  keks_.swap(keep);
  absl::Status s = WriteFileLocked();
  if (!s.ok()) {
    for (auto& [id, k] : keep) {
      if (id != current_) keks_.emplace(id, std::move(k));
    }
  }
  return s;
}

}  // namespace callvault
