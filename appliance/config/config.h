// callvault configuration (TOML), loaded once at start-up by callvaultd and the CLI.
//
// Contract: LoadConfig() either returns a fully validated Config or an error naming the
// key and the problem in one line ("store.path: missing", "capture.rx_queues: must be
// 1..64, got 0"). Unknown keys are errors too (a typo must not silently fall back to a
// default). Every size the packet path uses comes from here; nothing is resized later.
// See conf/callvault.toml for every key with its default and meaning.
#ifndef CALLVAULT_APPLIANCE_CONFIG_CONFIG_H_
#define CALLVAULT_APPLIANCE_CONFIG_CONFIG_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace callvault {

struct CaptureConfig {
  std::string source = "pcap";            // "pcap" (libpcap) or "dpdk"
  std::vector<std::string> interfaces;    // libpcap live interfaces
  std::vector<std::string> files;         // libpcap offline files
  std::string bpf_filter;                 // optional; see capture docs on fragments
  uint32_t snaplen = 65535;
  bool promiscuous = true;
  uint32_t rx_queues = 1;                 // 1..64
};

struct DpdkConfig {
  std::vector<std::string> eal_args;      // e.g. ["--no-huge", "--no-pci", "-l", "0-1"]
  std::vector<uint16_t> ports;            // port ids to capture on (empty = all)
  uint32_t mbufs = 65535;
  uint32_t mbuf_cache = 256;
  uint32_t rx_descriptors = 1024;
  uint32_t ring_size = 16384;             // worker -> writer ring entries (power of two)
  uint64_t ring_bytes = 128ull << 20;     // block payload bytes in flight per worker ring
  bool stop_at_eof = false;               // net_pcap file runs: stop when the file ends
  // Messages per worker -> worker queue of the media hand-over bus (power of two): SIP and
  // RTP of one call on different workers (appliance/pipeline/media_bus.h).
  uint32_t bus_capacity = 4096;
};

struct DecodeConfig {
  uint32_t frag_max_datagrams = 4096;     // datagrams under reassembly at once
  uint64_t frag_max_bytes = 16 << 20;     // bytes held by reassembly
  uint32_t frag_timeout_ms = 30000;
  // Verify UDP/TCP checksums (counted as decode.bad_*_checksum, never dropped). Off saves
  // ~1 ns per 64 payload bytes where SPAN copies carry offloaded (unfilled) checksums
  // anyway; the IPv4 header checksum is always verified.
  bool verify_checksums = true;
};

struct SipConfig {
  std::vector<uint16_t> ports = {5060};
  bool detect_any_port = true;            // recognise SIP by its first line on any port
  uint32_t max_message_bytes = 65536;
  uint32_t max_dialogs = 200000;
  uint32_t max_transactions = 400000;
  uint32_t idle_timeout_s = 7200;         // calls with no BYE end as timed_out
  uint32_t tcp_max_connections = 65536;
  uint32_t tcp_max_buffer = 131072;       // per connection, per direction
  uint32_t tcp_idle_timeout_s = 900;
  std::vector<std::string> correlation_headers = {"X-Call-Correlation", "X-Orig-Call-ID"};
};

struct AgentConfig {
  std::string directory;                  // CSV: extension_or_user,name,employee_id
  std::vector<std::string> extension_patterns;  // regexes on the SIP user part
  std::vector<std::string> networks;      // CIDRs where agent phones live
  std::string default_country = "US";     // for E.164 normalisation
};

struct MediaConfig {
  uint32_t max_legs = 100000;             // concurrently active RTP legs
  uint32_t reorder_window = 64;           // packets
  uint32_t grace_ms = 2000;               // keep recording after BYE
  uint32_t rtp_idle_timeout_s = 300;
  bool record_orphans = true;             // RTP with no SIP seen becomes an orphan call
  bool mask_dtmf = true;                  // show DTMF digits masked
};

struct StoreConfig {
  std::string path;                       // required
  std::string key_file;                   // required (master key file, mode 0600)
  uint32_t block_bytes = 16384;           // seal a media block at this size ...
  uint32_t block_ms = 5000;               // ... or after this long
  uint64_t segment_bytes = 256ull << 20;  // roll segment files at this size
  std::string sync = "flush";             // "flush" (fsync each flush) or "interval"
  uint32_t sync_interval_ms = 1000;
  uint64_t disk_floor_bytes = 1ull << 30; // alarm below this much free space
  // Nightly merge of the small segments of closed days (storage/maintenance/segment_merge.h):
  // segments below merge_below_bytes are rewritten into segments of at most
  // merge_target_bytes. 0 = no merge.
  uint64_t merge_below_bytes = 16ull << 20;
  uint64_t merge_target_bytes = 256ull << 20;
};

struct ControlConfig {
  std::string socket = "/run/callvault/control.sock";
  std::string group = "callvault";
  std::vector<std::string> admins;        // user names or "group:NAME"
  std::vector<std::string> reviewers;
  std::vector<std::string> auditors;
};

struct RetentionConfig {
  uint32_t max_age_months = 18;
  double compact_threshold = 0.5;         // rewrite a segment when this share is dead
};

struct Config {
  std::string source_file;                // where this config came from
  CaptureConfig capture;
  DpdkConfig dpdk;
  DecodeConfig decode;
  SipConfig sip;
  AgentConfig agents;
  MediaConfig media;
  StoreConfig store;
  ControlConfig control;
  RetentionConfig retention;
};

[[nodiscard]] absl::StatusOr<Config> LoadConfig(const std::string& path);
[[nodiscard]] absl::StatusOr<Config> ParseConfig(std::string_view toml_text,
                                                 std::string_view source_name);

}  // namespace callvault

#endif  // CALLVAULT_APPLIANCE_CONFIG_CONFIG_H_
