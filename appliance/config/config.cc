#include "appliance/config/config.h"

#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include <toml++/toml.h>

#include <fmt/format.h>
#include "appliance/common/status.h"

namespace callvault {
namespace {

// Reads the keys of one [section], remembering which were consumed so that unknown keys
// can be reported. The first problem found wins; later reads are no-ops.
class SectionReader {
 public:
  SectionReader(const toml::table& root, std::string section, absl::Status* status)
      : section_(std::move(section)), status_(status) {
    const toml::node* n = root.get(section_);
    if (n == nullptr) return;
    table_ = n->as_table();
    if (table_ == nullptr) Fail(section_, "must be a table");
  }

  bool present() const { return table_ != nullptr; }

  void Str(const char* key, std::string* out, bool required = false) {
    const toml::node* n = Find(key, required);
    if (n == nullptr) return;
    if (auto v = n->value<std::string>()) {
      *out = *v;
    } else {
      Fail(Key(key), "must be a string");
    }
  }

  void Bool(const char* key, bool* out) {
    const toml::node* n = Find(key, false);
    if (n == nullptr) return;
    // is_boolean(): toml++'s value<bool>() would also accept an integer (1 -> true).
    if (auto v = n->value<bool>(); v && n->is_boolean()) {
      *out = *v;
    } else {
      Fail(Key(key), "must be true or false");
    }
  }

  template <typename T>
  void Int(const char* key, T* out, int64_t lo, int64_t hi) {
    const toml::node* n = Find(key, false);
    if (n == nullptr) return;
    auto v = n->value<int64_t>();
    if (!v || !n->is_integer()) {
      Fail(Key(key), "must be an integer");
      return;
    }
    if (*v < lo || *v > hi) {
      Fail(Key(key), fmt::format("must be {}..{}, got {}", lo, hi, *v));
      return;
    }
    *out = static_cast<T>(*v);
  }

  void Double(const char* key, double* out, double lo, double hi) {
    const toml::node* n = Find(key, false);
    if (n == nullptr) return;
    auto v = n->value<double>();
    if (!v) {
      Fail(Key(key), "must be a number");
      return;
    }
    if (*v < lo || *v > hi) {
      Fail(Key(key), fmt::format("must be {}..{}, got {}", lo, hi, *v));
      return;
    }
    *out = *v;
  }

  void StrList(const char* key, std::vector<std::string>* out) {
    const toml::node* n = Find(key, false);
    if (n == nullptr) return;
    const toml::array* arr = n->as_array();
    if (arr == nullptr) {
      Fail(Key(key), "must be an array of strings");
      return;
    }
    out->clear();
    for (const toml::node& e : *arr) {
      auto v = e.value<std::string>();
      if (!v) {
        Fail(Key(key), "must be an array of strings");
        return;
      }
      out->push_back(*v);
    }
  }

  void PortList(const char* key, std::vector<uint16_t>* out) {
    const toml::node* n = Find(key, false);
    if (n == nullptr) return;
    const toml::array* arr = n->as_array();
    if (arr == nullptr) {
      Fail(Key(key), "must be an array of integers");
      return;
    }
    out->clear();
    for (const toml::node& e : *arr) {
      auto v = e.value<int64_t>();
      if (!v || *v < 0 || *v > 65535) {
        Fail(Key(key), "must be an array of integers 0..65535");
        return;
      }
      out->push_back(static_cast<uint16_t>(*v));
    }
  }

  // Reports the first key of this section that no reader consumed.
  void RejectUnknown() {
    if (table_ == nullptr || !status_->ok()) return;
    for (const auto& [k, v] : *table_) {
      std::string key(k.str());
      if (!seen_.contains(key)) {
        Fail(Key(key.c_str()), "unknown key");
        return;
      }
    }
  }

  void Fail(const std::string& key, const std::string& problem) {
    if (status_->ok()) *status_ = absl::InvalidArgumentError(fmt::format("{}: {}", key, problem));
  }

  std::string Key(const char* key) const { return fmt::format("{}.{}", section_, key); }

 private:
  const toml::node* Find(const char* key, bool required) {
    seen_.insert(key);
    if (!status_->ok()) return nullptr;
    const toml::node* n = table_ ? table_->get(key) : nullptr;
    if (n == nullptr && required) Fail(Key(key), "missing");
    return n;
  }

  std::string section_;
  const toml::table* table_ = nullptr;
  std::set<std::string> seen_;
  absl::Status* status_;
};

constexpr int64_t kU32 = std::numeric_limits<uint32_t>::max();
constexpr int64_t kI64 = std::numeric_limits<int64_t>::max();

bool IsPowerOfTwo(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

}  // namespace

absl::StatusOr<Config> ParseConfig(std::string_view toml_text, std::string_view source_name) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& e) {
    const auto& b = e.source().begin;
    return absl::InvalidArgumentError(fmt::format("{}:{}:{}: {}", source_name, b.line, b.column, e.description()));
  }

  Config c;
  c.source_file = std::string(source_name);
  absl::Status st;
  const std::set<std::string> kSections = {"capture", "dpdk",  "decode",  "sip",      "agents",
                                           "media",   "store", "control", "retention"};
  for (const auto& [k, v] : root) {
    if (!kSections.contains(std::string(k.str()))) {
      return absl::InvalidArgumentError(fmt::format("{}: unknown section", k.str()));
    }
  }

  {
    SectionReader r(root, "capture", &st);
    r.Str("source", &c.capture.source);
    r.StrList("interfaces", &c.capture.interfaces);
    r.StrList("files", &c.capture.files);
    r.Str("bpf_filter", &c.capture.bpf_filter);
    r.Int("snaplen", &c.capture.snaplen, 64, 262144);
    r.Bool("promiscuous", &c.capture.promiscuous);
    r.Int("rx_queues", &c.capture.rx_queues, 1, 64);
    if (st.ok() && c.capture.source != "pcap" && c.capture.source != "dpdk") {
      r.Fail("capture.source", fmt::format("must be \"pcap\" or \"dpdk\", got \"{}\"", c.capture.source));
    }
    r.RejectUnknown();
  }
  {
    SectionReader r(root, "dpdk", &st);
    r.StrList("eal_args", &c.dpdk.eal_args);
    std::vector<uint16_t> ports;
    r.PortList("ports", &ports);
    if (!ports.empty()) c.dpdk.ports = ports;
    r.Int("mbufs", &c.dpdk.mbufs, 1023, kU32);
    r.Int("mbuf_cache", &c.dpdk.mbuf_cache, 0, 512);
    r.Int("rx_descriptors", &c.dpdk.rx_descriptors, 64, 32768);
    r.Int("ring_size", &c.dpdk.ring_size, 64, 1 << 24);
    r.Int("ring_bytes", &c.dpdk.ring_bytes, 1 << 20, kI64);
    r.Bool("stop_at_eof", &c.dpdk.stop_at_eof);
    if (st.ok() && !IsPowerOfTwo(c.dpdk.ring_size)) {
      r.Fail("dpdk.ring_size", fmt::format("must be a power of two, got {}", c.dpdk.ring_size));
    }
    r.Int("bus_capacity", &c.dpdk.bus_capacity, 64, 1 << 20);
    if (st.ok() && !IsPowerOfTwo(c.dpdk.bus_capacity)) {
      r.Fail("dpdk.bus_capacity",
             fmt::format("must be a power of two, got {}", c.dpdk.bus_capacity));
    }
    r.RejectUnknown();
  }
  {
    SectionReader r(root, "decode", &st);
    r.Int("frag_max_datagrams", &c.decode.frag_max_datagrams, 1, 1 << 22);
    r.Int("frag_max_bytes", &c.decode.frag_max_bytes, 65536, kI64);
    r.Int("frag_timeout_ms", &c.decode.frag_timeout_ms, 100, 600000);
    r.Bool("verify_checksums", &c.decode.verify_checksums);
    r.RejectUnknown();
  }
  {
    SectionReader r(root, "sip", &st);
    r.PortList("ports", &c.sip.ports);
    r.Bool("detect_any_port", &c.sip.detect_any_port);
    r.Int("max_message_bytes", &c.sip.max_message_bytes, 1024, 1 << 22);
    r.Int("max_dialogs", &c.sip.max_dialogs, 16, 1 << 26);
    r.Int("max_transactions", &c.sip.max_transactions, 16, 1 << 26);
    r.Int("idle_timeout_s", &c.sip.idle_timeout_s, 10, 7 * 86400);
    r.Int("tcp_max_connections", &c.sip.tcp_max_connections, 16, 1 << 24);
    r.Int("tcp_max_buffer", &c.sip.tcp_max_buffer, 4096, 1 << 24);
    r.Int("tcp_idle_timeout_s", &c.sip.tcp_idle_timeout_s, 10, 86400);
    r.StrList("correlation_headers", &c.sip.correlation_headers);
    r.RejectUnknown();
  }
  {
    SectionReader r(root, "agents", &st);
    r.Str("directory", &c.agents.directory);
    r.StrList("extension_patterns", &c.agents.extension_patterns);
    r.StrList("networks", &c.agents.networks);
    r.Str("default_country", &c.agents.default_country);
    if (st.ok() && c.agents.default_country.size() != 2) {
      r.Fail("agents.default_country",
             fmt::format("must be a two-letter region code, got \"{}\"", c.agents.default_country));
    }
    r.RejectUnknown();
  }
  {
    SectionReader r(root, "media", &st);
    r.Int("max_legs", &c.media.max_legs, 16, 1 << 24);
    r.Int("reorder_window", &c.media.reorder_window, 1, 4096);
    r.Int("grace_ms", &c.media.grace_ms, 0, 60000);
    r.Int("rtp_idle_timeout_s", &c.media.rtp_idle_timeout_s, 5, 86400);
    r.Bool("record_orphans", &c.media.record_orphans);
    r.Bool("mask_dtmf", &c.media.mask_dtmf);
    r.RejectUnknown();
  }
  {
    SectionReader r(root, "store", &st);
    r.Str("path", &c.store.path, /*required=*/true);
    r.Str("key_file", &c.store.key_file, /*required=*/true);
    r.Int("block_bytes", &c.store.block_bytes, 4096, 16 << 20);
    r.Int("block_ms", &c.store.block_ms, 10, 600000);
    r.Int("segment_bytes", &c.store.segment_bytes, 1 << 20, kI64);
    r.Str("sync", &c.store.sync);
    r.Int("sync_interval_ms", &c.store.sync_interval_ms, 1, 60000);
    r.Int("disk_floor_bytes", &c.store.disk_floor_bytes, 0, kI64);
    r.Int("merge_below_bytes", &c.store.merge_below_bytes, 0, kI64);
    r.Int("merge_target_bytes", &c.store.merge_target_bytes, 1 << 20, kI64);
    if (st.ok() && c.store.merge_target_bytes < c.store.merge_below_bytes) {
      r.Fail("store.merge_target_bytes",
             fmt::format("must be >= store.merge_below_bytes ({}), got {}",
                         c.store.merge_below_bytes, c.store.merge_target_bytes));
    }
    if (st.ok() && c.store.sync != "flush" && c.store.sync != "interval") {
      r.Fail("store.sync",
             fmt::format("must be \"flush\" or \"interval\", got \"{}\"", c.store.sync));
    }
    r.RejectUnknown();
  }
  {
    SectionReader r(root, "control", &st);
    r.Str("socket", &c.control.socket);
    r.Str("group", &c.control.group);
    r.StrList("admins", &c.control.admins);
    r.StrList("reviewers", &c.control.reviewers);
    r.StrList("auditors", &c.control.auditors);
    r.RejectUnknown();
  }
  {
    SectionReader r(root, "retention", &st);
    r.Int("max_age_months", &c.retention.max_age_months, 1, 1200);
    r.Double("compact_threshold", &c.retention.compact_threshold, 0.0, 1.0);
    r.RejectUnknown();
  }
  if (!st.ok()) return st;
  return c;
}

absl::StatusOr<Config> LoadConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return ErrnoToStatus(errno, fmt::format("config {}", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseConfig(ss.str(), path);
}

}  // namespace callvault
