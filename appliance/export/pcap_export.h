// ExportPcap: a call's original frames (SIP and media, every stored stream) merged into
// capture order and written as a capture file that tshark/Wireshark read.
//
// Format: classic libpcap with nanosecond timestamps (magic 0xa1b23c4d) when every frame
// has the same link type; pcapng (one Interface Description Block per link type, with
// if_tsresol = 9, i.e. nanoseconds) when link types are mixed — classic pcap has one link
// type per file, and splitting a call across files would lose the ordering. Frames are
// written byte for byte with their original wire length. Ties in time keep stream order.
// Memory: one frame per stream (k-way merge). Control path.
#ifndef CALLVAULT_APPLIANCE_EXPORT_PCAP_EXPORT_H_
#define CALLVAULT_APPLIANCE_EXPORT_PCAP_EXPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "appliance/export/frame_source.h"

namespace callvault::exporter {

struct PcapExportStats {
  uint64_t frames = 0;
  bool pcapng = false;
  bool restart_as_pcapng = false;  // ExportPcapToFd: mixed link types met in classic mode
};

// Export into a descriptor (the CLI's temporary file beside the destination; nothing is
// staged anywhere else). With pcapng=false it writes classic pcap
// and, at the first frame of a second link type, stops with restart_as_pcapng set: the
// caller truncates the file and runs again on fresh sources with pcapng=true (mixed link
// types are rare; a rerun costs one more read of the call, never a copy on disk).
// Writes from the descriptor's current offset; does not close it.
[[nodiscard]] absl::StatusOr<PcapExportStats> ExportPcapToFd(
    const std::vector<FrameSource*>& streams, int fd, const std::string& name, bool pcapng);

}  // namespace callvault::exporter

#endif  // CALLVAULT_APPLIANCE_EXPORT_PCAP_EXPORT_H_
