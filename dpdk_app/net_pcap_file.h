// How DPDK's net_pcap virtual device reads capture files in callvault's programs.
//
// net_pcap (rx_pcap=FILE) opens its file with libpcap's pcap_open_offline(), whose stdio
// stream has the default buffer (4 KiB on tmpfs: two freads per frame, one read() system
// call per ~18 frames; a system call costs microseconds on a virtual machine, and the
// worker lcore spent about half its time there in the 1,000-call benchmark). callvaultd
// and cv-dpdk-read define pcap_open_offline() themselves (this file's .cc, linked with
// --export-dynamic-symbol so the driver, loaded by the EAL, binds to it): the same file
// through libpcap's pcap_fopen_offline() on a stream that reads 1 MiB per read() and is
// not locked per call (one lcore reads a queue). Frames, timestamps, errors and "-" for
// standard input are as libpcap's own; only the read size differs. Needs a shared
// libpcap (a static libpcap.a would define the symbol twice).
// Why not the libpcap capture path's way (appliance/capture/pcap_source.cc: fopen plus a
// 1 MiB setvbuf buffer that its CaptureSource owns): here the driver closes the file
// whenever it likes, so the buffer must belong to the stream and go with fclose(), which
// a cookie stream gives. Its extra copy (the stream's buffer into stdio's) measured no
// slower than stdio reading straight into a 1 MiB buffer (docs/BENCHMARKS.md).
//
// OpenLargeReadStream is the stream alone (tested directly): a read-only stream over
// `path` (no seeking, no fileno()), reads served from a `buffer_bytes` buffer refilled by
// read(); closed by fclose(). Thread: one reader per stream.
#ifndef CALLVAULT_DPDK_APP_NET_PCAP_FILE_H_
#define CALLVAULT_DPDK_APP_NET_PCAP_FILE_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>

namespace callvault::dpdk {

inline constexpr std::size_t kNetPcapReadBytes = 1u << 20;

// nullptr with errno set when the file cannot be opened.
std::FILE* OpenLargeReadStream(const char* path, std::size_t buffer_bytes = kNetPcapReadBytes);

// Files opened through the interposed pcap_open_offline() so far (tests check that the
// driver binds to it).
uint64_t NetPcapFileOpens();

}  // namespace callvault::dpdk

#endif  // CALLVAULT_DPDK_APP_NET_PCAP_FILE_H_
