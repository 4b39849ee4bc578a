// DiskGuard: disk-pressure state of the store's file system (issue 7, "Disk pressure").
//
// Input: the store path, StoreConfig.disk_floor_bytes, a hard reserve; statvfs() (or a
// test's stat function) polled by the control thread, e.g. once a second.
// Output: a state readable from any thread without locks:
//   kOk     free >= floor                       record everything
//   kLow    free <  floor (alarm)               record everything; alarm in status,
//                                               metrics and one log line per transition
//   kFull   free <  hard reserve                media blocks are refused (counted as
//                                               DiskDrop::kMediaDiskFull); signalling and
//                                               call records are still written
// Recovery is automatic, with hysteresis so the state does not flap: kLow clears when
// free >= floor + floor/20; kFull clears when free >= 2 x reserve.
// DiskGuard NEVER deletes anything: it has no access to the store's data. Space is only
// ever freed by the retention purge, which destroys calls past their retention period
// (storage/retention/retention.h). Nothing inside its retention period is deleted to make
// room — the appliance drops new media instead and says so.
// Thread: Poll() on one control thread; state(), AdmitMedia(), counters on any thread
// (AdmitMedia is the per-block check on the writer thread: one relaxed atomic load, no
// syscall, no lock, no allocation).
#ifndef CALLVAULT_STORAGE_RETENTION_DISK_GUARD_H_
#define CALLVAULT_STORAGE_RETENTION_DISK_GUARD_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace callvault::retention {

enum class DiskState : uint8_t { kOk = 0, kLow, kFull };
std::string_view DiskStateName(DiskState s);  // "ok", "low", "full"

enum class DiskDrop : uint8_t {
  kMediaDiskFull = 0,  // a media block refused because free space < the hard reserve
  kCount
};
std::string_view DropName(DiskDrop d);  // "media_disk_full"

struct DiskSpace {
  uint64_t free_bytes = 0;   // available to the (unprivileged) store process
  uint64_t total_bytes = 0;
};

struct DiskGuardOptions {
  std::string path;                        // the store directory
  uint64_t floor_bytes = 1ull << 30;       // StoreConfig.disk_floor_bytes
  uint64_t hard_reserve_bytes = 64ull << 20;  // below this, media is dropped
  // Defaults to statvfs(path). Tests inject their own.
  std::function<absl::StatusOr<DiskSpace>(const std::string&)> stat;
  // One line per state transition (the daemon passes its logger); may be empty.
  std::function<void(std::string_view)> log;
};

class DiskGuard {
 public:
  explicit DiskGuard(DiskGuardOptions options);

  // Samples the file system and updates the state. An error leaves the state unchanged.
  [[nodiscard]] absl::StatusOr<DiskState> Poll();

  DiskState state() const { return state_.load(std::memory_order_relaxed); }
  bool alarm() const { return state() != DiskState::kOk; }
  uint64_t free_bytes() const { return free_.load(std::memory_order_relaxed); }
  uint64_t total_bytes() const { return total_.load(std::memory_order_relaxed); }

  // Writer thread, per media block: false (and counted) only when the disk is full.
  bool AdmitMedia() {
    if (state() != DiskState::kFull) return true;
    dropped_media_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  // Signalling and call records are always written (they are small; losing them would
  // lose the evidence that a call happened).
  bool AdmitSignalling() const { return true; }

  uint64_t drops(DiskDrop d) const {
    return d == DiskDrop::kMediaDiskFull ? dropped_media_.load(std::memory_order_relaxed) : 0;
  }
  uint64_t transitions() const { return transitions_.load(std::memory_order_relaxed); }
  uint64_t floor_bytes() const { return opt_.floor_bytes; }
  uint64_t hard_reserve_bytes() const { return opt_.hard_reserve_bytes; }

 private:
  DiskGuardOptions opt_;
  std::atomic<DiskState> state_{DiskState::kOk};
  std::atomic<uint64_t> free_{0}, total_{0}, dropped_media_{0}, transitions_{0};
};

// The guard's state in Prometheus text exposition format 0.0.4 (# HELP / # TYPE, one
// sample per line), for the daemon's metrics file beside the engine counters:
//   callvault_disk_free_bytes, callvault_disk_total_bytes      gauges, last poll
//   callvault_disk_floor_bytes, callvault_disk_reserve_bytes   gauges, configuration
//   callvault_disk_alarm                                       gauge, 1 below the floor
//   callvault_disk_state{state="ok"|"low"|"full"}              gauge, 1 for the current one
//   callvault_disk_dropped_total{reason="media_disk_full"}     counter, per DiskDrop
//   callvault_disk_state_transitions_total                     counter
// Control thread; reads the atomics only.
std::string RenderDiskPrometheus(const DiskGuard& guard);

// statvfs(path): f_bavail * f_frsize free, f_blocks * f_frsize total.
[[nodiscard]] absl::StatusOr<DiskSpace> StatFileSystem(const std::string& path);

}  // namespace callvault::retention

#endif  // CALLVAULT_STORAGE_RETENTION_DISK_GUARD_H_
