#include "appliance/capture/pcap_source.h"

#include <pcap/pcap.h>
#include <poll.h>
#include <stdio_ext.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "appliance/common/status.h"

namespace callvault::capture {
namespace {

constexpr uint32_t kMaxSnap = 262144;

// Maps libpcap's DLT_* (what pcap_datalink() returns) onto LINKTYPE_* values.
bool LinkFromDlt(int dlt, LinkType* out) {
  switch (dlt) {
    case DLT_NULL: *out = LinkType::kNull; return true;
    case DLT_EN10MB: *out = LinkType::kEthernet; return true;
    case DLT_RAW: *out = LinkType::kRaw; return true;
#ifdef DLT_LOOP
    case DLT_LOOP: *out = LinkType::kLoop; return true;
#endif
    case DLT_LINUX_SLL: *out = LinkType::kLinuxSll; return true;
#ifdef DLT_LINUX_SLL2
    case DLT_LINUX_SLL2: *out = LinkType::kLinuxSll2; return true;
#endif
#ifdef DLT_IPV4
    case DLT_IPV4: *out = LinkType::kIpv4; return true;
#endif
#ifdef DLT_IPV6
    case DLT_IPV6: *out = LinkType::kIpv6; return true;
#endif
    default:
      // LINKTYPE_RAW (101) as a DLT on platforms where DLT_RAW is 12 or 14.
      if (dlt == 101) {
        *out = LinkType::kRaw;
        return true;
      }
      return false;
  }
}

constexpr size_t kFileReadBuffer = 1u << 20;

class PcapSource final : public CaptureSource {
 public:
  PcapSource(pcap_t* p, std::string name, LinkType link, uint16_t port, bool live, bool nano)
      : pcap_(p), name_(std::move(name)), link_(link), port_(port), live_(live),
        nano_(nano) {
    int snap = pcap_snapshot(p);
    snap_ = snap <= 0 || uint32_t(snap) > kMaxSnap ? kMaxSnap : uint32_t(snap);
    buf_.resize(size_t(snap_) * kBurstSize);
  }
  ~PcapSource() override { pcap_close(pcap_); }  // before read_buffer_ goes

  // The stdio buffer of the file the pcap_t reads (see OpenPcapFile); freed after it.
  void set_read_buffer(std::unique_ptr<char[]> b) { read_buffer_ = std::move(b); }

  absl::StatusOr<size_t> NextBurst(std::span<Frame> out) override {
    if (eof_) return absl::OutOfRangeError("end of capture");
    out_ = out.first(std::min(out.size(), kBurstSize));
    count_ = 0;
    int r = pcap_dispatch(pcap_, static_cast<int>(out_.size()), &PcapSource::OnPacket,
                          reinterpret_cast<u_char*>(this));
    if (r == PCAP_ERROR) {
      return absl::InternalError(fmt::format("{}: read: {}", name_, pcap_geterr(pcap_)));
    }
    if (r == PCAP_ERROR_BREAK) return count_;
    if (!live_ && r == 0 && count_ == 0) {
      eof_ = true;
      return absl::OutOfRangeError("end of capture");
    }
    if (live_ && count_ == 0) {
      // Live sources are non-blocking (see OpenPcapLive): wait at most 10 ms for data,
      // so an idle link returns 0 and the caller's timers and stop flag keep running.
      struct pollfd pfd = {pcap_get_selectable_fd(pcap_), POLLIN, 0};
      if (pfd.fd >= 0) (void)::poll(&pfd, 1, 10);
    }
    return count_;
  }

  SourceStats Stats() const override {
    SourceStats s = stats_;
    if (live_) {
      struct pcap_stat ps;
      if (pcap_stats(pcap_, &ps) == 0) {
        s.kernel_drops = ps.ps_drop;
        s.if_drops = ps.ps_ifdrop;
      }
    }
    return s;
  }

  std::string Name() const override { return name_; }

 private:
  static void OnPacket(u_char* user, const struct pcap_pkthdr* h, const u_char* bytes) {
    auto* self = reinterpret_cast<PcapSource*>(user);
    if (self->count_ >= self->out_.size()) return;
    uint32_t cap = std::min(h->caplen, self->snap_);
    uint8_t* dst = self->buf_.data() + size_t(self->count_) * self->snap_;
    std::memcpy(dst, bytes, cap);
    Frame& f = self->out_[self->count_++];
    f.data = dst;
    f.caplen = cap;
    f.wirelen = h->len;
    f.ts_ns = PcapTimestampNs(h->ts.tv_sec, h->ts.tv_usec, self->nano_);
    f.port = self->port_;
    f.queue = 0;
    f.link = self->link_;
    ++self->stats_.frames;
    self->stats_.bytes += cap;
  }

  std::unique_ptr<char[]> read_buffer_;  // the FILE's stdio buffer; freed after pcap_close
  pcap_t* pcap_;
  std::string name_;
  LinkType link_;
  uint16_t port_;
  bool live_;
  bool nano_;
  bool eof_ = false;
  uint32_t snap_ = kMaxSnap;
  std::vector<uint8_t> buf_;
  std::span<Frame> out_;
  size_t count_ = 0;
  SourceStats stats_;
};

absl::Status ApplyFilter(pcap_t* p, const std::string& name, const std::string& user) {
  std::string expr = SafeBpfFilter(user);
  if (expr.empty()) return absl::OkStatus();
  struct bpf_program prog;
  if (pcap_compile(p, &prog, expr.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
    return absl::InvalidArgumentError(
        fmt::format("{}: bpf filter \"{}\": {}", name, user, pcap_geterr(p)));
  }
  int r = pcap_setfilter(p, &prog);
  pcap_freecode(&prog);
  if (r != 0) {
    return absl::InternalError(fmt::format("{}: set bpf filter: {}", name, pcap_geterr(p)));
  }
  return absl::OkStatus();
}

absl::StatusOr<LinkType> CheckLink(pcap_t* p, const std::string& name) {
  LinkType link;
  int dlt = pcap_datalink(p);
  if (!LinkFromDlt(dlt, &link)) {
    const char* dn = pcap_datalink_val_to_name(dlt);
    return absl::InvalidArgumentError(fmt::format("{}: link type {} ({}) is not supported",
                                                  name, dlt, dn ? dn : "unknown"));
  }
  return link;
}

}  // namespace

uint64_t PcapTimestampNs(int64_t tv_sec, int64_t tv_frac, bool nano) {
  // Classic pcap stores seconds as an unsigned 32-bit field (good until 2106-02-07), but
  // libpcap reads it into a signed 32-bit one and sign-extends it into time_t: from
  // 2038-01-19 on, tv_sec arrives negative. Capture times before 1970 do not occur, so a
  // negative value is that 32-bit field: take it back as unsigned. pcapng (64-bit
  // timestamp units) and live capture give a non-negative 64-bit tv_sec, used as is.
  const uint64_t sec = tv_sec < 0 ? uint64_t(uint32_t(tv_sec)) : uint64_t(tv_sec);
  // With nanosecond precision tv_usec carries nanoseconds.
  const uint64_t frac = tv_frac < 0 ? 0 : uint64_t(tv_frac);
  return sec * 1000000000ull + frac * (nano ? 1u : 1000u);
}

std::string SafeBpfFilter(std::string_view user_filter) {
  size_t b = user_filter.find_first_not_of(" \t\n");
  if (b == std::string_view::npos) return "";
  return fmt::format("({}) or (ip[6:2] & 0x1fff != 0) or ip6", user_filter);
}

absl::StatusOr<std::unique_ptr<CaptureSource>> OpenPcapFile(const std::string& path,
                                                           uint16_t port,
                                                           const std::string& bpf_filter) {
  char errbuf[PCAP_ERRBUF_SIZE] = {0};
  // libpcap reads a file through stdio, whose buffer is one file system block (4 KiB):
  // one read() per ~18 frames, and system calls are what a replay spends most on in a
  // virtual machine. The file is opened here with a 1 MiB buffer instead.
  std::unique_ptr<char[]> buffer(new char[kFileReadBuffer]);  // not zero-filled
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    const int e = errno;
    std::string msg = fmt::format("open capture file {}: {}", path, std::strerror(e));
    if (e == ENOENT) return absl::NotFoundError(msg);
    if (e == EACCES || e == EPERM) return absl::PermissionDeniedError(msg);
    return absl::InvalidArgumentError(msg);  // a bad path (ENOTDIR, ELOOP, ...): usage
  }
  std::setvbuf(f, buffer.get(), _IOFBF, kFileReadBuffer);
  // Only the capture thread reads this stream: no stdio lock around each of libpcap's
  // two freads per frame.
  __fsetlocking(f, FSETLOCKING_BYCALLER);
  pcap_t* p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, errbuf);
  if (p == nullptr) {
    std::fclose(f);  // not taken over on failure
    return absl::InvalidArgumentError(fmt::format("open capture file {}: {}", path, errbuf));
  }
  std::string name = fmt::format("pcap file {}", path);
  absl::StatusOr<LinkType> link = CheckLink(p, name);
  if (!link.ok()) {
    pcap_close(p);
    return link.status();
  }
  absl::Status fs = ApplyFilter(p, name, bpf_filter);
  if (!fs.ok()) {
    pcap_close(p);
    return fs;
  }
  const bool nano = pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO;
  auto src = std::make_unique<PcapSource>(p, name, *link, port, false, nano);
  src->set_read_buffer(std::move(buffer));
  return std::unique_ptr<CaptureSource>(std::move(src));
}

absl::StatusOr<std::unique_ptr<CaptureSource>> OpenPcapLive(const std::string& iface,
                                                           const CaptureConfig& cfg,
                                                           uint16_t port) {
  char errbuf[PCAP_ERRBUF_SIZE] = {0};
  std::string name = fmt::format("pcap interface {}", iface);
  pcap_t* p = pcap_create(iface.c_str(), errbuf);
  if (p == nullptr) {
    return absl::NotFoundError(fmt::format("{}: {}", name, errbuf));
  }
  const uint32_t snap = cfg.snaplen == 0 || cfg.snaplen > kMaxSnap ? kMaxSnap : cfg.snaplen;
  pcap_set_snaplen(p, static_cast<int>(snap));
  pcap_set_promisc(p, cfg.promiscuous ? 1 : 0);
  pcap_set_timeout(p, 10);
  pcap_set_buffer_size(p, 64 << 20);
  // Best effort: not every kernel/driver offers nanosecond timestamps.
  (void)pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);
  int r = pcap_activate(p);
  if (r < 0) {
    std::string msg = fmt::format("{}: activate: {} ({})", name, pcap_statustostr(r),
                                  pcap_geterr(p));
    pcap_close(p);
    if (r == PCAP_ERROR_PERM_DENIED || r == PCAP_ERROR_PROMISC_PERM_DENIED) {
      return absl::PermissionDeniedError(msg);
    }
    if (r == PCAP_ERROR_NO_SUCH_DEVICE) return absl::NotFoundError(msg);
    return absl::UnavailableError(msg);
  }
  absl::StatusOr<LinkType> link = CheckLink(p, name);
  if (!link.ok()) {
    pcap_close(p);
    return link.status();
  }
  absl::Status fs = ApplyFilter(p, name, cfg.bpf_filter);
  if (!fs.ok()) {
    pcap_close(p);
    return fs;
  }
  // With TPACKET_V3 libpcap waits in poll() with no timeout until the kernel retires a
  // block, and an idle link retires none: a blocking read would never return 0 (callvaultd
  // could then neither advance timers nor stop). Non-blocking + our own 10 ms poll instead.
  if (pcap_setnonblock(p, 1, errbuf) != 0) {
    std::string msg = fmt::format("{}: setnonblock: {}", name, errbuf);
    pcap_close(p);
    return absl::UnavailableError(msg);
  }
  const bool nano = pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO;
  return std::unique_ptr<CaptureSource>(new PcapSource(p, name, *link, port, true, nano));
}

}  // namespace callvault::capture
