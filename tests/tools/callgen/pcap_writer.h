// PcapWriter: classic libpcap file writer with nanosecond timestamps (magic 0xa1b23c4d,
// LINKTYPE_ETHERNET), buffered in large blocks.
//
// Contract: one writer per file, one thread. Frames must be passed in capture order (the
// generator merges its timelines before calling). Errors are sticky: after a failed write
// every later call is a no-op and Close() returns the first error.
#ifndef CALLVAULT_TESTS_TOOLS_CALLGEN_PCAP_WRITER_H_
#define CALLVAULT_TESTS_TOOLS_CALLGEN_PCAP_WRITER_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "tests/tools/callgen/tunnel.h"

namespace callvault::callgen {

class PcapWriter {
 public:
  static constexpr uint32_t kMagicNs = 0xA1B23C4D;
  static constexpr uint32_t kLinktypeEthernet = 1;
  static constexpr uint32_t kSnapLen = 65535;

  PcapWriter() = default;
  ~PcapWriter();
  PcapWriter(const PcapWriter&) = delete;
  PcapWriter& operator=(const PcapWriter&) = delete;

  // Creates (truncates) `path` ("-" = stdout) and writes the file header.
  [[nodiscard]] absl::Status Open(const std::string& path, size_t buffer_bytes = 8 << 20);

  // Wraps every frame in `tunnel` (not owned; may be null) from now on.
  void set_tunnel(Tunnel* tunnel) { tunnel_ = tunnel; }

  // Returns space for a frame of `len` bytes stamped `ts_ns`; the caller fills it before
  // the next call. Avoids a copy on the RTP path. With a tunnel, the record holds the
  // outer headers then these `len` bytes.
  uint8_t* Append(uint64_t ts_ns, size_t len);
  void Write(uint64_t ts_ns, std::span<const uint8_t> frame) {
    uint8_t* p = Append(ts_ns, frame.size());
    if (p != nullptr) std::copy(frame.begin(), frame.end(), p);
  }

  [[nodiscard]] absl::Status Close();

  uint64_t frames() const { return frames_; }
  uint64_t frame_bytes() const { return frame_bytes_; }  // captured bytes, no headers
  uint64_t file_bytes() const { return file_bytes_; }

 private:
  void Flush();

  int fd_ = -1;
  bool close_fd_ = false;
  std::vector<uint8_t> buf_;
  size_t used_ = 0;
  absl::Status error_;
  uint64_t frames_ = 0;
  uint64_t frame_bytes_ = 0;
  uint64_t file_bytes_ = 0;
  std::string path_;
  Tunnel* tunnel_ = nullptr;
};

}  // namespace callvault::callgen

#endif  // CALLVAULT_TESTS_TOOLS_CALLGEN_PCAP_WRITER_H_
