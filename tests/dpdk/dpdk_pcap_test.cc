// net_pcap vdev vs libpcap: the same capture read through DPDK (DpdkSource over a
// net_pcap rx_pcap= queue) and through libpcap gives the same frames, bytes and times.
// Several captures at once: Ethernet pcap and pcapng (nanosecond), Linux cooked (SLL),
// BSD loopback with 16 KB frames (multi-segment mbufs, linearised), IPv4 fragments.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "appliance/common/status.h"
#include "dpdk_app/dpdk_source.h"
#include "dpdk_app/eal.h"
#include "dpdk_app/net_pcap_file.h"
#include "dpdk_app/port.h"
#include "tests/dpdk/dpdk_test_util.h"

namespace callvault::dpdk {
namespace {

using testing::ReadWithLibpcap;
using testing::RefCapture;

// Port name -> files, one RX queue per file.
const std::map<std::string, std::vector<std::string>>& Vdevs() {
  static const auto* v = new std::map<std::string, std::vector<std::string>>{
      {"net_pcap0", {"wswiki_SIP_CALL_RTP_G711.pcap"}},
      {"net_pcap1", {"sipnab_b2bua-asterisk.pcapng", "heplify_sip_ipv4_tcp_rtp_pcma.pcap",
                     "sipnab_sipp-branch-scenario.pcapng"}},
      {"net_pcap2", {"nextcaller_sip-tcp.pcap"}},
      {"net_pcap3", {"suricata-verify_sip-body-large.pcap"}},
      {"net_pcap4", {"voipshark_SIP-SRTP-Normal_Call_two_parties.pcap",
                     "nextcaller_sip-i_ipv4frag.pcap"}},
  };
  return *v;
}

struct Eal {
  absl::Status status;
  std::vector<PortSetup> ports;
};

Eal& GetEal() {
  static Eal* eal = [] {
    auto* e = new Eal;
    std::vector<std::string> args = testing::TestEalArgs("cvdpdk_pcap");
    PortOptions opts;
    opts.mbufs = 8191;
    opts.mbuf_cache = 32;
    opts.rx_descriptors = 256;
    for (const auto& [name, files] : Vdevs()) {
      std::string v = name;
      for (const std::string& f : files) v += ",rx_pcap=" + testing::DataDir() + "/" + f;
      args.push_back("--vdev");
      args.push_back(v);
    }
    opts.vdevs = VdevsFromEalArgs(args);
    e->status = InitEal("dpdk_pcap_test", args);
    if (e->status.ok()) {
      auto ports = SetUpPorts(opts);
      if (ports.ok()) {
        e->ports = std::move(*ports);
      } else {
        e->status = ports.status();
      }
    }
    return e;
  }();
  return *eal;
}

const PortSetup* FindPort(const std::string& name) {
  for (const PortSetup& p : GetEal().ports) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

struct DpdkRead {
  std::vector<Frame> meta;
  std::vector<std::vector<uint8_t>> bytes;
  absl::Status end;
  int empty_bursts = 0;
};

DpdkRead ReadAll(DpdkSource& src) {
  DpdkRead r;
  Frame burst[kBurstSize];
  for (int guard = 0; guard < 10000000; ++guard) {
    absl::StatusOr<size_t> n = src.NextBurst(burst);
    if (!n.ok()) {
      r.end = n.status();
      break;
    }
    if (*n == 0) ++r.empty_bursts;
    for (size_t i = 0; i < *n; ++i) {
      r.meta.push_back(burst[i]);
      r.bytes.emplace_back(burst[i].data, burst[i].data + burst[i].caplen);
    }
  }
  return r;
}

// Reads one queue through DPDK and compares it frame by frame with libpcap.
void ExpectSameAsLibpcap(const std::string& port_name, uint16_t queue,
                         QueueCounters* counters = nullptr) {
  ASSERT_TRUE(GetEal().status.ok()) << GetEal().status;
  const PortSetup* port = FindPort(port_name);
  ASSERT_NE(port, nullptr) << port_name;
  ASSERT_LT(queue, port->queues.size());
  const RxQueueSpec& spec = port->queues[queue];
  EXPECT_TRUE(spec.file_replay);
  EXPECT_EQ(port->clock, ClockSource::kPcapMicros);
  RefCapture ref = ReadWithLibpcap(spec.input, PCAP_TSTAMP_PRECISION_MICRO);
  ASSERT_TRUE(ref.error.empty()) << ref.error;
  ASSERT_GT(ref.frames.size(), 0u);
  LinkType ref_link;
  ASSERT_TRUE(LinkTypeFromDlt(ref.dlt, &ref_link));
  EXPECT_EQ(spec.link, ref_link);

  DpdkSource src(*port, spec, /*stop_at_eof=*/true);
  DpdkRead got = ReadAll(src);
  EXPECT_TRUE(absl::IsOutOfRange(got.end)) << got.end;
  EXPECT_TRUE(src.at_eof());
  ASSERT_EQ(got.meta.size(), ref.frames.size()) << spec.input;
  uint64_t bytes = 0;
  for (size_t i = 0; i < ref.frames.size(); ++i) {
    const Frame& f = got.meta[i];
    ASSERT_EQ(f.ts_ns, ref.frames[i].ts_ns) << spec.input << " frame " << i;
    ASSERT_EQ(got.bytes[i], ref.frames[i].bytes) << spec.input << " frame " << i;
    EXPECT_EQ(f.caplen, ref.frames[i].bytes.size());
    EXPECT_EQ(f.port, port->port);
    EXPECT_EQ(f.queue, queue);
    EXPECT_EQ(f.link, ref_link);
    bytes += f.caplen;
  }
  EXPECT_EQ(bytes, ref.bytes);
  capture::SourceStats st = src.Stats();
  EXPECT_EQ(st.frames, ref.frames.size());
  EXPECT_EQ(st.bytes, ref.bytes);
  EXPECT_EQ(st.no_buffer, 0u);
  QueueCounters qc;
  src.FillCounters(&qc);
  EXPECT_EQ(qc.q_ipackets, ref.frames.size()) << "PMD per-queue count";
  EXPECT_EQ(qc.drops[0] + qc.drops[1], 0u);
  EXPECT_TRUE(qc.at_eof);
  if (counters != nullptr) *counters = qc;
  // Once at the end, the source keeps saying so.
  Frame burst[kBurstSize];
  EXPECT_TRUE(absl::IsOutOfRange(src.NextBurst(burst).status()));
}

// What net_pcap hands over for a pcap second s and microsecond u: libpcap's tv_sec is a
// signed 32-bit value widened to long, then `(uint64_t)tv_sec * 1000000 + tv_usec`.
uint64_t NetPcapField(uint32_t file_seconds, uint32_t usec) {
  int64_t tv_sec = static_cast<int32_t>(file_seconds);
  return static_cast<uint64_t>(tv_sec) * 1000000ull + usec;
}

TEST(DpdkPcap, TimestampsPast2038AreUnsignedSeconds) {
  // 2026-11-28, 2038-01-19 03:14:08 (2^31 s), 2040-01-01 and 2106-02-07 06:28:15.
  for (uint32_t s : {1795824000u, 2147483648u, 2208988800u, 4294967295u}) {
    EXPECT_EQ(dpdk::NetPcapMicrosToNs(NetPcapField(s, 123456)),
              uint64_t{s} * 1'000'000'000ull + 123'456'000ull) << s;
  }
}

TEST(DpdkPcap, EalAndPortsComeUp) {
  ASSERT_TRUE(GetEal().status.ok()) << GetEal().status;
  EXPECT_EQ(GetEal().ports.size(), Vdevs().size());
  for (const PortSetup& p : GetEal().ports) {
    EXPECT_EQ(p.driver, "net_pcap");
    EXPECT_FALSE(p.rss) << "net_pcap has no RSS: one queue per rx_pcap";
    EXPECT_EQ(p.queues.size(), Vdevs().at(p.name).size()) << p.name;
  }
}

TEST(DpdkPcap, EthernetPcapMatchesLibpcap) { ExpectSameAsLibpcap("net_pcap0", 0); }
TEST(DpdkPcap, PcapngMatchesLibpcap) { ExpectSameAsLibpcap("net_pcap1", 0); }
TEST(DpdkPcap, SecondQueueOfAPortMatchesLibpcap) { ExpectSameAsLibpcap("net_pcap1", 1); }
TEST(DpdkPcap, LinuxCookedKeepsItsLinkType) { ExpectSameAsLibpcap("net_pcap2", 0); }
TEST(DpdkPcap, JumboLoopbackFramesAreLinearised) {
  QueueCounters qc;
  ExpectSameAsLibpcap("net_pcap3", 0, &qc);
  // 4 records of ~16 KB do not fit a 2 KB mbuf: net_pcap chains them, we linearise.
  EXPECT_GE(qc.linearised, 4u);
}
TEST(DpdkPcap, FragmentedCapturesMatch) {
  ExpectSameAsLibpcap("net_pcap4", 0);
  ExpectSameAsLibpcap("net_pcap4", 1);
}

// The driver opened every rx_pcap file through callvault's pcap_open_offline (1 MiB
// reads): the frames compared above came through it (the reference reads with libpcap's
// own stream).
TEST(DpdkPcap, DriverReadsThroughTheLargeBuffer) {
  ASSERT_TRUE(GetEal().status.ok()) << GetEal().status;
  std::size_t files = 0;
  for (const auto& [port, list] : Vdevs()) files += list.size();
  EXPECT_GE(NetPcapFileOpens(), files);
}

// A nanosecond pcapng through net_pcap keeps microseconds: the DPDK time is the libpcap
// nanosecond time truncated to the microsecond (documented in docs/DPDK.md).
TEST(DpdkPcap, NanosecondCaptureIsTruncatedToMicroseconds) {
  ASSERT_TRUE(GetEal().status.ok()) << GetEal().status;
  const PortSetup* port = FindPort("net_pcap1");
  ASSERT_NE(port, nullptr);
  const RxQueueSpec& spec = port->queues[2];
  RefCapture ref = ReadWithLibpcap(spec.input, PCAP_TSTAMP_PRECISION_NANO);
  ASSERT_EQ(ref.frames.size(), 8989u);  // SOURCES.md
  DpdkSource src(*port, spec, true);
  DpdkRead got = ReadAll(src);
  ASSERT_EQ(got.meta.size(), ref.frames.size());
  size_t sub_us = 0;
  for (size_t i = 0; i < ref.frames.size(); ++i) {
    ASSERT_EQ(got.meta[i].ts_ns, ref.frames[i].ts_ns / 1000 * 1000) << i;
    if (ref.frames[i].ts_ns % 1000 != 0) ++sub_us;
  }
  EXPECT_GT(sub_us, 0u) << "the file really has sub-microsecond times";
}

}  // namespace
}  // namespace callvault::dpdk
