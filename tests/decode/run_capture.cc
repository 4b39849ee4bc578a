#include "tests/decode/run_capture.h"

#include <array>

#include "appliance/capture/pcap_source.h"
#include "appliance/common/status.h"

namespace callvault::decode {

absl::StatusOr<CaptureRun> RunCapture(
    const std::string& path, const DecodeConfig& cfg, DecoderOptions opts,
    const std::function<void(const DecodedPacket&)>& on_packet) {
  ASSIGN_OR_RETURN(std::unique_ptr<capture::CaptureSource> src, capture::OpenPcapFile(path));
  Decoder dec(cfg, opts);
  CaptureRun run;
  std::array<Frame, kBurstSize> burst;
  DecodedPacket pkt;
  for (;;) {
    absl::StatusOr<size_t> n = src->NextBurst(burst);
    if (absl::IsOutOfRange(n.status())) break;
    if (!n.ok()) return n.status();
    for (size_t i = 0; i < *n; ++i) {
      const Frame& f = burst[i];
      if (run.first_ts_ns == 0) run.first_ts_ns = f.ts_ns;
      run.last_ts_ns = f.ts_ns;
      run.link = f.link;
      if (dec.Decode(f, &pkt) == DecodeDrop::kOk && on_packet) on_packet(pkt);
    }
  }
  run.decode = dec.stats();
  run.source = src->Stats();
  return run;
}

}  // namespace callvault::decode
