// WavWriter: a streaming RIFF/WAVE writer (PCM 16-bit little-endian, interleaved).
// The header is written first with placeholder sizes and patched by Close(), so a call
// of hours never has to be held in memory. Control path; errors as absl::Status naming
// the file.
#ifndef CALLVAULT_APPLIANCE_EXPORT_WAV_WRITER_H_
#define CALLVAULT_APPLIANCE_EXPORT_WAV_WRITER_H_

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>

#include "absl/status/status.h"

namespace callvault::exporter {

class WavWriter {
 public:
  WavWriter() = default;
  ~WavWriter();
  WavWriter(const WavWriter&) = delete;
  WavWriter& operator=(const WavWriter&) = delete;

  [[nodiscard]] absl::Status Open(const std::string& path, uint16_t channels, uint32_t rate);
  // Writes into a duplicate of `fd` (a seekable regular file, from offset 0); `name`
  // names it in errors. The caller keeps and closes `fd`.
  [[nodiscard]] absl::Status OpenFd(int fd, const std::string& name, uint16_t channels,
                                    uint32_t rate);
  // Interleaved samples; size must be a multiple of channels.
  [[nodiscard]] absl::Status Write(std::span<const int16_t> interleaved);
  [[nodiscard]] absl::Status Close();
  uint64_t frames() const { return frames_; }

 private:
  std::FILE* f_ = nullptr;
  std::string path_;
  uint16_t channels_ = 0;
  uint32_t rate_ = 0;
  uint64_t frames_ = 0;
};

}  // namespace callvault::exporter

#endif  // CALLVAULT_APPLIANCE_EXPORT_WAV_WRITER_H_
