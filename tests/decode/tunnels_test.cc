// Real frames, re-wrapped: every frame of a public capture is decoded plain and again
// inside QinQ, MPLS, GRE, ERSPAN II/III, VXLAN and IP-in-IP built here (no public capture
// of those exists in tests/data); the inner view must be identical.
#include <gtest/gtest.h>

#include <array>
#include <cstdlib>
#include <string>

#include "appliance/capture/pcap_source.h"
#include "appliance/decode/decoder.h"
#include "appliance/decode/test_frames.h"

namespace callvault::decode {
namespace {

using namespace callvault::decode::testing;  // NOLINT

std::string Data(const std::string& name) {
  const char* dir = std::getenv("CALLVAULT_TEST_DATA");
  return std::string(dir ? dir : "tests/data") + "/" + name;
}

const uint8_t kOa[4] = {198, 51, 100, 1}, kOb[4] = {198, 51, 100, 2};

Bytes Outer(uint8_t proto, const Bytes& payload) {
  return Cat(Ether(0x0800), Ipv4(proto, payload, {}, kOa, kOb));
}

// Wraps an Ethernet frame `eth` in encapsulation `kind`.
Bytes Wrap(int kind, const Bytes& eth) {
  Bytes l3(eth.begin() + 14, eth.end());
  uint16_t type = uint16_t((eth[12] << 8) | eth[13]);
  switch (kind) {
    case 0:  // QinQ
      return Cat(Cat(Cat(Ether(0x88a8), Vlan(10, 0x8100)), Vlan(20, type)), l3);
    case 1:  // MPLS, two labels, IPv4 payload guessed by the version nibble
      return Cat(Cat(Ether(0x8847), Bytes{0, 1, 0, 64, 0, 2, 1, 64}), l3);
    case 2:  // GRE with key, transparent Ethernet bridging
      return Outer(47, Cat(Bytes{0x20, 0, 0x65, 0x58, 0, 0, 0, 9}, eth));
    case 3:  // ERSPAN II
      return Outer(47, Cat(Bytes{0x10, 0, 0x88, 0xbe, 0, 0, 0, 1, 0x10, 0, 0, 3, 0, 0, 0, 0},
                           eth));
    case 4:  // ERSPAN III with platform subheader
      return Outer(47, Cat(Cat(Bytes{0x10, 0, 0x22, 0xeb, 0, 0, 0, 1, 0x20, 0, 0, 4, 0, 0, 0,
                                     0, 0, 0, 0, 1},
                               Bytes(8, 0)),
                           eth));
    case 5:  // VXLAN, UDP checksum 0
      return Outer(17, Udp(40000, 4789, Cat(Bytes{8, 0, 0, 0, 0, 0, 5, 0}, eth), -1));
    default:  // IP-in-IP
      return Outer(4, l3);
  }
}

TEST(DecodeTunnels, RewrappedCaptureDecodesIdentically) {
  // sipnab_rtp-protocol_prack.pcap: 259 Ethernet/IPv4/UDP frames (SIP + RTP + RTCP).
  auto src = capture::OpenPcapFile(Data("sipnab_rtp-protocol_prack.pcap"));
  ASSERT_TRUE(src.ok()) << src.status();
  DecodeConfig cfg;
  Decoder plain(cfg), wrapped(cfg);
  std::array<Frame, kBurstSize> burst;
  uint64_t compared = 0;
  for (;;) {
    absl::StatusOr<size_t> n = (*src)->NextBurst(burst);
    if (!n.ok()) break;
    for (size_t i = 0; i < *n; ++i) {
      DecodedPacket a;
      ASSERT_EQ(plain.Decode(burst[i], &a), DecodeDrop::kOk);
      Bytes eth(burst[i].data, burst[i].data + burst[i].caplen);
      for (int kind = 0; kind < 7; ++kind) {
        Bytes w = Wrap(kind, eth);
        Frame f = burst[i];
        f.data = w.data();
        f.caplen = f.wirelen = static_cast<uint32_t>(w.size());
        DecodedPacket b;
        ASSERT_EQ(wrapped.Decode(f, &b), DecodeDrop::kOk) << "kind " << kind;
        EXPECT_EQ(a.src, b.src);
        EXPECT_EQ(a.dst, b.dst);
        EXPECT_EQ(a.l4, b.l4);
        EXPECT_EQ(a.bad_checksum, b.bad_checksum);
        ASSERT_EQ(a.payload.size(), b.payload.size());
        EXPECT_TRUE(std::equal(a.payload.begin(), a.payload.end(), b.payload.begin()));
        ++compared;
      }
    }
  }
  EXPECT_EQ(compared, 259u * 7u);
  const DecodeStats& s = wrapped.stats();
  EXPECT_EQ(s[Proto::kQinq].packets, 259u);
  EXPECT_EQ(s[Proto::kMpls].packets, 2u * 259u);
  EXPECT_EQ(s[Proto::kGre].packets, 3u * 259u);
  EXPECT_EQ(s[Proto::kErspan2].packets, 259u);
  EXPECT_EQ(s[Proto::kErspan3].packets, 259u);
  EXPECT_EQ(s[Proto::kVxlan].packets, 259u);
  EXPECT_EQ(s[Proto::kIpInIp].packets, 259u);
  EXPECT_EQ(s.drops.Total(), 0u);
}

}  // namespace
}  // namespace callvault::decode
