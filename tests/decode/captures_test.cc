// The decode layer over the public captures in tests/data (CALLVAULT_TEST_DATA). Every
// expected number was derived with tshark 4.0 / capinfos, independently of this code;
// the command is beside each. FILE below is the capture named in the test.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "tests/decode/run_capture.h"

namespace callvault::decode {
namespace {

std::string Data(const std::string& name) {
  const char* dir = std::getenv("CALLVAULT_TEST_DATA");
  return std::string(dir ? dir : "tests/data") + "/" + name;
}

struct Sums {
  uint64_t packets = 0;
  uint64_t payload = 0;
};

CaptureRun Decode(const std::string& name, Sums* sums = nullptr,
               const std::function<void(const DecodedPacket&)>& fn = nullptr) {
  auto r = RunCapture(Data(name), {}, {}, [&](const DecodedPacket& p) {
    if (sums) {
      ++sums->packets;
      sums->payload += p.payload.size();
    }
    if (fn) fn(p);
  });
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : CaptureRun{};
}

TEST(DecodeCaptures, SipOverTcpLinuxCooked) {
  Sums sums;
  bool first = true;
  CaptureRun r = Decode("nextcaller_sip-tcp.pcap", &sums, [&](const DecodedPacket& p) {
    if (!first) return;
    first = false;
    // tshark -r FILE -c1 -T fields -e tcp.seq_raw -e tcp.ack_raw -e tcp.flags -e tcp.len
    //   -> 2553086863 448924381 0x0018 509
    EXPECT_EQ(p.l4, L4Proto::kTcp);
    EXPECT_EQ(p.tcp_seq, 2553086863u);
    EXPECT_EQ(p.tcp_ack, 448924381u);
    EXPECT_EQ(p.tcp_flags, kTcpPsh | kTcpAck);
    EXPECT_EQ(p.payload.size(), 509u);
  });
  const DecodeStats& s = r.decode;
  // capinfos: linux-sll, 30 packets; tshark -Y tcp | wc -l -> 30.
  EXPECT_EQ(r.link, LinkType::kLinuxSll);
  EXPECT_EQ(s.frames, 30u);
  EXPECT_EQ(s.decoded, 30u);
  EXPECT_EQ(s[Proto::kLinuxSll].packets, 30u);
  EXPECT_EQ(s[Proto::kTcp].packets, 30u);
  // tshark -T fields -e tcp.len | sum -> 11485.
  EXPECT_EQ(sums.payload, 11485u);
  // tshark -o tcp.check_checksum:TRUE -Y 'tcp.checksum.status==0' | wc -l -> 30.
  EXPECT_EQ(s.bad_tcp_checksum, 30u);
  EXPECT_EQ(s.drops.Total(), 0u);
}

TEST(DecodeCaptures, Pppoe) {
  Sums sums;
  CaptureRun r = Decode("wswiki_DTMFsipinfo_pppoe.pcap", &sums);
  const DecodeStats& s = r.decode;
  // tshark -Y pppoes | wc -l -> 32; -Y udp -> 32; -e udp.length | sum -> 23549.
  EXPECT_EQ(s.frames, 32u);
  EXPECT_EQ(s[Proto::kPppoe].packets, 32u);
  EXPECT_EQ(s[Proto::kUdp].packets, 32u);
  EXPECT_EQ(sums.payload, 23549u - 8u * 32u);
  // tshark -o ip.check_checksum:TRUE / udp.check_checksum:TRUE: no bad checksums.
  EXPECT_EQ(s.bad_ipv4_checksum + s.bad_udp_checksum, 0u);
  EXPECT_EQ(s.drops.Total(), 0u);
}

TEST(DecodeCaptures, Ipv6) {
  Sums sums;
  std::string first_src;
  CaptureRun r = Decode("heplify_sip_ipv6_udp.pcap", &sums, [&](const DecodedPacket& p) {
    if (first_src.empty()) first_src = p.src.ToString() + " " + p.dst.ToString();
  });
  const DecodeStats& s = r.decode;
  // tshark -Y 'ipv6 and udp' | wc -l -> 6; -e udp.length | sum -> 3262;
  // tshark -c1 -T fields -e ipv6.src -e udp.srcport -e ipv6.dst -e udp.dstport.
  EXPECT_EQ(s.frames, 6u);
  EXPECT_EQ(s[Proto::kIpv6].packets, 6u);
  EXPECT_EQ(s[Proto::kUdp].packets, 6u);
  EXPECT_EQ(sums.payload, 3262u - 6u * 8u);
  EXPECT_EQ(first_src, "[fe80::21a:a0ff:fe07:32e0]:5060 [fec0::216:d3ff:fe0d:22c]:5060");
  EXPECT_EQ(s.bad_udp_checksum, 0u);
}

TEST(DecodeCaptures, FragmentedSipIInviteComesOutWhole) {
  int reassembled = 0;
  CaptureRun r = Decode("nextcaller_sip-i_ipv4frag.pcap", nullptr, [&](const DecodedPacket& p) {
    if (!p.reassembled) {
      EXPECT_TRUE(p.bad_checksum);  // the 100 Trying: tshark marks its UDP checksum bad
      return;
    }
    ++reassembled;
    // tshark -T fields -e ip.reassembled.length -e udp.length: 1547 (frame 2);
    // ip.src 216.221.155.72 -> ip.dst 10.0.90.18, 5060 -> 5060.
    EXPECT_EQ(p.payload.size(), 1547u - 8u);
    EXPECT_EQ(p.l3.size(), 20u + 1547u);
    EXPECT_EQ(p.src.ToString(), "216.221.155.72:5060");
    EXPECT_EQ(p.dst.ToString(), "10.0.90.18:5060");
    std::string text(p.payload.begin(), p.payload.end());
    EXPECT_EQ(text.rfind("INVITE ", 0), 0u);
    EXPECT_FALSE(p.bad_checksum);
  });
  EXPECT_EQ(reassembled, 1);
  // tshark -Y 'ip.flags.mf==1 or ip.frag_offset>0' | wc -l -> 2 fragments of 3 frames.
  EXPECT_EQ(r.decode.frames, 3u);
  EXPECT_EQ(r.decode[Proto::kFragment].packets, 2u);
  EXPECT_EQ(r.decode.held, 1u);
  EXPECT_EQ(r.decode.decoded, 2u);
  EXPECT_EQ(r.decode.frag_datagrams_completed, 1u);
  // tshark -o udp.check_checksum:TRUE -Y 'udp.checksum.status==0' -> frame 3 only.
  EXPECT_EQ(r.decode.bad_udp_checksum, 1u);
}

TEST(DecodeCaptures, SrtpCallWithFragmentedInvite) {
  int reassembled = 0;
  CaptureRun r = Decode("voipshark_SIP-SRTP-Normal_Call_two_parties.pcap", nullptr,
                     [&](const DecodedPacket& p) {
                       if (!p.reassembled) return;
                       ++reassembled;
                       // tshark: frame 59 ip.reassembled.length 1725 = udp.length.
                       EXPECT_EQ(p.payload.size(), 1725u - 8u);
                       std::string text(p.payload.begin(), p.payload.begin() + 7);
                       EXPECT_EQ(text, "INVITE ");
                     });
  EXPECT_EQ(reassembled, 1);
  const DecodeStats& s = r.decode;
  // tshark -o ip.defragment:FALSE -T fields -e frame.protocols | sort | uniq -c:
  //   4691 eth:ethertype:ip:udp (one is the first fragment), 25 ip:tcp, 14 arp,
  //   12 ip:icmp, 10 ipv6:udp, 1 ip:data (the second fragment).
  EXPECT_EQ(s.frames, 4753u);
  EXPECT_EQ(s[Proto::kIpv4].packets, 4691u + 25u + 12u + 1u);
  EXPECT_EQ(s[Proto::kIpv6].packets, 10u);
  EXPECT_EQ(s[Proto::kUdp].packets, 4690u + 1u + 10u);
  EXPECT_EQ(s[Proto::kTcp].packets, 25u);
  EXPECT_EQ(s[Proto::kIcmp].packets, 12u);
  EXPECT_EQ(s.drops[DecodeDrop::kArp], 14u);
  EXPECT_EQ(s.drops.Total(), 14u);
  EXPECT_EQ(s.held, 1u);
  EXPECT_EQ(s.decoded, 4753u - 14u - 2u + 1u);
  // tshark -o ip.check_checksum:TRUE -Y 'ip.checksum.status==0' | wc -l -> 1201;
  // -o udp.check_checksum:TRUE -Y 'udp.checksum.status==0 and not icmp' -> 1197;
  // -o tcp.check_checksum:TRUE -Y 'tcp.checksum.status==0' -> 22.
  EXPECT_EQ(s.bad_ipv4_checksum, 1201u);
  EXPECT_EQ(s.bad_udp_checksum, 1197u);
  EXPECT_EQ(s.bad_tcp_checksum, 22u);
}

TEST(DecodeCaptures, NullLoopbackLargeTcp) {
  Sums sums;
  CaptureRun r = Decode("suricata-verify_sip-body-large.pcap", &sums);
  const DecodeStats& s = r.decode;
  // capinfos: null, 16 packets; tshark -Y tcp -> 16; -e tcp.len | sum -> 66000;
  // bad IPv4 checksums 16, bad TCP checksums 16 (synthetic file, checksums unset).
  EXPECT_EQ(r.link, LinkType::kNull);
  EXPECT_EQ(s[Proto::kNullLoop].packets, 16u);
  EXPECT_EQ(s[Proto::kTcp].packets, 16u);
  EXPECT_EQ(sums.payload, 66000u);
  EXPECT_EQ(s.bad_ipv4_checksum, 16u);
  EXPECT_EQ(s.bad_tcp_checksum, 16u);
  EXPECT_EQ(s.decoded, 16u);
}

TEST(DecodeCaptures, Sctp) {
  std::string first;
  CaptureRun r = Decode("heplify_sip_sctp.pcap", nullptr, [&](const DecodedPacket& p) {
    if (first.empty()) first = p.src.ToString() + " " + std::to_string(p.dst.port);
    EXPECT_EQ(p.l4, L4Proto::kSctp);
  });
  // capinfos: linux-sll, 5 packets; tshark -Y sctp -> 5; first sctp.srcport 57098,
  // sctp.dstport 5060.
  EXPECT_EQ(r.decode[Proto::kSctp].packets, 5u);
  EXPECT_EQ(r.decode[Proto::kLinuxSll].packets, 5u);
  EXPECT_EQ(r.decode.decoded, 5u);
  EXPECT_EQ(first.substr(first.find(':') + 1), "57098 5060");
}

TEST(DecodeCaptures, Pcapng) {
  Sums sums;
  CaptureRun r = Decode("sipnab_b2bua-asterisk.pcapng", &sums);
  // capinfos: pcapng, 416 packets; tshark -Y udp -> 416; -e udp.length | sum -> 104618.
  EXPECT_EQ(r.decode.frames, 416u);
  EXPECT_EQ(r.decode[Proto::kUdp].packets, 416u);
  EXPECT_EQ(sums.payload, 104618u - 8u * 416u);
  EXPECT_EQ(r.decode.drops.Total(), 0u);
}

}  // namespace
}  // namespace callvault::decode
