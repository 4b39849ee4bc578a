// Helpers shared by the EAL tests: reading a capture with libpcap (the reference the
// DPDK path must match) and building unique EAL arguments.
#ifndef CALLVAULT_TESTS_DPDK_DPDK_TEST_UTIL_H_
#define CALLVAULT_TESTS_DPDK_DPDK_TEST_UTIL_H_

#include <pcap/pcap.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

namespace callvault::dpdk::testing {

struct RefFrame {
  uint64_t ts_ns = 0;
  std::vector<uint8_t> bytes;
};

struct RefCapture {
  int dlt = -1;
  std::vector<RefFrame> frames;
  uint64_t bytes = 0;
  std::string error;
};

// Reads every record of `path` with libpcap, timestamps at `precision`
// (PCAP_TSTAMP_PRECISION_MICRO or _NANO), as ns since the epoch.
inline RefCapture ReadWithLibpcap(const std::string& path, int precision) {
  RefCapture out;
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p = pcap_open_offline_with_tstamp_precision(path.c_str(), precision, errbuf);
  if (p == nullptr) {
    out.error = errbuf;
    return out;
  }
  out.dlt = pcap_datalink(p);
  const uint64_t scale = precision == PCAP_TSTAMP_PRECISION_NANO ? 1 : 1000;
  pcap_pkthdr* h = nullptr;
  const u_char* data = nullptr;
  while (pcap_next_ex(p, &h, &data) == 1) {
    RefFrame f;
    f.ts_ns = static_cast<uint64_t>(h->ts.tv_sec) * 1000000000ull +
              static_cast<uint64_t>(h->ts.tv_usec) * scale;
    f.bytes.assign(data, data + h->caplen);
    out.bytes += h->caplen;
    out.frames.push_back(std::move(f));
  }
  pcap_close(p);
  return out;
}

inline std::string DataDir() {
  const char* d = std::getenv("CV_TEST_DATA");
  return d != nullptr ? d : "tests/data";
}

// Base EAL arguments for a test process without hugepages or NICs; a per-process
// --file-prefix keeps parallel runs (and other engineers' runs) apart.
inline std::vector<std::string> TestEalArgs(const std::string& tag) {
  return {"-l", "0-1", "--no-huge", "--no-pci", "--no-shconf", "-m", "512",
          "--file-prefix", tag + "_" + std::to_string(getpid()), "--log-level", "*:warning"};
}

}  // namespace callvault::dpdk::testing

#endif  // CALLVAULT_TESTS_DPDK_DPDK_TEST_UTIL_H_
