// The stream and the pcap_open_offline() that callvaultd gives net_pcap (net_pcap_file.h),
// without EAL: bytes, end of file and errors as libpcap's own reader gives them. That the
// driver really reads through it is checked with EAL in tests/dpdk/dpdk_pcap_test.cc.
#include "dpdk_app/net_pcap_file.h"

#include <pcap/pcap.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace callvault::dpdk {
namespace {

std::string WriteTemp(const std::string& name, const std::vector<uint8_t>& data) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(data.data()), std::streamsize(data.size()));
  return path;
}

// Every byte once, in order, whatever the read sizes and the buffer boundaries (a
// 4,099-byte buffer here), then end of file.
TEST(NetPcapFile, StreamReadsEveryByteAcrossBufferBoundaries) {
  std::vector<uint8_t> data(1'000'003);
  std::mt19937 rng(3);
  for (auto& b : data) b = uint8_t(rng());
  const std::string path = WriteTemp("cv_stream.bin", data);
  std::FILE* f = OpenLargeReadStream(path.c_str(), 4099);
  ASSERT_NE(f, nullptr);
  std::vector<uint8_t> back;
  const std::size_t sizes[] = {1, 16, 17, 4099, 5000, 100'000, 3};
  for (std::size_t i = 0;; ++i) {
    std::vector<uint8_t> chunk(sizes[i % std::size(sizes)]);
    const std::size_t n = std::fread(chunk.data(), 1, chunk.size(), f);
    back.insert(back.end(), chunk.begin(), chunk.begin() + long(n));
    if (n < chunk.size()) break;
  }
  EXPECT_TRUE(std::feof(f));
  EXPECT_FALSE(std::ferror(f));
  EXPECT_EQ(back, data);
  EXPECT_EQ(std::fclose(f), 0);
  ::unlink(path.c_str());
}

TEST(NetPcapFile, ReadErrorIsAStreamError) {
  std::FILE* f = OpenLargeReadStream(::testing::TempDir().c_str());  // a directory: EISDIR
  ASSERT_NE(f, nullptr);
  char c;
  EXPECT_EQ(std::fread(&c, 1, 1, f), 0u);
  EXPECT_TRUE(std::ferror(f));
  std::fclose(f);
}

// The same messages as libpcap's own open (pcap_open_offline_with_tstamp_precision, which
// is not interposed) for a missing file, a directory and a file that is not a capture.
TEST(NetPcapFile, ErrorsAreLibpcapsOwn) {
  const std::string junk = WriteTemp("cv_not_a_capture.pcap", std::vector<uint8_t>(64, 'x'));
  for (const std::string& path :
       {std::string("/nonexistent/cv.pcap"), ::testing::TempDir(), junk}) {
    char ours[PCAP_ERRBUF_SIZE] = {}, theirs[PCAP_ERRBUF_SIZE] = {};
    EXPECT_EQ(pcap_open_offline(path.c_str(), ours), nullptr) << path;
    EXPECT_EQ(pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_MICRO,
                                                      theirs),
              nullptr);
    EXPECT_STREQ(ours, theirs) << path;
    EXPECT_NE(ours[0], '\0');
  }
  ::unlink(junk.c_str());
  errno = 0;
  EXPECT_EQ(OpenLargeReadStream("/nonexistent/cv.pcap"), nullptr);
  EXPECT_EQ(errno, ENOENT);
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  EXPECT_EQ(pcap_open_offline(nullptr, errbuf), nullptr);
  EXPECT_NE(errbuf[0], '\0');
}

}  // namespace
}  // namespace callvault::dpdk
