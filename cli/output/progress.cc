#include "cli/output/progress.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "appliance/common/time_util.h"

namespace callvault::cli {

ProgressBar::ProgressBar() {
  const char* term = std::getenv("TERM");
  enabled_ = ::isatty(STDERR_FILENO) == 1 && !(term != nullptr && std::strcmp(term, "dumb") == 0);
}

void ProgressBar::Update(const std::string& what, uint64_t done, uint64_t total) {
  if (!enabled_) return;
  uint64_t now = NowNs();
  if (drawn_ && now - last_ns_ < 100 * kNsPerMs && done < total) return;
  last_ns_ = now;
  constexpr int kWidth = 30;
  std::string line;
  if (total > 0) {
    uint64_t pct = done >= total ? 100 : done * 100 / total;
    int fill = static_cast<int>(pct * kWidth / 100);
    line = fmt::format("\r{} [{}{}] {:3}% ({}/{})", what, std::string(fill, '#'),
                       std::string(kWidth - fill, ' '), pct, done, total);
  } else {
    line = fmt::format("\r{} ... {}", what, done);
  }
  std::fputs(line.c_str(), stderr);
  std::fputs("\x1b[K", stderr);
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressBar::Done() {
  if (!drawn_) return;
  std::fputs("\r\x1b[K", stderr);
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace callvault::cli
