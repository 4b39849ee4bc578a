// RunPcapDaemon: callvaultd's libpcap capture — every capture.interfaces (live) or
// capture.files (offline, one after the other) through ONE EnginePipeline on the calling
// thread (the capture thread), which hands blocks and call events to a writer thread
// ("cv-writer") over the same bounded hand-off as a DPDK worker's (dpdk_app/ring_sink.h,
// built without the EAL: `dpdk.ring_size` messages, `dpdk.ring_bytes` of payload); the
// writer thread owns the store writer (StorePipelineSink). One pipeline thread is the
// design here: one pipeline sees every frame of a call whatever interface it came in on.
// Live interfaces are polled round-robin (each source's 10 ms read timeout bounds the
// wait). A full hand-off is a counted ring_full drop on live interfaces; replaying files,
// the capture waits for the writer instead (a file cannot overrun).
//
// Timers: Advance() by capture time inside ProcessBurst(); when every live source is idle,
// Advance(wall clock) about every 100 ms. The writer thread seals every `flush_every_ms`
// of wall clock (StoreWriter::FlushBehind: ended calls become visible to `callvault
// search`); the store is synced at the end. Counters are published to DaemonState every
// 500 ms. A store error on the writer thread stops the capture and is returned.
// Ends: at the end of the last file, or when `stop` (or dpdk::StopRequested(), i.e.
// SIGTERM/SIGINT) is set — then Finish() ends every active call, the writer thread
// drains everything and the writer seals.
// Per packet: no allocation, lock or log in the loop (the pipeline's own contract).
#ifndef CALLVAULT_DPDK_APP_DAEMON_PCAP_H_
#define CALLVAULT_DPDK_APP_DAEMON_PCAP_H_

#include <atomic>
#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "appliance/calls/agent_directory.h"
#include "appliance/config/config.h"
#include "dpdk_app/daemon_state.h"
#include "storage/retention/disk_guard.h"
#include "storage/store.h"

namespace callvault::dpdk {

struct PcapDaemonOptions {
  uint32_t flush_every_ms = 1000;
  uint32_t publish_every_ms = 500;
  const std::atomic<bool>* stop = nullptr;  // may be null
  uint64_t* calls_ended = nullptr;          // out (may be null): calls handed to the store
  retention::DiskGuard* disk = nullptr;     // may be null: media refused while disk full
  // Once every source is open and the pipeline built, before the first read (on the
  // capture thread): callvaultd starts its capture-window clock here. May be empty.
  std::function<void()> on_started;
};

[[nodiscard]] absl::Status RunPcapDaemon(const Config& config,
                                         const calls::AgentDirectoryHandle* directory,
                                         StoreWriter* writer, DaemonState* state,
                                         const PcapDaemonOptions& options);

}  // namespace callvault::dpdk

#endif  // CALLVAULT_DPDK_APP_DAEMON_PCAP_H_
