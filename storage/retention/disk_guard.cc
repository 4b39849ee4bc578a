// DiskGuard (disk_guard.h): statvfs sampling, alarm state with hysteresis.
#include "storage/retention/disk_guard.h"

#include <sys/statvfs.h>

#include <cerrno>
#include <utility>

#include <fmt/format.h>

#include "appliance/common/status.h"

namespace callvault::retention {

std::string_view DiskStateName(DiskState s) {
  switch (s) {
    case DiskState::kOk: return "ok";
    case DiskState::kLow: return "low";
    case DiskState::kFull: return "full";
  }
  return "unknown";
}

std::string_view DropName(DiskDrop d) {
  switch (d) {
    case DiskDrop::kMediaDiskFull: return "media_disk_full";
    case DiskDrop::kCount: break;
  }
  return "unknown";
}

absl::StatusOr<DiskSpace> StatFileSystem(const std::string& path) {
  struct statvfs v;
  if (::statvfs(path.c_str(), &v) != 0) {
    return ErrnoToStatus(errno, fmt::format("statvfs {}", path));
  }
  return DiskSpace{uint64_t(v.f_bavail) * v.f_frsize, uint64_t(v.f_blocks) * v.f_frsize};
}

DiskGuard::DiskGuard(DiskGuardOptions options) : opt_(std::move(options)) {
  if (!opt_.stat) opt_.stat = StatFileSystem;
  // A reserve above the floor would make "full" precede "low"; keep them ordered.
  if (opt_.hard_reserve_bytes > opt_.floor_bytes) opt_.hard_reserve_bytes = opt_.floor_bytes;
}

absl::StatusOr<DiskState> DiskGuard::Poll() {
  ASSIGN_OR_RETURN(DiskSpace sp, opt_.stat(opt_.path));
  free_.store(sp.free_bytes, std::memory_order_relaxed);
  total_.store(sp.total_bytes, std::memory_order_relaxed);
  const DiskState old = state();
  const uint64_t f = sp.free_bytes;
  const uint64_t floor = opt_.floor_bytes, reserve = opt_.hard_reserve_bytes;
  DiskState next = old;
  // Entering a worse state is immediate; leaving it needs the hysteresis margin.
  if (f < reserve) {
    next = DiskState::kFull;
  } else if (old == DiskState::kFull && f < 2 * reserve) {
    next = DiskState::kFull;
  } else if (f < floor) {
    next = DiskState::kLow;
  } else if (old != DiskState::kOk && f < floor + floor / 20) {
    next = DiskState::kLow;
  } else {
    next = DiskState::kOk;
  }
  if (next != old) {
    state_.store(next, std::memory_order_relaxed);
    transitions_.fetch_add(1, std::memory_order_relaxed);
    if (opt_.log) {
      opt_.log(fmt::format(
          "disk pressure: {} -> {} on {} ({} bytes free, floor {}, reserve {}){}",
          DiskStateName(old), DiskStateName(next), opt_.path, f, floor, reserve,
          next == DiskState::kFull ? "; media blocks are dropped, signalling still recorded"
          : next == DiskState::kOk ? "; recording fully resumed"
                                   : "; still recording everything"));
    }
  }
  return next;
}

std::string RenderDiskPrometheus(const DiskGuard& g) {
  std::string out;
  auto gauge = [&out](std::string_view name, std::string_view help, uint64_t v) {
    out += fmt::format("# HELP {0} {1}\n# TYPE {0} gauge\n{0} {2}\n", name, help, v);
  };
  gauge("callvault_disk_free_bytes",
        "Bytes available to callvault on the store's file system (last poll).",
        g.free_bytes());
  gauge("callvault_disk_total_bytes", "Size of the store's file system in bytes.",
        g.total_bytes());
  gauge("callvault_disk_floor_bytes",
        "store.disk_floor_bytes: below it the disk alarm is raised.", g.floor_bytes());
  gauge("callvault_disk_reserve_bytes",
        "Hard reserve: below it media blocks are dropped, signalling still recorded.",
        g.hard_reserve_bytes());
  gauge("callvault_disk_alarm", "1 while free space is below the floor (state low or full).",
        g.alarm() ? 1 : 0);
  out += "# HELP callvault_disk_state Disk-pressure state: 1 for the current state.\n"
         "# TYPE callvault_disk_state gauge\n";
  for (DiskState s : {DiskState::kOk, DiskState::kLow, DiskState::kFull}) {
    out += fmt::format("callvault_disk_state{{state=\"{}\"}} {}\n", DiskStateName(s),
                       g.state() == s ? 1 : 0);
  }
  out += "# HELP callvault_disk_dropped_total Blocks not recorded because of disk pressure.\n"
         "# TYPE callvault_disk_dropped_total counter\n";
  for (uint8_t i = 0; i < uint8_t(DiskDrop::kCount); ++i) {
    out += fmt::format("callvault_disk_dropped_total{{reason=\"{}\"}} {}\n",
                       DropName(DiskDrop(i)), g.drops(DiskDrop(i)));
  }
  out += fmt::format(
      "# HELP callvault_disk_state_transitions_total Disk-pressure state changes.\n"
      "# TYPE callvault_disk_state_transitions_total counter\n"
      "callvault_disk_state_transitions_total {}\n",
      g.transitions());
  return out;
}

}  // namespace callvault::retention
