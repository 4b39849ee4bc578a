#include "storage/audit/audit_log.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string_view>

#include <fmt/format.h>

#include "appliance/common/status.h"
#include "appliance/common/time_util.h"

namespace callvault::audit {
namespace {

constexpr std::string_view kRecordDomain("callvault-audit-record-v1\0", 26);
constexpr std::string_view kHeadDomain("callvault-audit-head-v1\0", 24);
constexpr std::size_t kMacBytes = 32;
const std::string kZeroMac(kMacBytes * 2, '0');
// A line ends with this suffix followed by 64 hex digits and "\"}".
constexpr std::string_view kMacKey = ",\"mac\":\"";
constexpr std::size_t kMacSuffixLen = kMacKey.size() + kMacBytes * 2 + 2;

std::string Hex(const uint8_t* p, std::size_t n) {
  std::string out(n * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), p, n);
  out.pop_back();
  return out;
}

std::string Mac(const AuditKey& key, std::string_view domain, std::string_view body) {
  uint8_t mac[kMacBytes];
  crypto_generichash_state st;
  crypto_generichash_init(&st, key.data(), key.size(), kMacBytes);
  crypto_generichash_update(&st, reinterpret_cast<const uint8_t*>(domain.data()),
                            domain.size());
  crypto_generichash_update(&st, reinterpret_cast<const uint8_t*>(body.data()), body.size());
  crypto_generichash_final(&st, mac, kMacBytes);
  return Hex(mac, kMacBytes);
}

bool MacEqual(const std::string& a, const std::string& b) {
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string HeadBody(uint64_t count, const std::string& last_mac) {
  return fmt::format("{}:{}", count, last_mac);
}

struct Head {
  uint64_t count = 0;
  std::string last_mac = kZeroMac;
};

// Splits a line into its MAC'd body and its mac. nullopt when the line is not shaped as
// a record.
struct SplitLine {
  std::string body;  // the JSON without the mac member
  std::string mac;
};
std::optional<SplitLine> Split(std::string_view line) {
  if (line.size() < kMacSuffixLen + 2 || line.back() != '}') return std::nullopt;
  std::size_t at = line.size() - kMacSuffixLen;
  if (line.substr(at, kMacKey.size()) != kMacKey) return std::nullopt;
  if (line.substr(line.size() - 2) != "\"}") return std::nullopt;
  SplitLine s;
  s.body = std::string(line.substr(0, at)) + "}";
  s.mac = std::string(line.substr(at + kMacKey.size(), kMacBytes * 2));
  return s;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoToStatus(errno, fmt::format("read {}", path));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Reads the head file; nullopt if it does not exist. DataLoss if it is not authentic.
absl::StatusOr<std::optional<Head>> ReadHead(const std::string& path, const AuditKey& key) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return std::optional<Head>();
    return ErrnoToStatus(errno, fmt::format("stat {}", path));
  }
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("count") || !j.contains("last_mac") ||
      !j.contains("mac") || !j["count"].is_number_unsigned() || !j["last_mac"].is_string() ||
      !j["mac"].is_string()) {
    return IntegrityError(fmt::format("audit head {}: malformed", path));
  }
  Head h{j["count"].get<uint64_t>(), j["last_mac"].get<std::string>()};
  if (!MacEqual(Mac(key, kHeadDomain, HeadBody(h.count, h.last_mac)),
                j["mac"].get<std::string>())) {
    return IntegrityError(fmt::format("audit head {}: MAC mismatch (altered)", path));
  }
  return std::optional<Head>(h);
}

absl::Status WriteAll(int fd, std::string_view data, const std::string& what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoToStatus(errno, fmt::format("write {}", what));
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status WriteHead(const std::string& dir, const AuditKey& key, const Head& h) {
  nlohmann::json j = {{"v", 1},
                      {"count", h.count},
                      {"last_mac", h.last_mac},
                      {"mac", Mac(key, kHeadDomain, HeadBody(h.count, h.last_mac))}};
  std::string tmp = dir + "/audit.head.tmp";
  std::string path = dir + "/audit.head";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return ErrnoToStatus(errno, fmt::format("open {}", tmp));
  absl::Status s = WriteAll(fd, j.dump() + "\n", tmp);
  if (s.ok() && ::fsync(fd) != 0) s = ErrnoToStatus(errno, fmt::format("fsync {}", tmp));
  ::close(fd);
  RETURN_IF_ERROR(s);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return ErrnoToStatus(errno, fmt::format("rename {}", tmp));
  }
  // No fsync of the directory: if the rename is lost in a crash, the previous head is
  // back, which lags the (already synced) log, and a lagging head is accepted. The tmp
  // file was synced so that whichever name survives has complete contents.
  return absl::OkStatus();
}

// Reads the last line of an open file (without its '\n'); empty when the file is empty.
absl::StatusOr<std::string> LastLine(int fd, const std::string& what) {
  off_t end = ::lseek(fd, 0, SEEK_END);
  if (end < 0) return ErrnoToStatus(errno, fmt::format("seek {}", what));
  std::string tail;
  off_t pos = end;
  constexpr off_t kChunk = 4096;
  while (pos > 0) {
    off_t start = pos > kChunk ? pos - kChunk : 0;
    std::string chunk(static_cast<std::size_t>(pos - start), '\0');
    ssize_t n = ::pread(fd, chunk.data(), chunk.size(), start);
    if (n != static_cast<ssize_t>(chunk.size())) {
      return ErrnoToStatus(n < 0 ? errno : EIO, fmt::format("read {}", what));
    }
    tail = chunk + tail;
    pos = start;
    // The last line starts after the last '\n' that is not the final byte.
    std::size_t nl = tail.size() > 1 ? tail.rfind('\n', tail.size() - 2) : std::string::npos;
    if (nl != std::string::npos) return tail.substr(nl + 1, tail.size() - nl - 2);
  }
  if (!tail.empty() && tail.back() == '\n') tail.pop_back();
  return tail;
}

absl::StatusOr<AuditRecord> RecordFromJson(const nlohmann::json& j) {
  try {
    AuditRecord r;
    r.seq = j.at("seq").get<uint64_t>();
    r.time_ns = j.at("time_ns").get<uint64_t>();
    r.uid = j.at("uid").get<uint32_t>();
    r.user = j.at("user").get<std::string>();
    r.role = j.at("role").get<std::string>();
    r.action = j.at("action").get<std::string>();
    r.call_ids = j.at("call_ids").get<std::vector<std::string>>();
    r.detail = j.at("detail");
    r.result = j.at("result").get<std::string>();
    r.mode = j.at("mode").get<std::string>();
    return r;
  } catch (const nlohmann::json::exception& e) {
    return IntegrityError(fmt::format("audit record: {}", e.what()));
  }
}

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    std::size_t nl = text.find('\n');
    if (nl == std::string_view::npos) {
      out.push_back(text);
      break;
    }
    out.push_back(text.substr(0, nl));
    text.remove_prefix(nl + 1);
  }
  return out;
}

}  // namespace

AuditKey DeriveAuditKey(std::span<const uint8_t> master_key) {
  AuditKey k{};
  static_assert(crypto_kdf_KEYBYTES == 32);
  uint8_t master[crypto_kdf_KEYBYTES] = {};
  std::memcpy(master, master_key.data(),
              master_key.size() < sizeof(master) ? master_key.size() : sizeof(master));
  crypto_kdf_derive_from_key(k.data(), k.size(), 0x41554449, "cvaudit1", master);
  sodium_memzero(master, sizeof(master));
  return k;
}

nlohmann::json RecordToJson(const AuditRecord& r) {
  return nlohmann::json{{"v", 1},
                        {"seq", r.seq},
                        {"time_ns", r.time_ns},
                        {"time", FormatRfc3339Ms(r.time_ns)},
                        {"uid", r.uid},
                        {"user", r.user},
                        {"role", r.role},
                        {"action", r.action},
                        {"call_ids", r.call_ids},
                        {"detail", r.detail},
                        {"result", r.result},
                        {"mode", r.mode}};
}

absl::StatusOr<AuditLog> AuditLog::Open(const std::string& dir, const AuditKey& key) {
  if (sodium_init() < 0) return absl::InternalError("libsodium initialisation failed");
  if (::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) {
    return ErrnoToStatus(errno, fmt::format("create audit directory {}", dir));
  }
  AuditLog log(dir, key);
  int fd = ::open(log.log_path().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return ErrnoToStatus(errno, fmt::format("open {}", log.log_path()));
  ::close(fd);
  return log;
}

absl::Status AuditLog::Append(AuditRecord record) {
  const std::string path = log_path();
  int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return ErrnoToStatus(errno, fmt::format("open {}", path));
  if (::flock(fd, LOCK_EX) != 0) {
    absl::Status s = ErrnoToStatus(errno, fmt::format("lock {}", path));
    ::close(fd);
    return s;
  }
  auto body = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(std::string last, LastLine(fd, path));
    Head tail;
    if (!last.empty()) {
      auto split = Split(last);
      if (!split || !MacEqual(Mac(key_, kRecordDomain, split->body), split->mac)) {
        return IntegrityError(fmt::format(
            "audit log {}: last record is not authentic; run 'callvault audit verify'", path));
      }
      nlohmann::json j = nlohmann::json::parse(split->body, nullptr, false);
      if (j.is_discarded() || !j.contains("seq") || !j["seq"].is_number_unsigned()) {
        return IntegrityError(fmt::format("audit log {}: last record malformed", path));
      }
      tail.count = j["seq"].get<uint64_t>();
      tail.last_mac = split->mac;
    }
    ASSIGN_OR_RETURN(std::optional<Head> head, ReadHead(head_path(), key_));
    if (head && head->count > tail.count) {
      return IntegrityError(fmt::format(
          "audit log {}: truncated ({} records, head says {}); run 'callvault audit verify'",
          path, tail.count, head->count));
    }
    record.seq = tail.count + 1;
    if (record.time_ns == 0) record.time_ns = NowNs();
    nlohmann::json j = RecordToJson(record);
    j["prev"] = tail.last_mac;
    std::string b = j.dump();
    std::string mac = Mac(key_, kRecordDomain, b);
    b.pop_back();  // '}'
    std::string line = fmt::format("{}{}{}\"}}\n", b, kMacKey, mac);
    RETURN_IF_ERROR(WriteAll(fd, line, path));
    if (::fdatasync(fd) != 0) return ErrnoToStatus(errno, fmt::format("fsync {}", path));
    return WriteHead(dir_, key_, Head{record.seq, mac});
  }();
  ::flock(fd, LOCK_UN);
  ::close(fd);
  return Annotate(body, "audit append");
}

absl::StatusOr<std::vector<AuditRecord>> AuditLog::List(uint64_t from_ns, uint64_t to_ns) const {
  ASSIGN_OR_RETURN(std::string text, ReadFile(log_path()));
  std::vector<AuditRecord> out;
  uint64_t n = 0;
  for (std::string_view line : Lines(text)) {
    ++n;
    auto split = Split(line);
    nlohmann::json j =
        split ? nlohmann::json::parse(split->body, nullptr, false) : nlohmann::json();
    if (!split || j.is_discarded()) {
      return IntegrityError(fmt::format("audit log line {}: not a record", n));
    }
    auto r = RecordFromJson(j);
    if (!r.ok()) return Annotate(r.status(), fmt::format("audit log line {}", n));
    if (r->time_ns < from_ns || (to_ns != 0 && r->time_ns >= to_ns)) continue;
    out.push_back(*std::move(r));
  }
  return out;
}

absl::StatusOr<VerifyReport> AuditLog::Verify() const {
  VerifyReport rep;
  auto fail = [&rep](uint64_t at, std::string problem) {
    rep.ok = false;
    rep.first_bad = at;
    rep.problem = std::move(problem);
    return rep;
  };
  auto head = ReadHead(head_path(), key_);
  if (!head.ok()) return fail(0, std::string(head.status().message()));
  ASSIGN_OR_RETURN(std::string text, ReadFile(log_path()));
  std::vector<std::string_view> lines = Lines(text);
  rep.head_count = *head ? (*head)->count : 0;
  if (!*head && !lines.empty()) {
    return fail(0, fmt::format("audit head {} is missing", head_path()));
  }
  std::string prev = kZeroMac;
  std::vector<std::string> macs;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    uint64_t at = i + 1;
    auto split = Split(lines[i]);
    if (!split) return fail(at, fmt::format("record {}: not a record line (altered)", at));
    if (!MacEqual(Mac(key_, kRecordDomain, split->body), split->mac)) {
      return fail(at, fmt::format("record {}: MAC mismatch (altered or forged)", at));
    }
    nlohmann::json j = nlohmann::json::parse(split->body, nullptr, false);
    if (j.is_discarded() || !j.contains("seq") || !j["seq"].is_number_unsigned() ||
        !j.contains("prev") || !j["prev"].is_string()) {
      return fail(at, fmt::format("record {}: malformed", at));
    }
    uint64_t seq = j["seq"].get<uint64_t>();
    if (seq != at) {
      return fail(at, fmt::format("record {}: holds sequence number {} (records removed or "
                                  "reordered before it)",
                                  at, seq));
    }
    if (j["prev"].get<std::string>() != prev) {
      return fail(at, fmt::format("record {}: chain broken (previous record replaced)", at));
    }
    prev = split->mac;
    macs.push_back(split->mac);
    ++rep.records;
  }
  if (rep.records < rep.head_count) {
    return fail(rep.records + 1,
                fmt::format("log truncated: {} records, head says {} (record {} onwards "
                            "removed)",
                            rep.records, rep.head_count, rep.records + 1));
  }
  if (rep.head_count > 0 && macs[rep.head_count - 1] != (*head)->last_mac) {
    return fail(rep.head_count,
                fmt::format("record {}: does not match the head (log replaced)",
                            rep.head_count));
  }
  return rep;
}

}  // namespace callvault::audit
