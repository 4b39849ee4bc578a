#include "dpdk_app/net_pcap_file.h"

#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdio_ext.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>

namespace callvault::dpdk {
namespace {

std::atomic<uint64_t> g_opens{0};

struct Cookie {
  int fd = -1;
  std::size_t pos = 0;  // next byte of buf to hand out
  std::size_t len = 0;  // bytes in buf
  std::size_t cap = 0;
  char* buf = nullptr;
};

ssize_t CookieRead(void* c, char* out, std::size_t size) {
  auto* k = static_cast<Cookie*>(c);
  if (k->pos == k->len) {
    ssize_t n;
    do {
      n = ::read(k->fd, k->buf, k->cap);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) return n;  // 0: end of file; -1: errno set, stdio marks the error
    k->pos = 0;
    k->len = std::size_t(n);
  }
  const std::size_t n = std::min(size, k->len - k->pos);
  std::memcpy(out, k->buf + k->pos, n);
  k->pos += n;
  return ssize_t(n);
}

int CookieClose(void* c) {
  auto* k = static_cast<Cookie*>(c);
  const int rc = ::close(k->fd);
  std::free(k->buf);
  delete k;
  return rc;
}

}  // namespace

std::FILE* OpenLargeReadStream(const char* path, std::size_t buffer_bytes) {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  auto* k = new (std::nothrow) Cookie;
  if (k == nullptr) {
    ::close(fd);
    errno = ENOMEM;
    return nullptr;
  }
  k->fd = fd;
  k->cap = buffer_bytes;
  k->buf = static_cast<char*>(std::malloc(buffer_bytes));  // not zero-filled
  cookie_io_functions_t io{};
  io.read = CookieRead;
  io.close = CookieClose;
  std::FILE* f = k->buf != nullptr ? fopencookie(k, "rb", io) : nullptr;
  if (f == nullptr) {
    const int e = k->buf != nullptr ? errno : ENOMEM;
    CookieClose(k);
    errno = e;
    return nullptr;
  }
  __fsetlocking(f, FSETLOCKING_BYCALLER);
  return f;
}

uint64_t NetPcapFileOpens() { return g_opens.load(std::memory_order_relaxed); }

}  // namespace callvault::dpdk

// Interposes libpcap's function for the net_pcap driver (see the header). Same contract:
// a pcap_t or nullptr with the reason in errbuf.
extern "C" __attribute__((visibility("default"))) pcap_t* pcap_open_offline(const char* fname,
                                                                             char* errbuf) {
  if (fname == nullptr) {
    std::snprintf(errbuf, PCAP_ERRBUF_SIZE, "A null pointer was supplied as the file name");
    return nullptr;
  }
  if (std::strcmp(fname, "-") == 0) return pcap_fopen_offline(stdin, errbuf);
  std::FILE* f = callvault::dpdk::OpenLargeReadStream(fname);
  if (f == nullptr) {
    std::snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s: %s", fname, std::strerror(errno));
    return nullptr;
  }
  pcap_t* p = pcap_fopen_offline(f, errbuf);
  if (p == nullptr) {
    std::fclose(f);  // not taken over on failure
    return nullptr;
  }
  callvault::dpdk::g_opens.fetch_add(1, std::memory_order_relaxed);
  return p;
}
