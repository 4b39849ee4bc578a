// Live capture: a veth pair in a fresh network namespace, a capture replayed into one
// end with tcpreplay, captured on the other end at the same time through
// net_af_packet and net_pcap (iface=). Every replayed frame must arrive on both ports.
// Needs root (namespaces, raw sockets); skips with a message otherwise. Touches no
// interface outside the namespace it creates (and deletes).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "dpdk_app/dpdk_source.h"
#include "dpdk_app/eal.h"
#include "dpdk_app/port.h"
#include "tests/dpdk/dpdk_test_util.h"

namespace callvault::dpdk {
namespace {

const char kCapture[] = "wswiki_SIP_CALL_RTP_G711.pcap";

int Sh(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

struct Live {
  std::string skip;  // non-empty: why the test cannot run here
  absl::Status status;
  std::string ns, tx_if, rx_if;
  std::vector<PortSetup> ports;
};

std::string* g_ns_to_delete = nullptr;

// The namespace (and the veth pair inside it) goes away at exit, pass or fail.
void DeleteNamespace() {
  if (g_ns_to_delete != nullptr) Sh("ip netns del " + *g_ns_to_delete);
}

Live& GetLive() {
  static Live* live = [] {
    auto* l = new Live;
    if (geteuid() != 0) {
      l->skip = "needs root to create a network namespace and veth pair";
      return l;
    }
    if (Sh("command -v tcpreplay") != 0) {
      l->skip = "tcpreplay is not installed (scripts/setup installs it)";
      return l;
    }
    std::string id = std::to_string(getpid());
    std::string ns = "cvtest" + id;
    if (Sh("ip netns add " + ns) != 0) {
      l->skip = "ip netns add failed (no network namespace support here)";
      return l;
    }
    l->ns = ns;
    g_ns_to_delete = new std::string(ns);
    std::atexit(DeleteNamespace);
    l->tx_if = "cva" + id;
    l->rx_if = "cvb" + id;
    std::string in = "ip netns exec " + ns + " ";
    // No IPv6 on the pair: otherwise router/neighbour solicitations add frames.
    if (Sh(in + "sysctl -qw net.ipv6.conf.all.disable_ipv6=1") != 0 ||
        Sh(in + "sysctl -qw net.ipv6.conf.default.disable_ipv6=1") != 0 ||
        Sh(in + "ip link add " + l->tx_if + " type veth peer name " + l->rx_if) != 0 ||
        Sh(in + "ip link set " + l->tx_if + " up") != 0 ||
        Sh(in + "ip link set " + l->rx_if + " up") != 0) {
      l->status = absl::InternalError("veth pair set-up in " + ns + " failed");
      return l;
    }
    // Enter the namespace (this thread; EAL threads are created from it) so that the
    // PMDs open their sockets on the namespace's interfaces.
    int fd = open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
      l->status = absl::InternalError("setns into " + ns + " failed");
      if (fd >= 0) close(fd);
      return l;
    }
    close(fd);
    std::vector<std::string> args = testing::TestEalArgs("cvdpdk_live");
    args.insert(args.end(), {"--vdev", "net_af_packet0,iface=" + l->rx_if + ",framecnt=4096",
                             "--vdev", "net_pcap1,iface=" + l->rx_if});
    l->status = InitEal("dpdk_live_test", args);
    if (!l->status.ok()) return l;
    PortOptions opts;
    opts.mbufs = 8191;
    opts.mbuf_cache = 32;
    opts.vdevs = VdevsFromEalArgs(args);
    auto ports = SetUpPorts(opts);
    if (ports.ok()) {
      l->ports = std::move(*ports);
    } else {
      l->status = ports.status();
    }
    return l;
  }();
  return *live;
}

using FrameBag = std::map<std::vector<uint8_t>, int>;  // frame bytes -> times seen

TEST(DpdkLive, VethReplayArrivesOnAfPacketAndPcapIface) {
  Live& l = GetLive();
  if (!l.skip.empty()) GTEST_SKIP() << l.skip;
  ASSERT_TRUE(l.status.ok()) << l.status;
  ASSERT_EQ(l.ports.size(), 2u);
  std::vector<std::unique_ptr<DpdkSource>> sources;
  for (const PortSetup& p : l.ports) {
    ASSERT_EQ(p.queues.size(), 1u) << p.name;
    EXPECT_FALSE(p.queues[0].file_replay);
    sources.push_back(std::make_unique<DpdkSource>(p, p.queues[0], false));
  }
  EXPECT_EQ(l.ports[0].driver, "net_af_packet");
  EXPECT_EQ(l.ports[1].driver, "net_pcap");

  std::string file = testing::DataDir() + "/" + kCapture;
  auto ref = testing::ReadWithLibpcap(file, PCAP_TSTAMP_PRECISION_MICRO);
  ASSERT_TRUE(ref.error.empty()) << ref.error;
  FrameBag want;
  for (const auto& f : ref.frames) ++want[f.bytes];

  std::atomic<bool> replay_done{false};
  std::atomic<int> replay_rc{-1};
  std::thread replay([&] {
    replay_rc = Sh("ip netns exec " + l.ns + " tcpreplay -q --pps=4000 -i " + l.tx_if + " " + file);
    replay_done = true;
  });
  std::vector<FrameBag> got(sources.size());
  std::vector<uint64_t> counts(sources.size(), 0);
  Frame burst[kBurstSize];
  auto quiet_since = std::chrono::steady_clock::now();
  auto deadline = quiet_since + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    bool any = false;
    for (size_t s = 0; s < sources.size(); ++s) {
      auto n = sources[s]->NextBurst(burst);
      ASSERT_TRUE(n.ok()) << n.status();
      for (size_t i = 0; i < *n; ++i) {
        ++got[s][std::vector<uint8_t>(burst[i].data, burst[i].data + burst[i].caplen)];
        EXPECT_EQ(burst[i].link, LinkType::kEthernet);
        EXPECT_GT(burst[i].ts_ns, 1600000000ull * 1000000000ull) << "wall-clock time";
      }
      counts[s] += *n;
      any = any || *n > 0;
    }
    if (any) quiet_since = std::chrono::steady_clock::now();
    if (replay_done && std::chrono::steady_clock::now() - quiet_since > std::chrono::seconds(1)) {
      break;
    }
    if (!any) std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  replay.join();
  ASSERT_EQ(replay_rc.load(), 0) << "tcpreplay failed";
  for (size_t s = 0; s < sources.size(); ++s) {
    SCOPED_TRACE(sources[s]->Name());
    uint64_t missing = 0, extra = 0;
    for (const auto& [bytes, n] : want) {
      auto it = got[s].find(bytes);
      int have = it == got[s].end() ? 0 : it->second;
      if (have < n) missing += static_cast<uint64_t>(n - have);
    }
    for (const auto& [bytes, n] : got[s]) {
      auto it = want.find(bytes);
      int expected = it == want.end() ? 0 : it->second;
      if (n > expected) extra += static_cast<uint64_t>(n - expected);
    }
    EXPECT_EQ(missing, 0u) << "of " << ref.frames.size() << " replayed frames";
    EXPECT_EQ(extra, 0u) << "frames captured that were not replayed";
    EXPECT_EQ(counts[s], ref.frames.size());
    capture::SourceStats st = sources[s]->Stats();
    EXPECT_EQ(st.frames, counts[s]);
    EXPECT_EQ(st.kernel_drops, 0u);
  }
  for (auto& s : sources) s->Release();
  ClosePorts(l.ports);
  l.ports.clear();
}

}  // namespace
}  // namespace callvault::dpdk
