// pcap_split INPUT OUT0 OUT1 [OUT2 ...]: writes the frames of INPUT (pcap or pcapng, any
// link type libpcap reads) into N pcap files as a NIC with N RX queues and symmetric RSS
// would deal them (rss_hash.h), keeping each frame's bytes and capture time (nanosecond
// pcap, the input's link type). Prints one line per output (frames, bytes) and how many
// input frames were earlier than the frame before them: each output keeps the input's
// order, and callvaultd's workers (dpdk_app/capture_order.h) need every file in time
// order to give the same result as one queue. Exit 0, or 1 with a message.
#include <pcap/pcap.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "tests/tools/pcap_split/rss_hash.h"

namespace {

int Fail(const std::string& what) {
  std::fprintf(stderr, "pcap_split: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: pcap_split INPUT OUT0 OUT1 [OUT2 ...]\n");
    return 2;
  }
  char err[PCAP_ERRBUF_SIZE] = {};
  pcap_t* in = pcap_open_offline_with_tstamp_precision(argv[1], PCAP_TSTAMP_PRECISION_NANO, err);
  if (in == nullptr) return Fail(std::string(argv[1]) + ": " + err);
  const int dlt = pcap_datalink(in);
  const unsigned n = static_cast<unsigned>(argc - 2);
  pcap_t* dead = pcap_open_dead_with_tstamp_precision(dlt, 262144, PCAP_TSTAMP_PRECISION_NANO);
  std::vector<pcap_dumper_t*> out(n, nullptr);
  std::vector<uint64_t> frames(n, 0), bytes(n, 0);
  for (unsigned i = 0; i < n; ++i) {
    out[i] = pcap_dump_open(dead, argv[2 + i]);
    if (out[i] == nullptr) return Fail(std::string(argv[2 + i]) + ": " + pcap_geterr(dead));
  }
  pcap_pkthdr* h = nullptr;
  const u_char* data = nullptr;
  uint64_t last_ns = 0, out_of_order = 0;
  int rc;
  while ((rc = pcap_next_ex(in, &h, &data)) == 1) {
    const uint64_t ns = static_cast<uint64_t>(h->ts.tv_sec) * 1000000000ull +
                        static_cast<uint64_t>(h->ts.tv_usec);
    if (ns < last_ns) ++out_of_order;
    last_ns = ns;
    const unsigned q = callvault::pcapsplit::RssQueue(
        callvault::pcapsplit::SymmetricRssHash(dlt, std::span<const uint8_t>(data, h->caplen)),
        n);
    pcap_dump(reinterpret_cast<u_char*>(out[q]), h, data);
    ++frames[q];
    bytes[q] += h->caplen;
  }
  if (rc == -1) return Fail(std::string(argv[1]) + ": " + pcap_geterr(in));
  for (unsigned i = 0; i < n; ++i) {
    if (pcap_dump_flush(out[i]) != 0) return Fail(std::string(argv[2 + i]) + ": write failed");
    pcap_dump_close(out[i]);
    std::printf("%s: %llu frames, %llu bytes\n", argv[2 + i],
                static_cast<unsigned long long>(frames[i]),
                static_cast<unsigned long long>(bytes[i]));
  }
  std::printf("input frames out of time order: %llu\n",
              static_cast<unsigned long long>(out_of_order));
  pcap_close(dead);
  pcap_close(in);
  return 0;
}
