// ProgressBar: a one-line progress bar on stderr for long operations (ingest, export,
// retention). Drawn only when stderr is a terminal; silent when piped or redirected, so
// scripts and logs stay clean. Redraws at most 10 times a second.
#ifndef CALLVAULT_CLI_OUTPUT_PROGRESS_H_
#define CALLVAULT_CLI_OUTPUT_PROGRESS_H_

#include <cstdint>
#include <string>

namespace callvault::cli {

class ProgressBar {
 public:
  ProgressBar();  // decides once whether stderr is a terminal
  void Update(const std::string& what, uint64_t done, uint64_t total);
  void Done();    // erases the bar
  bool enabled() const { return enabled_; }

 private:
  bool enabled_ = false;
  bool drawn_ = false;
  uint64_t last_ns_ = 0;
};

}  // namespace callvault::cli

#endif  // CALLVAULT_CLI_OUTPUT_PROGRESS_H_
