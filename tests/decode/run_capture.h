// RunCapture: feeds a capture file through PcapSource and one Decoder, calling `on_packet`
// for every decoded packet. Used by the decode_stats tool and the capture tests.
#ifndef CALLVAULT_TESTS_DECODE_RUN_CAPTURE_H_
#define CALLVAULT_TESTS_DECODE_RUN_CAPTURE_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "appliance/capture/source.h"
#include "appliance/decode/decoder.h"

namespace callvault::decode {

struct CaptureRun {
  DecodeStats decode;
  capture::SourceStats source;
  LinkType link = LinkType::kEthernet;
  uint64_t first_ts_ns = 0;
  uint64_t last_ts_ns = 0;
};

[[nodiscard]] absl::StatusOr<CaptureRun> RunCapture(
    const std::string& path, const DecodeConfig& cfg = {}, DecoderOptions opts = {},
    const std::function<void(const DecodedPacket&)>& on_packet = nullptr);

}  // namespace callvault::decode

#endif  // CALLVAULT_TESTS_DECODE_RUN_CAPTURE_H_
