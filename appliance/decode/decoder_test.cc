#include "appliance/decode/decoder.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "appliance/decode/checksum.h"
#include "appliance/decode/test_frames.h"

namespace callvault::decode {
namespace {

using namespace callvault::decode::testing;  // NOLINT

class DecoderTest : public ::testing::Test {
 protected:
  DecodeDrop Run(const Bytes& b, LinkType link = LinkType::kEthernet, uint64_t ts = 1000) {
    frame_ = Frame{};
    frame_.data = b.data();
    frame_.caplen = frame_.wirelen = static_cast<uint32_t>(b.size());
    frame_.ts_ns = ts;
    frame_.link = link;
    return dec_.Decode(frame_, &pkt_);
  }
  std::string Payload() const { return std::string(pkt_.payload.begin(), pkt_.payload.end()); }

  DecodeConfig cfg_;
  Decoder dec_{cfg_};
  Frame frame_;
  DecodedPacket pkt_;
};

TEST_F(DecoderTest, EthernetIpv4UdpRtp) {
  Bytes f = RtpFrame(7);
  ASSERT_EQ(f.size(), 214u);
  ASSERT_EQ(Run(f), DecodeDrop::kOk);
  EXPECT_EQ(pkt_.ip_version, 4);
  EXPECT_EQ(pkt_.l4, L4Proto::kUdp);
  EXPECT_EQ(pkt_.ip_proto, 17);
  EXPECT_EQ(pkt_.src.ToString(), "10.0.0.1:16384");
  EXPECT_EQ(pkt_.dst.ToString(), "192.168.1.20:16386");
  EXPECT_EQ(pkt_.l3.data(), f.data() + 14);
  EXPECT_EQ(pkt_.l3.size(), 200u);
  EXPECT_EQ(pkt_.payload.data(), f.data() + 42);
  EXPECT_EQ(pkt_.payload.size(), 172u);
  EXPECT_FALSE(pkt_.bad_checksum);
  EXPECT_FALSE(pkt_.reassembled);
  EXPECT_EQ(pkt_.tunnel, TunnelKind::kNone);
  EXPECT_EQ(pkt_.frame, &frame_);
  const DecodeStats& s = dec_.stats();
  EXPECT_EQ(s.frames, 1u);
  EXPECT_EQ(s.decoded, 1u);
  EXPECT_EQ(s[Proto::kEthernet].packets, 1u);
  EXPECT_EQ(s[Proto::kEthernet].bytes, 214u);
  EXPECT_EQ(s[Proto::kIpv4].bytes, 200u);
  EXPECT_EQ(s[Proto::kUdp].bytes, 180u);
  EXPECT_EQ(s.drops.Total(), 0u);
  EXPECT_EQ(s.bad_ipv4_checksum + s.bad_udp_checksum, 0u);
}

TEST_F(DecoderTest, BadChecksumsAreCountedNeverDropped) {
  V4Opts o;
  o.bad_checksum = true;
  ASSERT_EQ(Run(Cat(Ether(0x0800), Ipv4(17, Udp4(1, 2, Text("x")), o))), DecodeDrop::kOk);
  EXPECT_TRUE(pkt_.bad_checksum);
  EXPECT_EQ(dec_.stats().bad_ipv4_checksum, 1u);

  Bytes udp = Udp4(1, 2, Text("hello"));
  udp[7] ^= 1;
  ASSERT_EQ(Run(Cat(Ether(0x0800), Ipv4(17, udp))), DecodeDrop::kOk);
  EXPECT_TRUE(pkt_.bad_checksum);
  EXPECT_EQ(dec_.stats().bad_udp_checksum, 1u);

  // Zero UDP checksum over IPv4 is "no checksum" (RFC 768), not bad.
  ASSERT_EQ(Run(Cat(Ether(0x0800), Ipv4(17, Udp(1, 2, Text("odd"), -1)))), DecodeDrop::kOk);
  EXPECT_FALSE(pkt_.bad_checksum);
  EXPECT_EQ(dec_.stats().udp_no_checksum, 1u);
  EXPECT_EQ(Payload(), "odd");

  // ... but over IPv6 it is bad (RFC 8200 §8.1).
  ASSERT_EQ(Run(Cat(Ether(0x86dd), Ipv6(17, Udp(1, 2, Text("v6"), -1)))), DecodeDrop::kOk);
  EXPECT_TRUE(pkt_.bad_checksum);
  EXPECT_EQ(dec_.stats().bad_udp_checksum, 2u);

  Bytes tcp = Tcp4(1, 2, 3, 4, kTcpAck, Text("abc"));
  tcp[20] ^= 0xff;
  ASSERT_EQ(Run(Cat(Ether(0x0800), Ipv4(6, tcp))), DecodeDrop::kOk);
  EXPECT_EQ(dec_.stats().bad_tcp_checksum, 1u);
  EXPECT_EQ(dec_.stats().drops.Total(), 0u);
}

// [decode] verify_checksums = false: UDP/TCP checksums are not verified (nor counted);
// the IPv4 header checksum still is.
TEST(DecoderConfig, VerifyChecksumsOff) {
  DecodeConfig cfg;
  cfg.verify_checksums = false;
  Decoder dec(cfg);
  Bytes udp = Udp4(1, 2, Text("hello"));
  udp[7] ^= 1;
  Bytes tcp = Tcp4(1, 2, 3, 4, kTcpAck, Text("abc"));
  tcp[20] ^= 0xff;
  V4Opts bad_ip;
  bad_ip.bad_checksum = true;
  for (const Bytes& b : {Cat(Ether(0x0800), Ipv4(17, udp)), Cat(Ether(0x0800), Ipv4(6, tcp)),
                         Cat(Ether(0x0800), Ipv4(17, Udp4(1, 2, Text("x")), bad_ip))}) {
    Frame f;
    f.data = b.data();
    f.caplen = f.wirelen = uint32_t(b.size());
    DecodedPacket pkt;
    ASSERT_EQ(dec.Decode(f, &pkt), DecodeDrop::kOk);
  }
  EXPECT_EQ(dec.stats().bad_udp_checksum, 0u);
  EXPECT_EQ(dec.stats().bad_tcp_checksum, 0u);
  EXPECT_EQ(dec.stats().bad_ipv4_checksum, 1u);
}

TEST_F(DecoderTest, EthernetPaddingIsIgnored) {
  Bytes f = Cat(Ether(0x0800), Ipv4(17, Udp4(5060, 5060, Text("hi"))));
  f.resize(60, 0xee);
  ASSERT_EQ(Run(f), DecodeDrop::kOk);
  EXPECT_EQ(Payload(), "hi");
  EXPECT_EQ(pkt_.l3.size(), 30u);
  EXPECT_FALSE(pkt_.bad_checksum);
}

TEST_F(DecoderTest, VlanAndQinq) {
  Bytes inner = Ipv4(17, Udp4(1000, 2000, Text("v")));
  ASSERT_EQ(Run(Cat(Cat(Ether(0x8100), Vlan(42, 0x0800)), inner)), DecodeDrop::kOk);
  EXPECT_EQ(pkt_.vlan_count, 1);
  EXPECT_EQ(pkt_.vlan[0], 42);
  EXPECT_EQ(pkt_.vlan[1], 0);

  Bytes qinq = Cat(Cat(Cat(Ether(0x88a8), Vlan(100, 0x8100)), Vlan(200, 0x0800)), inner);
  ASSERT_EQ(Run(qinq), DecodeDrop::kOk);
  EXPECT_EQ(pkt_.vlan_count, 2);
  EXPECT_EQ(pkt_.vlan[0], 100);
  EXPECT_EQ(pkt_.vlan[1], 200);
  EXPECT_EQ(pkt_.src.port, 1000);
  EXPECT_EQ(dec_.stats()[Proto::kQinq].packets, 1u);
  EXPECT_EQ(dec_.stats()[Proto::kVlan].packets, 2u);

  Bytes three = Cat(Cat(Cat(Cat(Ether(0x9100), Vlan(1, 0x88a8)), Vlan(2, 0x8100)),
                        Vlan(3, 0x0800)), inner);
  ASSERT_EQ(Run(three), DecodeDrop::kOk);
  EXPECT_EQ(pkt_.vlan_count, 3);

  Bytes many = Ether(0x8100);
  for (int i = 0; i < Decoder::kMaxTags; ++i) many = Cat(many, Vlan(uint16_t(i + 1), 0x8100));
  many = Cat(Cat(many, Vlan(99, 0x0800)), inner);
  EXPECT_EQ(Run(many), DecodeDrop::kTooManyTags);
}

TEST_F(DecoderTest, NonIpEthertypes) {
  EXPECT_EQ(Run(Cat(Ether(0x0806), Pattern(28))), DecodeDrop::kArp);
  EXPECT_EQ(Run(Cat(Ether(0x0026), Pattern(38))), DecodeDrop::kLlc);
  EXPECT_EQ(Run(Cat(Ether(0x88cc), Pattern(38))), DecodeDrop::kUnknownEthertype);
  EXPECT_EQ(dec_.stats().drops[DecodeDrop::kArp], 1u);
  EXPECT_EQ(dec_.stats().drops.Total(), 3u);
}

TEST_F(DecoderTest, Mpls) {
  Bytes inner4 = Ipv4(17, Udp4(1, 5060, Text("m4")));
  Bytes labels = {0x00, 0x01, 0x00, 0x40, 0x00, 0x02, 0x01, 0x40};  // 16, 32 (bottom)
  ASSERT_EQ(Run(Cat(Cat(Ether(0x8847), labels), inner4)), DecodeDrop::kOk);
  EXPECT_EQ(pkt_.mpls_labels, 2);
  EXPECT_EQ(Payload(), "m4");

  Bytes one = {0x00, 0x01, 0x01, 0x40};
  ASSERT_EQ(Run(Cat(Cat(Ether(0x8847), one), Ipv6(17, Udp6(1, 5060, Text("m6"))))),
            DecodeDrop::kOk);
  EXPECT_EQ(pkt_.ip_version, 6);
  EXPECT_EQ(Payload(), "m6");

  // Ethernet pseudowire with a control word.
  Bytes pw = Cat(Cat(one, Bytes{0, 0, 0, 0}), Cat(Ether(0x0800), inner4));
  ASSERT_EQ(Run(Cat(Ether(0x8847), pw)), DecodeDrop::kOk);
  EXPECT_EQ(Payload(), "m4");

  EXPECT_EQ(Run(Cat(Cat(Ether(0x8847), one), Bytes{0x55, 1, 2, 3})), DecodeDrop::kMplsNoIp);
  Bytes deep = Ether(0x8847);
  for (int i = 0; i < 9; ++i) deep = Cat(deep, Bytes{0, 1, 0, 64});
  EXPECT_EQ(Run(Cat(deep, inner4)), DecodeDrop::kTooManyTags);
}

Bytes Pppoe(uint16_t ppp, const Bytes& inner) {
  Bytes b = {0x11, 0x00, 0x12, 0x34};
  Put16(b, uint16_t(inner.size() + 2));
  Put16(b, ppp);
  return Cat(b, inner);
}

TEST_F(DecoderTest, PppoeSession) {
  ASSERT_EQ(Run(Cat(Ether(0x8864), Pppoe(0x0021, Ipv4(17, Udp4(1, 2, Text("p4")))))),
            DecodeDrop::kOk);
  EXPECT_EQ(Payload(), "p4");
  ASSERT_EQ(Run(Cat(Ether(0x8864), Pppoe(0x0057, Ipv6(17, Udp6(1, 2, Text("p6")))))),
            DecodeDrop::kOk);
  EXPECT_EQ(Payload(), "p6");
  EXPECT_EQ(Run(Cat(Ether(0x8864), Pppoe(0xc021, Pattern(10)))), DecodeDrop::kPppNotIp);
  Bytes bad = Pppoe(0x0021, Ipv4(17, Udp4(1, 2, Text("x"))));
  bad[0] = 0x21;
  EXPECT_EQ(Run(Cat(Ether(0x8864), bad)), DecodeDrop::kBadPppoeHeader);
  EXPECT_EQ(dec_.stats()[Proto::kPppoe].packets, 3u);
}

TEST_F(DecoderTest, LinkTypes) {
  Bytes ip = Ipv4(17, Udp4(7, 8, Text("link")));
  Bytes sll = {0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00};
  ASSERT_EQ(Run(Cat(sll, ip), LinkType::kLinuxSll), DecodeDrop::kOk);
  EXPECT_EQ(Payload(), "link");
  Bytes sll2 = {0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0};
  ASSERT_EQ(Run(Cat(sll2, ip), LinkType::kLinuxSll2), DecodeDrop::kOk);
  EXPECT_EQ(Payload(), "link");
  ASSERT_EQ(Run(Cat(Bytes{2, 0, 0, 0}, ip), LinkType::kNull), DecodeDrop::kOk);
  ASSERT_EQ(Run(Cat(Bytes{0, 0, 0, 2}, ip), LinkType::kLoop), DecodeDrop::kOk);
  Bytes ip6 = Ipv6(17, Udp6(7, 8, Text("six")));
  ASSERT_EQ(Run(Cat(Bytes{30, 0, 0, 0}, ip6), LinkType::kNull), DecodeDrop::kOk);
  EXPECT_EQ(Payload(), "six");
  EXPECT_EQ(Run(Cat(Bytes{7, 0, 0, 0}, ip), LinkType::kNull),
            DecodeDrop::kUnknownAddressFamily);
  ASSERT_EQ(Run(ip, LinkType::kRaw), DecodeDrop::kOk);
  ASSERT_EQ(Run(ip6, LinkType::kRaw), DecodeDrop::kOk);
  EXPECT_EQ(pkt_.ip_version, 6);
  ASSERT_EQ(Run(ip6, LinkType::kIpv6), DecodeDrop::kOk);
  EXPECT_EQ(Run(Bytes{0x50, 0, 0, 0}, LinkType::kRaw), DecodeDrop::kBadIpVersion);
  EXPECT_EQ(Run(ip, static_cast<LinkType>(147)), DecodeDrop::kUnsupportedLinkType);
}

TEST_F(DecoderTest, Ipv4OptionsAndBadHeaders) {
  V4Opts o;
  o.options_words = 3;
  ASSERT_EQ(Run(Cat(Ether(0x0800), Ipv4(17, Udp4(11, 12, Text("opt")), o))), DecodeDrop::kOk);
  EXPECT_EQ(Payload(), "opt");
  EXPECT_FALSE(pkt_.bad_checksum);
  Bytes bad = Ipv4(17, Udp4(11, 12, Text("opt")));
  bad[0] = 0x44;  // IHL 4
  EXPECT_EQ(Run(Cat(Ether(0x0800), bad)), DecodeDrop::kBadIpv4Header);
  bad[0] = 0x65;
  EXPECT_EQ(Run(Cat(Ether(0x0800), bad)), DecodeDrop::kBadIpVersion);
  o = {};
  o.total_override = 10;
  EXPECT_EQ(Run(Cat(Ether(0x0800), Ipv4(17, Udp4(1, 2, Text("x")), o))),
            DecodeDrop::kBadIpv4Header);
  Bytes udp = Udp4(1, 2, Text("xyz"));
  udp[5] = 4;  // UDP length 4
  EXPECT_EQ(Run(Cat(Ether(0x0800), Ipv4(17, udp))), DecodeDrop::kBadUdpLength);
  udp[5] = 200;
  EXPECT_EQ(Run(Cat(Ether(0x0800), Ipv4(17, udp))), DecodeDrop::kBadUdpLength);
  // ICMP and unknown protocols are decoded with no ports.
  ASSERT_EQ(Run(Cat(Ether(0x0800), Ipv4(1, Pattern(8)))), DecodeDrop::kOk);
  EXPECT_EQ(pkt_.l4, L4Proto::kIcmp);
  ASSERT_EQ(Run(Cat(Ether(0x0800), Ipv4(89, Pattern(8)))), DecodeDrop::kOk);
  EXPECT_EQ(pkt_.l4, L4Proto::kOther);
  EXPECT_EQ(pkt_.ip_proto, 89);
}

TEST_F(DecoderTest, Ipv6ExtensionHeaders) {
  Bytes udp = Udp6(5060, 5062, Text("ext"));
  Bytes chain = Cat(Cat(Cat(Ext8(43), Ext8(60)), Ext8(17)), udp);  // HBH, routing, dst
  ASSERT_EQ(Run(Cat(Ether(0x86dd), Ipv6(0, chain))), DecodeDrop::kOk);
  EXPECT_EQ(Payload(), "ext");
  EXPECT_EQ(pkt_.src.ToString(), "[2001:db8::1]:5060");
  EXPECT_EQ(pkt_.ip_proto, 17);
  EXPECT_FALSE(pkt_.bad_checksum);
  EXPECT_EQ(dec_.stats()[Proto::kIpv6Ext].packets, 3u);

  // Atomic fragment (RFC 6946): a fragment header with offset 0 and M clear.
  Bytes atomic = {17, 0, 0, 0, 0, 0, 0, 9};
  ASSERT_EQ(Run(Cat(Ether(0x86dd), Ipv6(44, Cat(atomic, udp)))), DecodeDrop::kOk);
  EXPECT_EQ(Payload(), "ext");
  EXPECT_FALSE(pkt_.reassembled);

  Bytes many = udp;
  for (int i = 0; i < 10; ++i) many = Cat(Ext8(i == 0 ? 17 : 60), many);
  EXPECT_EQ(Run(Cat(Ether(0x86dd), Ipv6(60, many))), DecodeDrop::kIpv6TooManyExt);
  Bytes longext = Ext8(17);
  longext[1] = 200;  // claims 1608 bytes
  EXPECT_EQ(Run(Cat(Ether(0x86dd), Ipv6(0, Cat(longext, udp)))),
            DecodeDrop::kTruncatedIpv6Ext);
}

TEST_F(DecoderTest, TcpAndSctp) {
  ASSERT_EQ(Run(Cat(Ether(0x0800),
                    Ipv4(6, Tcp4(5060, 40000, 0x01020304, 0xa0b0c0d0, kTcpAck | kTcpPsh,
                                 Text("INVITE"))))),
            DecodeDrop::kOk);
  EXPECT_EQ(pkt_.l4, L4Proto::kTcp);
  EXPECT_EQ(pkt_.tcp_seq, 0x01020304u);
  EXPECT_EQ(pkt_.tcp_ack, 0xa0b0c0d0u);
  EXPECT_EQ(pkt_.tcp_flags, kTcpAck | kTcpPsh);
  EXPECT_EQ(Payload(), "INVITE");
  EXPECT_FALSE(pkt_.bad_checksum);
  Bytes tcp = Tcp4(1, 2, 3, 4, kTcpSyn, {});
  tcp[12] = 0x40;
  EXPECT_EQ(Run(Cat(Ether(0x0800), Ipv4(6, tcp))), DecodeDrop::kBadTcpHeader);
  tcp[12] = 0xf0;
  EXPECT_EQ(Run(Cat(Ether(0x0800), Ipv4(6, tcp))), DecodeDrop::kTruncatedTcp);

  Bytes sctp = {0x13, 0xc4, 0x13, 0xc5, 1, 2, 3, 4, 0, 0, 0, 0, 0, 1, 0, 4};
  ASSERT_EQ(Run(Cat(Ether(0x0800), Ipv4(132, sctp))), DecodeDrop::kOk);
  EXPECT_EQ(pkt_.l4, L4Proto::kSctp);
  EXPECT_EQ(pkt_.src.port, 5060);
  EXPECT_EQ(pkt_.dst.port, 5061);
  EXPECT_EQ(pkt_.payload.size(), 4u);
}

Bytes Gre(uint8_t flags, uint16_t proto, uint32_t key, uint32_t seq) {
  Bytes g = {flags, 0};
  Put16(g, proto);
  if (flags & 0x80) Put32(g, 0);
  if (flags & 0x20) Put32(g, key);
  if (flags & 0x10) Put32(g, seq);
  return g;
}

const uint8_t kOuterA[4] = {172, 16, 0, 1};
const uint8_t kOuterB[4] = {172, 16, 0, 2};

Bytes OuterIp4(uint8_t proto, const Bytes& payload) {
  return Cat(Ether(0x0800), Ipv4(proto, payload, {}, kOuterA, kOuterB));
}

TEST_F(DecoderTest, GreTunnels) {
  Bytes inner = Ipv4(17, Udp4(5060, 5060, Text("gre")));
  ASSERT_EQ(Run(OuterIp4(47, Cat(Gre(0x30, 0x0800, 0xabcdef01, 7), inner))), DecodeDrop::kOk);
  EXPECT_EQ(pkt_.tunnel, TunnelKind::kGre);
  EXPECT_EQ(pkt_.tunnel_id, 0xabcdef01u);
  EXPECT_EQ(pkt_.src.ToString(), "10.0.0.1:5060");  // inner, not 172.16.0.1
  EXPECT_EQ(Payload(), "gre");
  ASSERT_EQ(Run(OuterIp4(47, Cat(Gre(0xa0, 0x6558, 5, 0), Cat(Ether(0x0800), inner)))),
            DecodeDrop::kOk);
  EXPECT_EQ(pkt_.tunnel_id, 5u);
  EXPECT_EQ(Payload(), "gre");
  ASSERT_EQ(Run(OuterIp4(47, Cat(Gre(0, 0x86dd, 0, 0), Ipv6(17, Udp6(1, 2, Text("g6")))))),
            DecodeDrop::kOk);
  EXPECT_EQ(Payload(), "g6");
  EXPECT_EQ(Run(OuterIp4(47, Cat(Gre(0x40, 0x0800, 0, 0), inner))), DecodeDrop::kBadGreHeader);
  Bytes v1 = Cat(Gre(0, 0x880b, 0, 0), inner);
  v1[1] = 1;  // enhanced GRE (PPTP)
  EXPECT_EQ(Run(OuterIp4(47, v1)), DecodeDrop::kBadGreHeader);
  EXPECT_EQ(Run(OuterIp4(47, Cat(Gre(0, 0x1234, 0, 0), inner))), DecodeDrop::kUnknownGreProtocol);
}

TEST_F(DecoderTest, ErspanTypes) {
  Bytes mirrored = Cat(Cat(Ether(0x8100), Vlan(30, 0x0800)),
                       Ipv4(17, Udp4(16384, 16386, Rtp(3))));
  // Type I: GRE 0x88BE without sequence, no ERSPAN header.
  ASSERT_EQ(Run(OuterIp4(47, Cat(Gre(0, 0x88be, 0, 0), mirrored))), DecodeDrop::kOk);
  EXPECT_EQ(pkt_.tunnel, TunnelKind::kErspan1);
  EXPECT_EQ(pkt_.vlan[0], 30);
  EXPECT_EQ(pkt_.payload.size(), 172u);
  // Type II: sequence present, 8-byte header, version 1, session 0x2a5.
  Bytes e2 = {0x10, 0x00, 0x02, 0xa5, 0, 0, 0, 0};
  ASSERT_EQ(Run(OuterIp4(47, Cat(Gre(0x10, 0x88be, 0, 1), Cat(e2, mirrored)))),
            DecodeDrop::kOk);
  EXPECT_EQ(pkt_.tunnel, TunnelKind::kErspan2);
  EXPECT_EQ(pkt_.tunnel_id, 0x2a5u);
  EXPECT_EQ(pkt_.dst.port, 16386);
  // Type III: 12-byte header, version 2, with and without the platform subheader.
  Bytes e3 = {0x20, 0x00, 0x00, 0x11, 1, 2, 3, 4, 0, 0, 0, 0};
  ASSERT_EQ(Run(OuterIp4(47, Cat(Gre(0x10, 0x22eb, 0, 1), Cat(e3, mirrored)))),
            DecodeDrop::kOk);
  EXPECT_EQ(pkt_.tunnel, TunnelKind::kErspan3);
  EXPECT_EQ(pkt_.tunnel_id, 0x11u);
  Bytes e3o = e3;
  e3o[11] = 0x01;
  e3o = Cat(e3o, Bytes(8, 0));
  ASSERT_EQ(Run(OuterIp4(47, Cat(Gre(0x10, 0x22eb, 0, 1), Cat(e3o, mirrored)))),
            DecodeDrop::kOk);
  EXPECT_EQ(pkt_.payload.size(), 172u);
  Bytes wrong = e2;
  wrong[0] = 0x20;
  EXPECT_EQ(Run(OuterIp4(47, Cat(Gre(0x10, 0x88be, 0, 1), Cat(wrong, mirrored)))),
            DecodeDrop::kBadErspanHeader);
  EXPECT_EQ(dec_.stats()[Proto::kErspan3].packets, 2u);
}

TEST_F(DecoderTest, VxlanAndIpInIp) {
  Bytes inner = Cat(Ether(0x0800), Ipv4(17, Udp4(5060, 5080, Text("vx"))));
  Bytes vx = {0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0};
  Bytes outer_udp = Udp(49152, 4789, Cat(vx, inner), Pseudo4(17, 8 + 8 + inner.size(),
                                                            kOuterA, kOuterB));
  ASSERT_EQ(Run(OuterIp4(17, outer_udp)), DecodeDrop::kOk);
  EXPECT_EQ(pkt_.tunnel, TunnelKind::kVxlan);
  EXPECT_EQ(pkt_.tunnel_id, 0x123456u);
  EXPECT_EQ(pkt_.dst.port, 5080);
  EXPECT_EQ(Payload(), "vx");
  EXPECT_FALSE(pkt_.bad_checksum);
  // Port 4789 without the I flag is plain UDP.
  Bytes notvx = Udp(49152, 4789, Pattern(20), -1);
  ASSERT_EQ(Run(OuterIp4(17, notvx)), DecodeDrop::kOk);
  EXPECT_EQ(pkt_.tunnel, TunnelKind::kNone);
  EXPECT_EQ(pkt_.dst.port, 4789);

  Bytes in4 = Ipv4(17, Udp4(1, 2, Text("ipip")));
  ASSERT_EQ(Run(OuterIp4(4, in4)), DecodeDrop::kOk);
  EXPECT_EQ(pkt_.tunnel, TunnelKind::kIpInIp);
  EXPECT_EQ(pkt_.src.ip.ToString(), "10.0.0.1");
  Bytes in6 = Ipv6(17, Udp6(1, 2, Text("6in4")));
  ASSERT_EQ(Run(OuterIp4(41, in6)), DecodeDrop::kOk);
  EXPECT_EQ(pkt_.ip_version, 6);
  EXPECT_EQ(Payload(), "6in4");
  uint8_t oa[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  ASSERT_EQ(Run(Cat(Ether(0x86dd), Ipv6(4, in4, oa, oa))), DecodeDrop::kOk);
  EXPECT_EQ(pkt_.tunnel, TunnelKind::kIpInIp6);
  EXPECT_EQ(pkt_.ip_version, 4);
  EXPECT_EQ(Payload(), "ipip");

  // Nesting bound: five IP-in-IP levels exceed max_tunnel_depth (4).
  Bytes nest = in4;
  for (int i = 0; i < 5; ++i) nest = Ipv4(4, nest);
  EXPECT_EQ(Run(Cat(Ether(0x0800), nest)), DecodeDrop::kTunnelTooDeep);
  nest = in4;
  for (int i = 0; i < 4; ++i) nest = Ipv4(4, nest);
  EXPECT_EQ(Run(Cat(Ether(0x0800), nest)), DecodeDrop::kOk);
}

// Valid frames of every encapsulation, for the truncation and corruption sweeps.
std::vector<std::pair<Bytes, LinkType>> AllShapes() {
  Bytes ip4 = Ipv4(17, Udp4(5060, 5060, Text("INVITE sip:a@b SIP/2.0")));
  Bytes ip6 = Ipv6(0, Cat(Ext8(17), Udp6(5060, 5060, Text("INVITE"))));
  Bytes vx = {0x08, 0, 0, 0, 0, 0, 1, 0};
  Bytes e2 = {0x10, 0x00, 0x00, 0x05, 0, 0, 0, 0};
  return {
      {RtpFrame(), LinkType::kEthernet},
      {Cat(Cat(Cat(Ether(0x88a8), Vlan(1, 0x8100)), Vlan(2, 0x0800)), ip4), LinkType::kEthernet},
      {Cat(Cat(Ether(0x8847), Bytes{0, 1, 0, 1, 0, 2, 1, 1}), ip4), LinkType::kEthernet},
      {Cat(Ether(0x8864), Pppoe(0x0021, ip4)), LinkType::kEthernet},
      {Cat(Ether(0x86dd), ip6), LinkType::kEthernet},
      {Cat(Ether(0x0800), Ipv4(6, Tcp4(1, 2, 3, 4, kTcpAck, Text("tcp data")))),
       LinkType::kEthernet},
      {OuterIp4(47, Cat(Gre(0x30, 0x0800, 1, 2), ip4)), LinkType::kEthernet},
      {OuterIp4(47, Cat(Gre(0x10, 0x88be, 0, 2), Cat(e2, Cat(Ether(0x0800), ip4)))),
       LinkType::kEthernet},
      {OuterIp4(17, Udp(1, 4789, Cat(vx, Cat(Ether(0x0800), ip4)), -1)), LinkType::kEthernet},
      {OuterIp4(4, ip4), LinkType::kEthernet},
      {Cat(Bytes{0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00}, ip4),
       LinkType::kLinuxSll},
      {Cat(Bytes{0x86, 0xdd, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0}, ip6),
       LinkType::kLinuxSll2},
      {Cat(Bytes{2, 0, 0, 0}, ip4), LinkType::kNull},
      {ip6, LinkType::kRaw},
  };
}

TEST_F(DecoderTest, EveryTruncationIsATruncationDrop) {
  for (const auto& [full, link] : AllShapes()) {
    ASSERT_EQ(Run(full, link), DecodeDrop::kOk) << "shape of " << full.size() << " bytes";
    for (size_t len = 0; len < full.size(); ++len) {
      Bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(len));
      DecodeDrop r = Run(cut, link);
      EXPECT_TRUE(IsTruncation(r)) << "len " << len << " of " << full.size() << ": "
                                   << DropName(r);
    }
  }
}

TEST_F(DecoderTest, CorruptedBytesNeverCrash) {
  uint64_t frames = 0;
  for (const auto& [full, link] : AllShapes()) {
    for (size_t i = 0; i < full.size(); ++i) {
      for (uint8_t v : {uint8_t{0x00}, uint8_t{0xff}, uint8_t(full[i] ^ 0x80)}) {
        Bytes b = full;
        b[i] = v;
        DecodeDrop r = Run(b, link);
        ++frames;
        EXPECT_LT(static_cast<int>(r), static_cast<int>(DecodeDrop::kCount));
      }
    }
  }
  const DecodeStats& s = dec_.stats();
  EXPECT_EQ(s.frames, frames);
  // Every frame is accounted for exactly once: decoded, held, or dropped; a held fragment
  // that is later evicted moves to a drop reason (frag_held_dropped).
  EXPECT_EQ(s.decoded + s.held + s.drops.Total() - s.frag_held_dropped, frames);
}

TEST(DecodeChecksum, AgreesWithTheNaiveSumAtEveryLength) {
  uint32_t x = 12345;
  for (size_t len = 0; len < 300; ++len) {
    Bytes b(len);
    for (uint8_t& v : b) v = uint8_t((x = x * 1103515245u + 12345u) >> 16);
    if (len % 2 == 1) b.push_back(0);  // the checksum field must start at an even offset
    uint16_t ck = uint16_t(~NaiveSum(b));
    b.push_back(uint8_t(ck >> 8));
    b.push_back(uint8_t(ck));
    EXPECT_TRUE(ChecksumOk(b.data(), b.size())) << len;
    b[len / 2] ^= 0x10;
    EXPECT_FALSE(ChecksumOk(b.data(), b.size())) << len;
  }
}

TEST(DecodeStatsTest, AddAndNamedCounters) {
  DecodeStats a, b;
  a.frames = 3;
  a[Proto::kUdp].packets = 2;
  a.drops.Inc(DecodeDrop::kTruncatedIpv4);
  b.frames = 4;
  b[Proto::kUdp].packets = 5;
  b.drops.Inc(DecodeDrop::kTruncatedIpv4, 2);
  b.bad_udp_checksum = 7;
  a.Add(b);
  std::map<std::string, uint64_t> m;
  ForEachCounter(a, [&](const std::string& n, uint64_t v) { m[n] = v; });
  EXPECT_EQ(m.at("decode.frames"), 7u);
  EXPECT_EQ(m.at("decode.proto.udp.packets"), 7u);
  EXPECT_EQ(m.at("decode.drop.truncated_ipv4"), 3u);
  EXPECT_EQ(m.at("decode.checksum.bad_udp"), 7u);
  EXPECT_EQ(m.count("decode.drop.ok"), 0u);
  EXPECT_EQ(m.count("decode.frag.evidence_incomplete"), 1u);
  EXPECT_EQ(m.size(), 4u + 2u * kProtoCount + (size_t(DecodeDrop::kCount) - 2u) + 4u + 7u);
}

TEST(DecodeNames, EveryReasonAndProtoHasAName) {
  for (int i = 0; i < static_cast<int>(DecodeDrop::kCount); ++i) {
    EXPECT_NE(DropName(static_cast<DecodeDrop>(i)), "unknown") << i;
  }
  for (int i = 0; i < static_cast<int>(Proto::kCount); ++i) {
    EXPECT_NE(ProtoName(static_cast<Proto>(i)), "unknown") << i;
  }
}

}  // namespace
}  // namespace callvault::decode
