// CaptureSource: the one interface every capture path implements (libpcap file or live
// interface here; the DPDK poll-mode engine in dpdk_app/).
//
// Contract: NextBurst() fills up to out.size() (normally kBurstSize) frames and returns
// how many. 0 means "nothing right now" on a live source. At the end of a file it returns
// absl::OutOfRangeError("end of capture"). Frame bytes stay valid until the next
// NextBurst() call. Called by exactly one thread. Errors carry the source's name.
#ifndef CALLVAULT_APPLIANCE_CAPTURE_SOURCE_H_
#define CALLVAULT_APPLIANCE_CAPTURE_SOURCE_H_

#include <cstdint>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "appliance/common/frame.h"

namespace callvault::capture {

struct SourceStats {
  uint64_t frames = 0;          // delivered to the pipeline
  uint64_t bytes = 0;           // captured bytes delivered
  uint64_t kernel_drops = 0;    // ps_drop (libpcap) / imissed (DPDK)
  uint64_t if_drops = 0;        // ps_ifdrop (libpcap) / ierrors (DPDK)
  uint64_t no_buffer = 0;       // rx_nombuf (DPDK)
};

class CaptureSource {
 public:
  virtual ~CaptureSource() = default;
  [[nodiscard]] virtual absl::StatusOr<size_t> NextBurst(std::span<Frame> out) = 0;
  virtual SourceStats Stats() const = 0;
  virtual std::string Name() const = 0;
};

}  // namespace callvault::capture

#endif  // CALLVAULT_APPLIANCE_CAPTURE_SOURCE_H_
