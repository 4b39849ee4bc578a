#include "tests/tools/callgen/pcap_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "appliance/common/status.h"
#include "fmt/format.h"

namespace callvault::callgen {
namespace {

// pcap headers are written in host byte order (readers detect it from the magic); this
// tool runs on little-endian hosts, which is what we write.
void PutLe32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
void PutLe16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }

}  // namespace

PcapWriter::~PcapWriter() { (void)Close(); }

absl::Status PcapWriter::Open(const std::string& path, size_t buffer_bytes) {
  path_ = path;
  if (path == "-") {
    fd_ = STDOUT_FILENO;
  } else {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) return ErrnoToStatus(errno, fmt::format("open {}", path));
    close_fd_ = true;
  }
  buf_.resize(std::max<size_t>(buffer_bytes, 1 << 16));
  uint8_t h[24];
  PutLe32(h, kMagicNs);
  PutLe16(h + 4, 2);  // version 2.4
  PutLe16(h + 6, 4);
  PutLe32(h + 8, 0);   // thiszone
  PutLe32(h + 12, 0);  // sigfigs
  PutLe32(h + 16, kSnapLen);
  PutLe32(h + 20, kLinktypeEthernet);
  std::memcpy(buf_.data(), h, sizeof h);
  used_ = sizeof h;
  file_bytes_ = sizeof h;
  return absl::OkStatus();
}

uint8_t* PcapWriter::Append(uint64_t ts_ns, size_t inner_len) {
  if (fd_ < 0 || !error_.ok()) return nullptr;
  const size_t outer = tunnel_ != nullptr ? tunnel_->header_len() : 0;
  const size_t len = outer + inner_len;
  size_t need = 16 + len;
  if (used_ + need > buf_.size()) {
    Flush();
    if (!error_.ok()) return nullptr;
    if (need > buf_.size()) buf_.resize(need);
  }
  uint8_t* rec = buf_.data() + used_;
  PutLe32(rec, static_cast<uint32_t>(ts_ns / 1000000000ull));
  PutLe32(rec + 4, static_cast<uint32_t>(ts_ns % 1000000000ull));
  PutLe32(rec + 8, static_cast<uint32_t>(len));
  PutLe32(rec + 12, static_cast<uint32_t>(len));
  used_ += need;
  ++frames_;
  frame_bytes_ += len;
  file_bytes_ += need;
  if (outer > 0) tunnel_->Write(rec + 16, inner_len, ts_ns);
  return rec + 16 + outer;
}

void PcapWriter::Flush() {
  size_t off = 0;
  while (off < used_ && error_.ok()) {
    ssize_t n = ::write(fd_, buf_.data() + off, used_ - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      error_ = ErrnoToStatus(errno, fmt::format("write {}", path_));
      break;
    }
    off += static_cast<size_t>(n);
  }
  used_ = 0;
}

absl::Status PcapWriter::Close() {
  if (fd_ < 0) return error_;
  Flush();
  if (close_fd_ && ::close(fd_) != 0 && error_.ok()) {
    error_ = ErrnoToStatus(errno, fmt::format("close {}", path_));
  }
  fd_ = -1;
  return error_;
}

}  // namespace callvault::callgen
