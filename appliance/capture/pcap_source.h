// PcapSource: the libpcap CaptureSource (source.h) for offline files and live interfaces.
//
// Files: pcap and pcapng (one link type per file, as libpcap requires), microsecond or
// nanosecond precision; timestamps are always delivered as ns (libpcap is opened with
// nanosecond precision and scales microsecond files). Supported link types are those of
// LinkType (Ethernet, Linux SLL/SLL2, raw IP, IPv4, IPv6, BSD null/loop); any other is an
// error at open time. A file is opened by OpenPcapFile itself (fopen with a 1 MiB stdio
// buffer, stream locking off: only the reading thread touches it) and handed to
// libpcap, whose own fopen would read through one 4 KiB file system block at a time.
// Live: promiscuous (configurable), snaplen, 64 MiB kernel buffer, 10 ms read timeout so
// NextBurst() returns 0 when the link is idle; nanosecond timestamps when the kernel
// offers them.
//
// BPF filters (live and files): a filter must never hide the non-first fragments of an IP
// datagram whose first fragment it passes, or SIP messages split by IP fragmentation
// would be lost. SafeBpfFilter() therefore wraps the user's expression as
//   (<filter>) or (ip[6:2] & 0x1fff != 0) or ip6
// i.e. every non-first IPv4 fragment and all IPv6 (whose fragment header may sit behind
// extension headers) pass. Filters are compiled by libpcap against the outermost link
// layer: on a SPAN port carrying VLAN tags or tunnels, "udp port 5060" sees nothing
// inside them; the default (no filter) is the safe choice there.
//
// Ownership and lifetime: frame bytes are copied into a per-source burst buffer
// (kBurstSize x snaplen, allocated at open) and stay valid until the next NextBurst().
// Thread: one thread calls NextBurst(); Stats() from the same thread.
// Errors carry the libpcap errbuf / pcap_geterr() text and the source name.
#ifndef CALLVAULT_APPLIANCE_CAPTURE_PCAP_SOURCE_H_
#define CALLVAULT_APPLIANCE_CAPTURE_PCAP_SOURCE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "appliance/capture/source.h"
#include "appliance/config/config.h"

namespace callvault::capture {

// Opens a capture file. `port` is stamped on every frame (Frame::port). `bpf_filter`
// (optional) is wrapped by SafeBpfFilter().
[[nodiscard]] absl::StatusOr<std::unique_ptr<CaptureSource>> OpenPcapFile(
    const std::string& path, uint16_t port = 0, const std::string& bpf_filter = "");

// Opens a live interface with cfg.snaplen, cfg.promiscuous and cfg.bpf_filter.
[[nodiscard]] absl::StatusOr<std::unique_ptr<CaptureSource>> OpenPcapLive(
    const std::string& iface, const CaptureConfig& cfg, uint16_t port = 0);

// A libpcap packet header time (pcap_pkthdr.ts; tv_usec holds ns when `nano`) as ns
// since the epoch. Correct past 2038: classic pcap's unsigned 32-bit seconds, which
// libpcap hands over sign-extended (negative from 2038-01-19 03:14:08 UTC on), are read
// back as unsigned, up to 2106-02-07 06:28:15 UTC; pcapng / live times are 64-bit.
uint64_t PcapTimestampNs(int64_t tv_sec, int64_t tv_frac, bool nano);

// "" -> "" (no filter); otherwise the fragment-safe wrapping described above.
std::string SafeBpfFilter(std::string_view user_filter);

}  // namespace callvault::capture

#endif  // CALLVAULT_APPLIANCE_CAPTURE_PCAP_SOURCE_H_
