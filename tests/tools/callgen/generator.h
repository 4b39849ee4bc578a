// Generator: merges the timelines of every call (SIP script, RTP and RTCP per direction)
// through a min-heap keyed by (time, call, source) and writes them in time order.
//
// Contract: control path, single thread. A call's sources are created when its first frame
// is due and freed when its last one is written, so memory follows the concurrency, not
// the call count. Output is a pure function of the options (deterministic per seed).
#ifndef CALLVAULT_TESTS_TOOLS_CALLGEN_GENERATOR_H_
#define CALLVAULT_TESTS_TOOLS_CALLGEN_GENERATOR_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "tests/tools/callgen/call_plan.h"
#include "tests/tools/callgen/options.h"
#include "tests/tools/callgen/pcap_writer.h"
#include "tests/tools/callgen/rtp_stream.h"

namespace callvault::callgen {

struct CallResult {
  StreamCounts rtp[2];  // [0] caller -> agent, [1] agent -> caller
  uint64_t rtcp[2] = {};
  uint32_t sip_messages = 0;
  uint32_t sip_frames = 0;
};

class Generator {
 public:
  Generator(const Options& o, const std::vector<Agent>& agents, const std::vector<CallPlan>& plans);

  [[nodiscard]] absl::Status Run(PcapWriter& w);

  const std::vector<CallResult>& results() const { return results_; }

 private:
  const Options& o_;
  const std::vector<Agent>& agents_;
  const std::vector<CallPlan>& plans_;
  std::vector<CallResult> results_;
};

}  // namespace callvault::callgen

#endif  // CALLVAULT_TESTS_TOOLS_CALLGEN_GENERATOR_H_
