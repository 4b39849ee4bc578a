#include "dpdk_app/port.h"

#include <pcap/pcap.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <algorithm>
#include <array>
#include <map>

#include <fmt/format.h>

#include "appliance/common/status.h"
#include "appliance/config/config.h"

namespace callvault::dpdk {

namespace {

// Symmetric RSS (Woo & Park, "Scalable TCP Session Monitoring with Symmetric Receive-side
// Scaling"): with 0x6d5a repeated, Toeplitz(src,dst) == Toeplitz(dst,src).
std::array<uint8_t, 52> SymmetricRssKey() {
  std::array<uint8_t, 52> key{};
  for (size_t i = 0; i < key.size(); ++i) key[i] = (i % 2 == 0) ? 0x6d : 0x5a;
  return key;
}

absl::Status DpdkError(int ret, const std::string& what) {
  int err = ret < 0 ? -ret : ret;
  return absl::InternalError(fmt::format("{}: {}", what, rte_strerror(err)));
}

// Reads the link type of a file replayed by net_pcap (libpcap also reads pcapng). Not
// through pcap_open_offline(), which callvaultd gives the driver (net_pcap_file.h): only
// the header is read here.
absl::StatusOr<LinkType> FileLinkType(const std::string& path, const std::string& where) {
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_MICRO,
                                                       errbuf);
  if (p == nullptr) {
    return absl::NotFoundError(fmt::format("{}: open {}: {}", where, path, errbuf));
  }
  int dlt = pcap_datalink(p);
  pcap_close(p);
  LinkType link;
  if (!LinkTypeFromDlt(dlt, &link)) {
    const char* name = pcap_datalink_val_to_name(dlt);
    return absl::InvalidArgumentError(fmt::format(
        "{}: {} has link type {} ({}), which callvault does not decode", where, path, dlt,
        name != nullptr ? name : "unknown"));
  }
  return link;
}

absl::StatusOr<rte_mempool*> PoolForSocket(int socket, const PortOptions& o,
                                           std::map<int, rte_mempool*>* pools) {
  auto it = pools->find(socket);
  if (it != pools->end()) return it->second;
  std::string name = fmt::format("cv_mbuf_s{}", socket);
  rte_mempool* pool = rte_mempool_lookup(name.c_str());
  if (pool == nullptr) {
    pool = rte_pktmbuf_pool_create(name.c_str(), o.mbufs, o.mbuf_cache, 0,
                                   RTE_MBUF_DEFAULT_BUF_SIZE, socket);
  }
  if (pool == nullptr) {
    return absl::ResourceExhaustedError(fmt::format(
        "mbuf pool {} ({} mbufs of {} bytes on socket {}): {} (lower dpdk.mbufs or give EAL "
        "more memory with -m)",
        name, o.mbufs, RTE_MBUF_DEFAULT_BUF_SIZE, socket, rte_strerror(rte_errno)));
  }
  (*pools)[socket] = pool;
  return pool;
}

absl::StatusOr<PortSetup> SetUpPort(uint16_t port, const PortOptions& o,
                                    std::map<int, rte_mempool*>* pools) {
  PortSetup ps;
  ps.port = port;
  char name[RTE_ETH_NAME_MAX_LEN] = {};
  if (rte_eth_dev_get_name_by_port(port, name) == 0) ps.name = name;
  std::string where = fmt::format("port {} ({})", port, ps.name);

  rte_eth_dev_info info{};
  int ret = rte_eth_dev_info_get(port, &info);
  if (ret != 0) return DpdkError(ret, where + ": rte_eth_dev_info_get");
  ps.driver = info.driver_name != nullptr ? info.driver_name : "";
  ps.clock = ps.driver == "net_pcap" ? ClockSource::kPcapMicros : ClockSource::kTsc;
  ps.socket = rte_eth_dev_socket_id(port);
  if (ps.socket < 0) ps.socket = 0;

  const VdevSpec* vdev = nullptr;
  for (const VdevSpec& v : o.vdevs) {
    if (v.name == ps.name) vdev = &v;
  }

  uint64_t rss_hf = info.flow_type_rss_offloads &
                    (RTE_ETH_RSS_IP | RTE_ETH_RSS_NONFRAG_IPV4_UDP | RTE_ETH_RSS_NONFRAG_IPV4_TCP |
                     RTE_ETH_RSS_NONFRAG_IPV6_UDP | RTE_ETH_RSS_NONFRAG_IPV6_TCP);
  ps.rss = rss_hf != 0 && info.max_rx_queues > 1;
  uint16_t nq;
  if (ps.rss) {
    nq = static_cast<uint16_t>(std::min<uint32_t>(o.rx_queues, info.max_rx_queues));
  } else {
    // Each queue of a PMD without RSS is an input of its own (a file, a qpair): read all.
    nq = static_cast<uint16_t>(std::min<uint32_t>(std::max<uint16_t>(info.max_rx_queues, 1), 64));
  }

  rte_eth_conf conf{};
  auto key = SymmetricRssKey();
  if (ps.rss) {
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_key = key.data();
    conf.rx_adv_conf.rss_conf.rss_key_len = info.hash_key_size != 0 ? info.hash_key_size : 40;
    if (conf.rx_adv_conf.rss_conf.rss_key_len > key.size()) {
      return absl::FailedPreconditionError(
          fmt::format("{}: RSS key size {} not supported", where, info.hash_key_size));
    }
    conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
  }
  if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TIMESTAMP) {
    conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TIMESTAMP;
  }
  if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER) {
    conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_SCATTER;
  }
  uint16_t ntx = 0;
  ret = rte_eth_dev_configure(port, nq, ntx, &conf);
  if (ret != 0) {
    ntx = 1;  // some PMDs will not start without a TX queue
    ret = rte_eth_dev_configure(port, nq, ntx, &conf);
  }
  if (ret != 0) return DpdkError(ret, fmt::format("{}: configure {} RX queues", where, nq));

  if (conf.rxmode.offloads & RTE_ETH_RX_OFFLOAD_SCATTER) {
    // Best effort: SPAN ports carry jumbo frames; a PMD that refuses keeps its MTU.
    (void)rte_eth_dev_set_mtu(port, static_cast<uint16_t>(std::min<uint32_t>(info.max_mtu, 9000)));
  }

  uint16_t nb_rxd = static_cast<uint16_t>(std::min<uint32_t>(o.rx_descriptors, 32768));
  uint16_t nb_txd = 512;
  ret = rte_eth_dev_adjust_nb_rx_tx_desc(port, &nb_rxd, &nb_txd);
  if (ret != 0) return DpdkError(ret, where + ": adjust descriptors");

  ASSIGN_OR_RETURN(ps.pool, PoolForSocket(ps.socket, o, pools));

  rte_eth_rxconf rxconf = info.default_rxconf;
  rxconf.offloads = conf.rxmode.offloads;
  std::vector<std::string> files;
  if (vdev != nullptr) files = vdev->Values("rx_pcap");
  bool replay = vdev != nullptr && vdev->IsFileReplay();
  for (uint16_t q = 0; q < nq; ++q) {
    ret = rte_eth_rx_queue_setup(port, q, nb_rxd, static_cast<unsigned>(ps.socket), &rxconf,
                                 ps.pool);
    if (ret != 0) return DpdkError(ret, fmt::format("{}: RX queue {} set-up", where, q));
    RxQueueSpec qs;
    qs.port = port;
    qs.queue = q;
    if (q < files.size()) {
      qs.input = files[q];
      ASSIGN_OR_RETURN(qs.link, FileLinkType(files[q], fmt::format("{} queue {}", where, q)));
      qs.file_replay = replay;
    } else if (vdev != nullptr) {
      for (const char* k : {"iface", "rx_iface", "rx_iface_in"}) {
        auto v = vdev->Values(k);
        if (!v.empty()) qs.input = v.front();
      }
    }
    ps.queues.push_back(qs);
  }
  for (uint16_t q = 0; q < ntx; ++q) {
    ret = rte_eth_tx_queue_setup(port, q, nb_txd, static_cast<unsigned>(ps.socket), nullptr);
    if (ret != 0) return DpdkError(ret, fmt::format("{}: TX queue {} set-up", where, q));
  }
  ret = rte_eth_dev_start(port);
  if (ret != 0) return DpdkError(ret, where + ": start");
  ret = rte_eth_promiscuous_enable(port);
  if (ret != 0 && ret != -ENOTSUP) return DpdkError(ret, where + ": promiscuous mode");
  ret = rte_eth_allmulticast_enable(port);
  if (ret != 0 && ret != -ENOTSUP) return DpdkError(ret, where + ": all-multicast mode");
  return ps;
}

}  // namespace

bool LinkTypeFromDlt(int dlt, LinkType* out) {
  switch (dlt) {
    case DLT_NULL: *out = LinkType::kNull; return true;
    case DLT_EN10MB: *out = LinkType::kEthernet; return true;
    case DLT_RAW: *out = LinkType::kRaw; return true;
#if defined(DLT_LOOP)
    case DLT_LOOP: *out = LinkType::kLoop; return true;
#endif
    case DLT_LINUX_SLL: *out = LinkType::kLinuxSll; return true;
#if defined(DLT_IPV4)
    case DLT_IPV4: *out = LinkType::kIpv4; return true;
    case DLT_IPV6: *out = LinkType::kIpv6; return true;
#endif
#if defined(DLT_LINUX_SLL2)
    case DLT_LINUX_SLL2: *out = LinkType::kLinuxSll2; return true;
#endif
    default: return false;
  }
}

PortOptions PortOptionsFromConfig(const Config& config) {
  PortOptions o;
  o.ports = config.dpdk.ports;
  o.rx_queues = config.capture.rx_queues;
  o.mbufs = config.dpdk.mbufs;
  o.mbuf_cache = config.dpdk.mbuf_cache;
  o.rx_descriptors = config.dpdk.rx_descriptors;
  o.vdevs = VdevsFromEalArgs(config.dpdk.eal_args);
  return o;
}

absl::StatusOr<std::vector<PortSetup>> SetUpPorts(const PortOptions& options) {
  std::vector<uint16_t> ids = options.ports;
  if (ids.empty()) {
    uint16_t p;
    RTE_ETH_FOREACH_DEV(p) { ids.push_back(p); }
  }
  if (ids.empty()) {
    return absl::FailedPreconditionError(
        "no DPDK port: bind a NIC to vfio-pci (scripts/dpdk-setup-nic) or add a --vdev to "
        "dpdk.eal_args");
  }
  std::map<int, rte_mempool*> pools;
  std::vector<PortSetup> out;
  for (uint16_t id : ids) {
    if (!rte_eth_dev_is_valid_port(id)) {
      ClosePorts(out);
      return absl::NotFoundError(fmt::format("dpdk.ports: port {} does not exist ({} ports)", id,
                                             rte_eth_dev_count_avail()));
    }
    auto ps = SetUpPort(id, options, &pools);
    if (!ps.ok()) {
      ClosePorts(out);
      return ps.status();
    }
    out.push_back(std::move(*ps));
  }
  return out;
}

void ClosePorts(const std::vector<PortSetup>& ports) {
  for (const PortSetup& p : ports) {
    (void)rte_eth_dev_stop(p.port);
    (void)rte_eth_dev_close(p.port);
  }
}

}  // namespace callvault::dpdk
