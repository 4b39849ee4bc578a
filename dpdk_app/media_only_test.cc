// MediaOnlyFilter: which frames the capture-order gate may let past other workers'
// media (media_only.h). Frames are built byte by byte: Ethernet, VLAN tags, IPv4/IPv6,
// UDP, first payload byte.
#include "dpdk_app/media_only.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace callvault::dpdk {
namespace {

struct Spec {
  std::vector<uint16_t> tags;  // TPIDs: 0x8100 / 0x88a8
  bool ipv6 = false;
  uint8_t proto = 17;
  uint16_t frag = 0;  // IPv4 flags + offset field
  uint8_t ihl = 5;
  uint16_t sport = 40000;
  uint16_t dport = 40002;
  std::vector<uint8_t> payload = {0x80, 0x00};
};

std::vector<uint8_t> Build(const Spec& s) {
  std::vector<uint8_t> f(12, 0x02);  // MACs
  auto be16 = [&f](uint16_t v) {
    f.push_back(uint8_t(v >> 8));
    f.push_back(uint8_t(v));
  };
  for (uint16_t tpid : s.tags) {
    be16(tpid);
    be16(100);  // VLAN id
  }
  if (s.ipv6) {
    be16(0x86dd);
    f.push_back(0x60);
    f.insert(f.end(), 5, 0);
    f.push_back(s.proto);  // next header
    f.push_back(64);
    f.insert(f.end(), 32, 0x20);  // addresses
  } else {
    be16(0x0800);
    f.push_back(uint8_t(0x40 | s.ihl));
    f.insert(f.end(), 5, 0);
    be16(s.frag);
    f.push_back(64);
    f.push_back(s.proto);
    f.insert(f.end(), 2, 0);      // checksum
    f.insert(f.end(), 8, 0x0a);   // addresses
    if (s.ihl > 5) f.insert(f.end(), size_t(s.ihl - 5) * 4, 1);  // options
  }
  be16(s.sport);
  be16(s.dport);
  be16(uint16_t(8 + s.payload.size()));
  be16(0);
  f.insert(f.end(), s.payload.begin(), s.payload.end());
  return f;
}

bool Media(const Spec& s, std::vector<uint16_t> sip = {5060}) {
  const MediaOnlyFilter filter(sip);
  const std::vector<uint8_t> bytes = Build(s);
  Frame f;
  f.data = bytes.data();
  f.caplen = f.wirelen = static_cast<uint32_t>(bytes.size());
  return filter.IsMediaOnly(f);
}

TEST(MediaOnly, RtpAndRtcpOverUdpAreMediaOnly) {
  EXPECT_TRUE(Media({}));
  Spec rtcp;
  rtcp.payload = {0x81, 200};
  EXPECT_TRUE(Media(rtcp));
  Spec v6;
  v6.ipv6 = true;
  EXPECT_TRUE(Media(v6));
  Spec opts;
  opts.ihl = 6;
  EXPECT_TRUE(Media(opts));
  Spec top;
  top.payload = {0xbf};
  EXPECT_TRUE(Media(top));
}

TEST(MediaOnly, UpToTwoVlanTags) {
  Spec one;
  one.tags = {0x8100};
  EXPECT_TRUE(Media(one));
  Spec qinq;
  qinq.tags = {0x88a8, 0x8100};
  EXPECT_TRUE(Media(qinq));
  Spec three;
  three.tags = {0x88a8, 0x8100, 0x8100};
  EXPECT_FALSE(Media(three));
}

TEST(MediaOnly, SipPortsEitherWayMayCarrySignalling) {
  Spec to;
  to.dport = 5060;
  EXPECT_FALSE(Media(to));
  Spec from;
  from.sport = 5060;
  EXPECT_FALSE(Media(from));
  Spec other;
  other.dport = 5080;
  EXPECT_TRUE(Media(other));
  EXPECT_FALSE(Media(other, {5060, 5080}));  // sip.ports as configured
  EXPECT_TRUE(Media(to, {}));                // no SIP port: only the payload decides
}

TEST(MediaOnly, OtherPayloadsMayCarrySignalling) {
  for (uint8_t b : {uint8_t('I'), uint8_t('S'), uint8_t(0x00), uint8_t(0x40), uint8_t(0x7f),
                    uint8_t(0xc0), uint8_t(0xff)}) {
    Spec s;
    s.payload = {b, 0x20};
    EXPECT_FALSE(Media(s)) << int(b);
  }
  Spec empty;
  empty.payload.clear();  // no first byte
  EXPECT_FALSE(Media(empty));
}

TEST(MediaOnly, NonUdpFragmentsAndOtherHeadersMayCarrySignalling) {
  Spec tcp;
  tcp.proto = 6;
  EXPECT_FALSE(Media(tcp));
  Spec mf;
  mf.frag = 0x2000;  // more fragments
  EXPECT_FALSE(Media(mf));
  Spec later;
  later.frag = 0x0010;  // offset != 0
  EXPECT_FALSE(Media(later));
  Spec df;
  df.frag = 0x4000;  // don't fragment: not a fragment
  EXPECT_TRUE(Media(df));
  Spec v6ext;
  v6ext.ipv6 = true;
  v6ext.proto = 44;  // fragment header
  EXPECT_FALSE(Media(v6ext));
  Spec gre;
  gre.proto = 47;
  EXPECT_FALSE(Media(gre));
}

TEST(MediaOnly, ShortFramesAndOtherLinkTypesMayCarrySignalling) {
  const MediaOnlyFilter filter(std::vector<uint16_t>{5060});
  Spec one_byte;
  one_byte.payload = {0x80};
  const std::vector<uint8_t> bytes = Build(one_byte);
  for (size_t len = 0; len < bytes.size(); ++len) {
    EXPECT_FALSE(filter.IsMediaOnlyEthernet(bytes.data(), len)) << len;
  }
  EXPECT_TRUE(filter.IsMediaOnlyEthernet(bytes.data(), bytes.size()));
  Frame f;
  f.data = bytes.data();
  f.caplen = static_cast<uint32_t>(bytes.size());
  f.link = LinkType::kRaw;
  EXPECT_FALSE(filter.IsMediaOnly(f));
  std::vector<uint8_t> arp = bytes;
  arp[12] = 0x08;
  arp[13] = 0x06;
  EXPECT_FALSE(filter.IsMediaOnlyEthernet(arp.data(), arp.size()));
}

}  // namespace
}  // namespace callvault::dpdk
