#include "appliance/export/wav_writer.h"

#include <cerrno>
#include <cstring>

#include <unistd.h>

#include <fmt/format.h>

#include "appliance/common/status.h"

namespace callvault::exporter {
namespace {

void Put16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v);
  p[1] = uint8_t(v >> 8);
}
void Put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i));
}

void Header(uint8_t h[44], uint16_t ch, uint32_t rate, uint64_t frames) {
  uint64_t data = frames * ch * 2;
  uint32_t data32 = data > 0xffffffffull - 36 ? 0xffffffffu - 36 : uint32_t(data);
  std::memcpy(h, "RIFF", 4);
  Put32(h + 4, 36 + data32);
  std::memcpy(h + 8, "WAVEfmt ", 8);
  Put32(h + 16, 16);
  Put16(h + 20, 1);  // PCM
  Put16(h + 22, ch);
  Put32(h + 24, rate);
  Put32(h + 28, rate * ch * 2);
  Put16(h + 32, uint16_t(ch * 2));
  Put16(h + 34, 16);
  std::memcpy(h + 36, "data", 4);
  Put32(h + 40, data32);
}

}  // namespace

WavWriter::~WavWriter() {
  if (f_) std::fclose(f_);
}

absl::Status WavWriter::Open(const std::string& path, uint16_t channels, uint32_t rate) {
  path_ = path;
  channels_ = channels;
  rate_ = rate;
  frames_ = 0;
  f_ = std::fopen(path.c_str(), "wb");
  if (!f_) return ErrnoToStatus(errno, fmt::format("open {}", path));
  uint8_t h[44];
  Header(h, channels, rate, 0);
  if (std::fwrite(h, 1, 44, f_) != 44) return ErrnoToStatus(errno, fmt::format("write {}", path));
  return absl::OkStatus();
}

absl::Status WavWriter::OpenFd(int fd, const std::string& name, uint16_t channels,
                              uint32_t rate) {
  path_ = name;
  channels_ = channels;
  rate_ = rate;
  frames_ = 0;
  int d = ::dup(fd);
  if (d < 0) return ErrnoToStatus(errno, fmt::format("dup {}", name));
  f_ = ::fdopen(d, "wb");
  if (!f_) {
    int e = errno;
    ::close(d);
    return ErrnoToStatus(e, fmt::format("fdopen {}", name));
  }
  uint8_t h[44];
  Header(h, channels, rate, 0);
  if (std::fwrite(h, 1, 44, f_) != 44) return ErrnoToStatus(errno, fmt::format("write {}", name));
  return absl::OkStatus();
}

absl::Status WavWriter::Write(std::span<const int16_t> s) {
  if (!f_) return absl::FailedPreconditionError(fmt::format("{}: not open", path_));
  // WAV is little-endian; so is every machine callvault runs on (x86-64, arm64).
  if (std::fwrite(s.data(), 2, s.size(), f_) != s.size()) {
    return ErrnoToStatus(errno, fmt::format("write {}", path_));
  }
  frames_ += s.size() / channels_;
  return absl::OkStatus();
}

absl::Status WavWriter::Close() {
  if (!f_) return absl::OkStatus();
  uint8_t h[44];
  Header(h, channels_, rate_, frames_);
  bool ok = std::fseek(f_, 0, SEEK_SET) == 0 && std::fwrite(h, 1, 44, f_) == 44;
  int err = errno;
  ok = std::fclose(f_) == 0 && ok;
  f_ = nullptr;
  if (!ok) return ErrnoToStatus(err ? err : EIO, fmt::format("finish {}", path_));
  return absl::OkStatus();
}

}  // namespace callvault::exporter
