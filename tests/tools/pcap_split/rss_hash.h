// Symmetric RSS as a NIC computes it, for splitting one capture into the captures of N RX
// queues (pcap_split; tests and the multi-worker bench, docs/DPDK.md).
//
// Input: one frame's bytes and its pcap link type (Ethernet with any number of VLAN/QinQ
// tags 0x8100/0x88a8/0x9100, Linux SLL/SLL2, raw IPv4/IPv6, BSD null/loop). Output: the
// Toeplitz hash (Microsoft RSS) with the symmetric key (0x6d5a repeated, the key
// dpdk_app/port.cc programs), over what the NIC hashes:
//  - IPv4/IPv6 UDP or TCP, not fragmented: src addr, dst addr, src port, dst port;
//  - IPv4 fragments (MF set or offset != 0), IPv6 with a Fragment header, and every other
//    IP protocol: src addr, dst addr only;
//  - not IP (ARP, PPPoE, MPLS, unknown link type, truncated): no hash (queue 0).
// The key's 16-bit period makes the hash symmetric (swapping the addresses shifts them by
// 32 or 128 bits, the ports by 16), so both directions of a flow go to one queue. It also
// makes the hash a function of the XOR of the input's 16-bit words only, so flows between
// the same two hosts differ by (src port ^ dst port) alone: a call's SIP and RTP often,
// not always, land on different queues (a real NIC with this key does the same). Queue: RETA filled round robin
// (entry i -> queue i % N, 128 entries, as DPDK's default), queue = (hash & 127) % N.
// Tunnels are not looked into (a NIC hashes the outer header). Pure functions, no state.
#ifndef CALLVAULT_TESTS_TOOLS_PCAP_SPLIT_RSS_HASH_H_
#define CALLVAULT_TESTS_TOOLS_PCAP_SPLIT_RSS_HASH_H_

#include <cstdint>
#include <optional>
#include <span>

namespace callvault::pcapsplit {

// The 32-bit Toeplitz hash of `input` under `key` (key.size() >= input.size() + 4).
uint32_t Toeplitz(std::span<const uint8_t> key, std::span<const uint8_t> input);

// The symmetric RSS hash of a frame of pcap link type `dlt`, or nullopt (not IP).
std::optional<uint32_t> SymmetricRssHash(int dlt, std::span<const uint8_t> frame);

// The RX queue (of `queues`) a frame with this hash lands on; no hash -> 0.
unsigned RssQueue(std::optional<uint32_t> hash, unsigned queues);

}  // namespace callvault::pcapsplit

#endif  // CALLVAULT_TESTS_TOOLS_PCAP_SPLIT_RSS_HASH_H_
