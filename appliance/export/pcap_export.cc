#include "appliance/export/pcap_export.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>

#include <unistd.h>

#include <fmt/format.h>

#include "appliance/common/status.h"

namespace callvault::exporter {
namespace {

class Out {
 public:
  ~Out() {
    if (f_) std::fclose(f_);
  }
  // Writes to a duplicate of `fd` from its current offset (the caller keeps `fd`).
  absl::Status OpenFd(int fd, const std::string& name) {
    path_ = name;
    int d = ::dup(fd);
    if (d < 0) return ErrnoToStatus(errno, fmt::format("dup {}", name));
    f_ = ::fdopen(d, "wb");
    if (!f_) {
      int e = errno;
      ::close(d);
      return ErrnoToStatus(e, fmt::format("fdopen {}", name));
    }
    return absl::OkStatus();
  }
  absl::Status Put(const void* p, std::size_t n) {
    if (n && std::fwrite(p, 1, n, f_) != n) {
      return ErrnoToStatus(errno, fmt::format("write {}", path_));
    }
    return absl::OkStatus();
  }
  absl::Status Close() {
    int rc = std::fclose(f_);
    f_ = nullptr;
    if (rc != 0) return ErrnoToStatus(errno, fmt::format("close {}", path_));
    return absl::OkStatus();
  }

 private:
  std::FILE* f_ = nullptr;
  std::string path_;
};

struct Rec {
  uint64_t ts_ns;
  uint32_t wirelen;
  uint16_t link;
  std::span<const uint8_t> bytes;
};

// --- classic pcap, nanosecond resolution --------------------------------------------
absl::Status ClassicHeader(Out& o, uint16_t link) {
  uint32_t h[6] = {0xa1b23c4d, 0x00040002, 0, 0, 65535, link};
  return o.Put(h, sizeof h);
}
absl::Status ClassicRecord(Out& o, const Rec& r) {
  uint32_t h[4] = {uint32_t(r.ts_ns / 1000000000ull), uint32_t(r.ts_ns % 1000000000ull),
                   uint32_t(r.bytes.size()), r.wirelen};
  RETURN_IF_ERROR(o.Put(h, sizeof h));
  return o.Put(r.bytes.data(), r.bytes.size());
}

// --- pcapng -------------------------------------------------------------------------
class Pcapng {
 public:
  absl::Status Start(Out& o) {
    // Section Header Block: byte-order magic, version 1.0, unknown section length.
    uint32_t shb[7] = {0x0A0D0D0A, 28, 0x1A2B3C4D, 0x00000001, 0xffffffff, 0xffffffff, 28};
    return o.Put(shb, sizeof shb);
  }
  absl::Status Record(Out& o, const Rec& r) {
    auto it = ifaces_.find(r.link);
    uint32_t id;
    if (it == ifaces_.end()) {
      id = uint32_t(ifaces_.size());
      ifaces_[r.link] = id;
      // IDB with if_tsresol (code 9) = 9: nanoseconds; then opt_endofopt.
      uint32_t idb[8] = {0x00000001, 32, uint32_t(r.link), 65535, 0x00010009, 0x00000009, 0,
                         32};
      RETURN_IF_ERROR(o.Put(idb, sizeof idb));
    } else {
      id = it->second;
    }
    uint32_t cap = uint32_t(r.bytes.size());
    uint32_t padded = (cap + 3) & ~3u;
    uint32_t total = 32 + padded;
    uint32_t epb[7] = {0x00000006, total, id, uint32_t(r.ts_ns >> 32), uint32_t(r.ts_ns),
                       cap, r.wirelen};
    RETURN_IF_ERROR(o.Put(epb, sizeof epb));
    RETURN_IF_ERROR(o.Put(r.bytes.data(), cap));
    static const uint8_t kZero[4] = {0, 0, 0, 0};
    RETURN_IF_ERROR(o.Put(kZero, padded - cap));
    return o.Put(&total, 4);
  }

 private:
  std::map<uint16_t, uint32_t> ifaces_;
};

}  // namespace

absl::StatusOr<PcapExportStats> ExportPcapToFd(const std::vector<FrameSource*>& streams, int fd,
                                               const std::string& name, bool pcapng) {
  PcapExportStats stats;
  stats.pcapng = pcapng;
  std::vector<std::optional<FrameRecordView>> next(streams.size());
  for (std::size_t i = 0; i < streams.size(); ++i) next[i] = streams[i]->Next();
  Out out;
  RETURN_IF_ERROR(out.OpenFd(fd, name));
  Pcapng ng;
  if (pcapng) RETURN_IF_ERROR(ng.Start(out));
  std::optional<uint16_t> classic_link;
  for (;;) {
    std::size_t best = streams.size();
    for (std::size_t i = 0; i < streams.size(); ++i) {
      if (next[i] && (best == streams.size() || next[i]->ts_ns < next[best]->ts_ns)) best = i;
    }
    if (best == streams.size()) break;
    FrameRecordView v = *next[best];
    Rec r{v.ts_ns, v.wirelen, uint16_t(v.link), v.bytes};
    if (!pcapng) {
      if (!classic_link) {
        classic_link = r.link;
        RETURN_IF_ERROR(ClassicHeader(out, r.link));
      } else if (r.link != *classic_link) {
        stats.restart_as_pcapng = true;  // the caller rewinds and runs again as pcapng
        RETURN_IF_ERROR(out.Close());
        return stats;
      }
    }
    RETURN_IF_ERROR(pcapng ? ng.Record(out, r) : ClassicRecord(out, r));
    ++stats.frames;
    next[best] = streams[best]->Next();  // after writing: v.bytes may point into a block
  }
  for (FrameSource* s : streams) {
    if (s->error()) return IntegrityError(fmt::format("export pcap {}: malformed frame block", name));
  }
  if (!pcapng && !classic_link) RETURN_IF_ERROR(ClassicHeader(out, uint16_t(LinkType::kEthernet)));
  RETURN_IF_ERROR(out.Close());
  return stats;
}

}  // namespace callvault::exporter
