// PcapSource over the shipped captures (tests/data, via CALLVAULT_TEST_DATA). Expected
// numbers come from capinfos / tshark / tcpdump, as noted beside each.
#include "appliance/capture/pcap_source.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace callvault::capture {
namespace {

std::string Data(const std::string& name) {
  const char* dir = std::getenv("CALLVAULT_TEST_DATA");
  return std::string(dir ? dir : "tests/data") + "/" + name;
}

struct Drained {
  uint64_t frames = 0;
  uint64_t bytes = 0;
  uint64_t wire = 0;
  uint64_t first_ts = 0;
  uint64_t last_ts = 0;
  LinkType link = LinkType::kEthernet;
  size_t max_burst = 0;
};

Drained Drain(CaptureSource& src) {
  Drained d;
  std::array<Frame, kBurstSize> burst;
  for (;;) {
    absl::StatusOr<size_t> n = src.NextBurst(burst);
    if (!n.ok()) {
      EXPECT_TRUE(absl::IsOutOfRange(n.status())) << n.status();
      break;
    }
    d.max_burst = std::max(d.max_burst, *n);
    for (size_t i = 0; i < *n; ++i) {
      if (d.frames == 0) d.first_ts = burst[i].ts_ns;
      d.last_ts = burst[i].ts_ns;
      d.link = burst[i].link;
      ++d.frames;
      d.bytes += burst[i].caplen;
      d.wire += burst[i].wirelen;
      EXPECT_NE(burst[i].data, nullptr);
    }
  }
  // End of capture is sticky.
  EXPECT_TRUE(absl::IsOutOfRange(src.NextBurst(burst).status()));
  return d;
}

TEST(PcapSource, PcapngWithNanosecondTimestamps) {
  auto src = OpenPcapFile(Data("sipnab_sipp-branch-scenario.pcapng"), 3);
  ASSERT_TRUE(src.ok()) << src.status();
  Drained d = Drain(**src);
  // capinfos: 8989 packets; tshark -T fields -e frame.time_epoch: first
  // 1479419555.303348707, last 1479419688.603277042; sum of frame.len 3413423.
  EXPECT_EQ(d.frames, 8989u);
  EXPECT_EQ(d.first_ts, 1479419555303348707ull);
  EXPECT_EQ(d.last_ts, 1479419688603277042ull);
  EXPECT_EQ(d.bytes, 3413423u);
  EXPECT_EQ(d.link, LinkType::kEthernet);
  EXPECT_EQ(d.max_burst, kBurstSize);
  EXPECT_EQ((*src)->Stats().frames, 8989u);
  EXPECT_NE((*src)->Name().find("sipp-branch"), std::string::npos);
}

TEST(PcapSource, MicrosecondFileAndLinkTypes) {
  // tshark -c1 -T fields -e frame.time_epoch: 1782243452.934517000 (DLT_NULL, 16 frames).
  auto null_src = OpenPcapFile(Data("suricata-verify_sip-body-large.pcap"));
  ASSERT_TRUE(null_src.ok()) << null_src.status();
  Drained d = Drain(**null_src);
  EXPECT_EQ(d.frames, 16u);
  EXPECT_EQ(d.first_ts, 1782243452934517000ull);
  EXPECT_EQ(d.link, LinkType::kNull);
  // capinfos: linux-sll, 30 packets.
  auto sll = OpenPcapFile(Data("nextcaller_sip-tcp.pcap"));
  ASSERT_TRUE(sll.ok()) << sll.status();
  d = Drain(**sll);
  EXPECT_EQ(d.frames, 30u);
  EXPECT_EQ(d.link, LinkType::kLinuxSll);
}

TEST(PcapSource, FilterKeepsNonFirstFragments) {
  EXPECT_EQ(SafeBpfFilter(""), "");
  EXPECT_EQ(SafeBpfFilter("  "), "");
  EXPECT_EQ(SafeBpfFilter("udp port 5060"),
            "(udp port 5060) or (ip[6:2] & 0x1fff != 0) or ip6");
  // tcpdump -r FILE 'udp port 5060' | wc -l -> 52 (misses the INVITE's second fragment);
  // tcpdump -r FILE '(udp port 5060) or (ip[6:2] & 0x1fff != 0) or ip6' | wc -l -> 63.
  auto src = OpenPcapFile(Data("voipshark_SIP-SRTP-Normal_Call_two_parties.pcap"), 0,
                          "udp port 5060");
  ASSERT_TRUE(src.ok()) << src.status();
  EXPECT_EQ(Drain(**src).frames, 63u);
}

TEST(PcapSource, Errors) {
  auto missing = OpenPcapFile(Data("no_such_file.pcap"));
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
  EXPECT_NE(std::string(missing.status().message()).find("no_such_file.pcap"),
            std::string::npos);
  // A path through a regular file (ENOTDIR) is a bad argument, like a file that is no
  // capture: usage errors, not internal ones.
  auto not_dir = OpenPcapFile(Data("SOURCES.md") + "/x.pcap");
  ASSERT_FALSE(not_dir.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(not_dir.status())) << not_dir.status();
  auto not_pcap = OpenPcapFile(Data("SOURCES.md"));
  ASSERT_FALSE(not_pcap.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(not_pcap.status())) << not_pcap.status();
  auto bad_filter = OpenPcapFile(Data("heplify_sip_sctp.pcap"), 0, "udp port banana");
  ASSERT_FALSE(bad_filter.ok());
  EXPECT_NE(std::string(bad_filter.status().message()).find("banana"), std::string::npos);
  CaptureConfig cfg;
  auto live = OpenPcapLive("callvault-no-such-if0", cfg);
  ASSERT_FALSE(live.ok());
  EXPECT_NE(std::string(live.status().message()).find("callvault-no-such-if0"),
            std::string::npos);
}

// Live capture on the loopback interface with a filter; skipped where the test may not
// open interfaces (no CAP_NET_RAW) or has no "lo".
TEST(PcapSource, LiveLoopbackWithFilter) {
  CaptureConfig cfg;
  cfg.snaplen = 2048;
  cfg.promiscuous = false;
  cfg.bpf_filter = "udp dst port 45999";
  auto src = OpenPcapLive("lo", cfg, 7);
  if (!src.ok()) GTEST_SKIP() << src.status();
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(45999);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const char kMsg[] = "callvault-live-test";
  std::array<Frame, kBurstSize> burst;
  bool seen = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (!seen && std::chrono::steady_clock::now() < deadline) {
    ASSERT_GT(sendto(fd, kMsg, sizeof(kMsg) - 1, 0, reinterpret_cast<sockaddr*>(&to),
                     sizeof(to)), 0);
    absl::StatusOr<size_t> n = (*src)->NextBurst(burst);
    ASSERT_TRUE(n.ok()) << n.status();
    for (size_t i = 0; i < *n; ++i) {
      const Frame& f = burst[i];
      EXPECT_EQ(f.port, 7);
      EXPECT_EQ(f.link, LinkType::kEthernet);  // Linux "lo" is DLT_EN10MB
      EXPECT_GT(f.ts_ns, 1600000000ull * 1000000000ull);
      std::string bytes(reinterpret_cast<const char*>(f.data), f.caplen);
      if (bytes.find(kMsg) != std::string::npos) seen = true;
    }
  }
  close(fd);
  EXPECT_TRUE(seen);
  EXPECT_GE((*src)->Stats().frames, 1u);
}

// --- Timestamps past 2038 (classic pcap's u32 seconds, libpcap's signed field) --------
// Files are crafted here; the expected times are the values written into them.

constexpr uint64_t k2040 = 2208988800ull;        // 2040-01-01T00:00:00Z (> 2^31 s)
constexpr uint64_t kMaxU32Sec = 4294967295ull;   // 2106-02-07T06:28:15Z (u32 max)

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "/cv_ts_" + std::to_string(::getpid()) + "_" + name;
}

template <typename T>
void Put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

const std::string kPayload(60, '\x11');

// Classic pcap, little-endian; `nano` selects the ns magic (0xa1b23c4d).
std::string ClassicPcap(bool nano, const std::vector<std::pair<uint32_t, uint32_t>>& times) {
  std::string f;
  Put<uint32_t>(f, nano ? 0xa1b23c4d : 0xa1b2c3d4);
  Put<uint16_t>(f, 2);
  Put<uint16_t>(f, 4);
  Put<int32_t>(f, 0);
  Put<uint32_t>(f, 0);
  Put<uint32_t>(f, 65535);
  Put<uint32_t>(f, 1);  // LINKTYPE_ETHERNET
  for (auto [sec, frac] : times) {
    Put<uint32_t>(f, sec);
    Put<uint32_t>(f, frac);
    Put<uint32_t>(f, uint32_t(kPayload.size()));
    Put<uint32_t>(f, uint32_t(kPayload.size()));
    f += kPayload;
  }
  return f;
}

// pcapng: SHB, one IDB (Ethernet; if_tsresol = 10^-tsresol when tsresol > 0, else the
// default microseconds), EPBs with the given 64-bit timestamps in those units.
std::string Pcapng(uint8_t tsresol, const std::vector<uint64_t>& units) {
  std::string f;
  Put<uint32_t>(f, 0x0A0D0D0A);
  Put<uint32_t>(f, 28);
  Put<uint32_t>(f, 0x1A2B3C4D);
  Put<uint16_t>(f, 1);
  Put<uint16_t>(f, 0);
  Put<int64_t>(f, -1);
  Put<uint32_t>(f, 28);
  const uint32_t idb_len = tsresol ? 32 : 20;
  Put<uint32_t>(f, 1);
  Put<uint32_t>(f, idb_len);
  Put<uint16_t>(f, 1);
  Put<uint16_t>(f, 0);
  Put<uint32_t>(f, 65535);
  if (tsresol) {
    Put<uint16_t>(f, 9);  // if_tsresol
    Put<uint16_t>(f, 1);
    f += char(tsresol);
    f += std::string(3, '\0');
    Put<uint32_t>(f, 0);  // opt_endofopt
  }
  Put<uint32_t>(f, idb_len);
  for (uint64_t t : units) {
    const uint32_t len = 32 + uint32_t(kPayload.size());  // 60: already 4-aligned
    Put<uint32_t>(f, 6);
    Put<uint32_t>(f, len);
    Put<uint32_t>(f, 0);
    Put<uint32_t>(f, uint32_t(t >> 32));
    Put<uint32_t>(f, uint32_t(t));
    Put<uint32_t>(f, uint32_t(kPayload.size()));
    Put<uint32_t>(f, uint32_t(kPayload.size()));
    f += kPayload;
    Put<uint32_t>(f, len);
  }
  return f;
}

std::vector<uint64_t> Times(const std::string& name, const std::string& bytes) {
  const std::string path = TempPath(name);
  {
    FILE* fp = std::fopen(path.c_str(), "wb");
    EXPECT_NE(fp, nullptr);
    if (fp == nullptr) return {};
    EXPECT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), fp), bytes.size());
    std::fclose(fp);
  }
  std::vector<uint64_t> out;
  auto src = OpenPcapFile(path);
  EXPECT_TRUE(src.ok()) << src.status();
  if (src.ok()) {
    std::array<Frame, kBurstSize> burst;
    for (;;) {
      absl::StatusOr<size_t> n = (*src)->NextBurst(burst);
      if (!n.ok()) break;
      for (size_t i = 0; i < *n; ++i) {
        EXPECT_EQ(burst[i].caplen, kPayload.size());
        out.push_back(burst[i].ts_ns);
      }
    }
  }
  std::remove(path.c_str());
  return out;
}

TEST(PcapTimestamps, ClassicMicrosecondPast2038) {
  // Just before and after the signed 32-bit limit, 2040, and the last u32 second.
  EXPECT_EQ(Times("us.pcap", ClassicPcap(false, {{0x7fffffffu, 999999},
                                                 {0x80000000u, 0},
                                                 {uint32_t(k2040), 123456},
                                                 {uint32_t(kMaxU32Sec), 999999}})),
            (std::vector<uint64_t>{2147483647999999000ull, 2147483648000000000ull,
                                   k2040 * 1000000000ull + 123456000ull,
                                   kMaxU32Sec * 1000000000ull + 999999000ull}));
}

TEST(PcapTimestamps, ClassicNanosecondPast2038) {
  EXPECT_EQ(Times("ns.pcap", ClassicPcap(true, {{uint32_t(k2040), 1},
                                                {uint32_t(kMaxU32Sec), 999999999}})),
            (std::vector<uint64_t>{k2040 * 1000000000ull + 1,
                                   kMaxU32Sec * 1000000000ull + 999999999ull}));
}

TEST(PcapTimestamps, PcapngDefaultAndNanosecondResolution) {
  // Default if_tsresol: microseconds.
  EXPECT_EQ(Times("us.pcapng", Pcapng(0, {k2040 * 1000000 + 123456,
                                          kMaxU32Sec * 1000000 + 999999})),
            (std::vector<uint64_t>{k2040 * 1000000000ull + 123456000ull,
                                   kMaxU32Sec * 1000000000ull + 999999000ull}));
  // if_tsresol = 9: nanoseconds; also one second past the u32 range (pcapng has 64 bits).
  EXPECT_EQ(Times("ns.pcapng", Pcapng(9, {k2040 * 1000000000 + 7,
                                          kMaxU32Sec * 1000000000 + 999999999,
                                          (kMaxU32Sec + 1) * 1000000000})),
            (std::vector<uint64_t>{k2040 * 1000000000ull + 7,
                                   kMaxU32Sec * 1000000000ull + 999999999ull,
                                   (kMaxU32Sec + 1) * 1000000000ull}));
}

TEST(PcapTimestamps, ConversionOfSignExtendedSeconds) {
  // What libpcap hands over for a classic file: the u32 field sign-extended.
  EXPECT_EQ(PcapTimestampNs(int64_t(int32_t(uint32_t(k2040))), 5, true),
            k2040 * 1000000000ull + 5);
  EXPECT_EQ(PcapTimestampNs(-1, 999999, false), kMaxU32Sec * 1000000000ull + 999999000ull);
  EXPECT_EQ(PcapTimestampNs(int64_t(kMaxU32Sec) + 1, 0, true), (kMaxU32Sec + 1) * 1000000000ull);
  EXPECT_EQ(PcapTimestampNs(1479419555, 303348707, true), 1479419555303348707ull);
}

}  // namespace
}  // namespace callvault::capture
