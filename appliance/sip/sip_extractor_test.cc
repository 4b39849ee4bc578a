#include "appliance/sip/sip_extractor.h"

#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

#include "appliance/config/config.h"

namespace callvault::sip {
namespace {

const std::string kOptions =
    "OPTIONS sip:pbx@10.0.0.2 SIP/2.0\r\nCall-ID: opt-1\r\nCSeq: 1 OPTIONS\r\n"
    "Content-Length: 0\r\n\r\n";

class SipExtractorTest : public ::testing::Test {
 protected:
  bool Feed(decode::L4Proto l4, uint16_t sport, uint16_t dport, std::string_view payload,
            uint8_t tcp_flags = decode::kTcpAck, uint32_t seq = 1) {
    frames_.emplace_back();
    frames_.back().ts_ns = ++ts_;
    decode::DecodedPacket p;
    p.frame = &frames_.back();
    p.l4 = l4;
    p.src = Endpoint{IpAddress::FromV4(0x0a000001), sport};
    p.dst = Endpoint{IpAddress::FromV4(0x0a000002), dport};
    p.tcp_flags = tcp_flags;
    p.tcp_seq = seq;
    payloads_.emplace_back(payload);
    p.payload = {reinterpret_cast<const uint8_t*>(payloads_.back().data()),
                 payloads_.back().size()};
    return ex_->OnPacket(p, [&](const Message& m, const TransportMessage& tm) {
      call_ids_.emplace_back(m.call_id());
      transports_.push_back(tm.transport);
    });
  }

  void Make(SipConfig cfg) {
    cfg.tcp_max_connections = 16;
    ex_ = std::make_unique<SipExtractor>(cfg);
  }

  void SetUp() override { Make(SipConfig{}); }

  std::unique_ptr<SipExtractor> ex_;
  uint64_t ts_ = 0;
  std::deque<Frame> frames_;
  std::deque<std::string> payloads_;
  std::vector<std::string> call_ids_;
  std::vector<Transport> transports_;
};

// A UDP message rebuilt from IP fragments carries every fragment's frame as evidence,
// first to last, and starts at the first fragment's time.
TEST_F(SipExtractorTest, FragmentedUdpMessageCarriesEveryFragmentFrame) {
  std::vector<Frame> fragments(3);
  for (size_t i = 0; i < fragments.size(); ++i) fragments[i].ts_ns = 100 + i;
  decode::DecodedPacket p;
  p.frame = &fragments.back();
  p.reassembled = true;
  p.fragment_frames = fragments;
  p.l4 = decode::L4Proto::kUdp;
  p.src = Endpoint{IpAddress::FromV4(0x0a000001), 5060};
  p.dst = Endpoint{IpAddress::FromV4(0x0a000002), 5060};
  p.payload = {reinterpret_cast<const uint8_t*>(kOptions.data()), kOptions.size()};
  std::vector<const Frame*> got;
  uint64_t first_ts = 0, last_ts = 0;
  EXPECT_TRUE(ex_->OnPacket(p, [&](const Message&, const TransportMessage& tm) {
    for (const Frame& f : tm.frames) got.push_back(&f);
    first_ts = tm.first_ts_ns;
    last_ts = tm.last_ts_ns;
  }));
  ASSERT_EQ(got.size(), 3u);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], &fragments[i]);
  EXPECT_EQ(first_ts, 100u);
  EXPECT_EQ(last_ts, 102u);
}

TEST_F(SipExtractorTest, UdpOnConfiguredPort) {
  EXPECT_TRUE(Feed(decode::L4Proto::kUdp, 5060, 5060, kOptions));
  EXPECT_EQ(call_ids_, std::vector<std::string>({"opt-1"}));
  EXPECT_EQ(transports_[0], Transport::kUdp);
  EXPECT_EQ(ex_->stats().udp_messages, 1u);
}

TEST_F(SipExtractorTest, AnyPortDetectionOnAndOff) {
  EXPECT_TRUE(Feed(decode::L4Proto::kUdp, 6060, 7070, kOptions));
  EXPECT_FALSE(Feed(decode::L4Proto::kUdp, 16384, 20000, "\x80\x08rtp-bytes"));
  EXPECT_EQ(call_ids_.size(), 1u);
  SipConfig cfg;
  cfg.detect_any_port = false;
  Make(cfg);
  EXPECT_FALSE(Feed(decode::L4Proto::kUdp, 6060, 7070, kOptions));
  EXPECT_EQ(call_ids_.size(), 1u);
  cfg.ports = {6060};
  Make(cfg);
  EXPECT_TRUE(Feed(decode::L4Proto::kUdp, 6060, 7070, kOptions));
  EXPECT_EQ(call_ids_.size(), 2u);
}

TEST_F(SipExtractorTest, KeepAlivesAndParseErrorsCounted) {
  EXPECT_TRUE(Feed(decode::L4Proto::kUdp, 5060, 5060, "\r\n\r\n"));
  EXPECT_EQ(ex_->stats().keepalives, 1u);
  EXPECT_TRUE(Feed(decode::L4Proto::kUdp, 5060, 5060, "INVITE sip:a@b SIP/2.0\r\nVia: x"));
  EXPECT_EQ(ex_->parse_drops()[SipDrop::kTruncated], 1u);
  EXPECT_TRUE(Feed(decode::L4Proto::kUdp, 5060, 5060, "hello world"));
  EXPECT_EQ(ex_->parse_drops()[SipDrop::kNotSip], 1u);
  EXPECT_TRUE(call_ids_.empty());
}

TEST_F(SipExtractorTest, TcpOnAnyPortFollowsTheConnection) {
  // A PBX on TCP 6060: recognised by its first line, then both directions followed.
  EXPECT_TRUE(Feed(decode::L4Proto::kTcp, 40000, 6060, kOptions, decode::kTcpAck, 100));
  EXPECT_TRUE(Feed(decode::L4Proto::kTcp, 40000, 6060, kOptions.substr(0, 20), decode::kTcpAck,
                   100 + uint32_t(kOptions.size())));
  EXPECT_TRUE(Feed(decode::L4Proto::kTcp, 40000, 6060, kOptions.substr(20), decode::kTcpAck,
                   100 + uint32_t(kOptions.size()) + 20));
  EXPECT_EQ(call_ids_.size(), 2u);
  EXPECT_EQ(transports_[1], Transport::kTcp);
  EXPECT_FALSE(Feed(decode::L4Proto::kTcp, 40001, 443, "\x16\x03\x01\x00\x10 tls"));
  // TLS on 5061 is SIP we cannot read: counted under its own reason.
  EXPECT_TRUE(Feed(decode::L4Proto::kTcp, 40002, 5061, "\x16\x03\x01\x00\x10 tls"));
  EXPECT_EQ(ex_->transport_drops()[SipTransportDrop::kSipOverTls], 1u);
}

std::string SctpData(uint8_t flags, uint32_t tsn, std::string_view data) {
  std::string c;
  const std::size_t len = 16 + data.size();
  c += char(0);
  c += char(flags);
  c += char(len >> 8);
  c += char(len & 0xff);
  for (int i = 3; i >= 0; --i) c += char((tsn >> (8 * i)) & 0xff);
  c += std::string(8, '\0');  // stream id, SSN, PPID 0
  c += data;
  while (c.size() % 4) c += '\0';
  return c;
}

TEST_F(SipExtractorTest, SctpWholeAndFragmentedMessages) {
  EXPECT_TRUE(Feed(decode::L4Proto::kSctp, 5060, 5060, SctpData(0x03, 7, kOptions)));
  ASSERT_EQ(call_ids_.size(), 1u);
  EXPECT_EQ(transports_[0], Transport::kSctp);
  EXPECT_TRUE(Feed(decode::L4Proto::kSctp, 5060, 5060, SctpData(0x02, 8, kOptions.substr(0, 30))));
  EXPECT_TRUE(Feed(decode::L4Proto::kSctp, 5060, 5060, SctpData(0x00, 9, kOptions.substr(30, 10))));
  EXPECT_TRUE(Feed(decode::L4Proto::kSctp, 5060, 5060, SctpData(0x01, 10, kOptions.substr(40))));
  EXPECT_EQ(call_ids_.size(), 2u);
  // A missing middle fragment: counted, nothing parsed.
  EXPECT_TRUE(Feed(decode::L4Proto::kSctp, 5060, 5060, SctpData(0x02, 20, kOptions.substr(0, 30))));
  EXPECT_TRUE(Feed(decode::L4Proto::kSctp, 5060, 5060, SctpData(0x01, 22, kOptions.substr(30))));
  EXPECT_EQ(call_ids_.size(), 2u);
  EXPECT_EQ(ex_->transport_drops()[SipTransportDrop::kSctpFragmented], 1u);
  // Truncated chunk.
  EXPECT_TRUE(Feed(decode::L4Proto::kSctp, 5060, 5060, std::string("\x00\x03\x00\x40", 4)));
  EXPECT_EQ(ex_->transport_drops()[SipTransportDrop::kSctpBadChunk], 1u);
}

}  // namespace
}  // namespace callvault::sip
