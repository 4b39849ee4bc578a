#include "appliance/sip/sdp.h"

#include <gtest/gtest.h>

#include <string>

namespace callvault::sip {
namespace {

Endpoint Ep(std::string_view ip, uint16_t port) { return Endpoint{*IpAddress::Parse(ip), port}; }

TEST(SdpTest, BasicAudioOfferWithStaticAndDynamicTypes) {
  const std::string sdp =
      "v=0\r\n"
      "o=alice 2890844526 2890844527 IN IP4 192.0.2.10\r\n"
      "s=call\r\n"
      "c=IN IP4 192.0.2.10\r\n"
      "t=0 0\r\n"
      "m=audio 49170 RTP/AVP 0 8 18 101 13\r\n"
      "a=rtpmap:101 telephone-event/8000\r\n"
      "a=fmtp:101 0-16\r\n"
      "a=fmtp:18 annexb=no\r\n"
      "a=ptime:20\r\n"
      "a=sendrecv\r\n";
  SessionDescription sd;
  ASSERT_EQ(ParseSdp(sdp, &sd), SdpError::kOk);
  EXPECT_EQ(sd.origin.username, "alice");
  EXPECT_EQ(sd.origin.session_id, "2890844526");
  EXPECT_EQ(sd.origin.session_version, "2890844527");
  EXPECT_EQ(sd.origin.address, *IpAddress::Parse("192.0.2.10"));
  EXPECT_EQ(sd.session_name, "call");
  ASSERT_EQ(sd.media.size(), 1u);
  const MediaDescription& m = sd.media[0];
  EXPECT_EQ(m.media, "audio");
  EXPECT_EQ(m.proto, MediaProto::kRtpAvp);
  EXPECT_EQ(m.rtp, Ep("192.0.2.10", 49170));
  EXPECT_EQ(m.rtcp, Ep("192.0.2.10", 49171));
  EXPECT_FALSE(m.rtcp_mux);
  EXPECT_FALSE(m.srtp);
  EXPECT_FALSE(m.rejected());
  EXPECT_FALSE(m.on_hold());
  EXPECT_EQ(m.ptime_ms, 20u);
  ASSERT_EQ(m.formats.size(), 5u);
  EXPECT_EQ(m.formats[0].pt, 0);
  EXPECT_EQ(m.formats[0].encoding, "PCMU");
  EXPECT_EQ(m.formats[0].clock_rate, 8000u);
  EXPECT_EQ(m.formats[1].encoding, "PCMA");
  EXPECT_EQ(m.formats[2].encoding, "G729");
  EXPECT_EQ(m.formats[2].fmtp, "annexb=no");
  EXPECT_EQ(m.formats[3].pt, 101);
  EXPECT_EQ(m.formats[3].encoding, "telephone-event");
  EXPECT_EQ(m.formats[3].fmtp, "0-16");
  EXPECT_EQ(m.formats[4].encoding, "CN");
  ASSERT_NE(m.PrimaryCodec(), nullptr);
  EXPECT_EQ(m.PrimaryCodec()->encoding, "PCMU");
}

TEST(SdpTest, Ipv6SeveralMediaLinesRejectedAndMediaLevelConnection) {
  const std::string sdp =
      "v=0\n"
      "o=- 1 2 IN IP6 2001:db8::1\n"
      "s=-\n"
      "c=IN IP6 2001:db8::1\n"
      "t=0 0\n"
      "m=audio 20000 RTP/AVP 9 111\n"
      "a=rtpmap:111 opus/48000/2\n"
      "a=rtcp:20011 IN IP6 2001:db8::2\n"
      "m=video 0 RTP/AVP 96\n"
      "a=rtpmap:96 H264/90000\n"
      "m=audio 30000 RTP/AVP 0\n"
      "c=IN IP4 198.51.100.7\n"
      "a=rtcp:30005\n";
  SessionDescription sd;
  ASSERT_EQ(ParseSdp(sdp, &sd), SdpError::kOk);
  ASSERT_EQ(sd.media.size(), 3u);
  EXPECT_EQ(sd.media[0].rtp, Ep("2001:db8::1", 20000));
  EXPECT_EQ(sd.media[0].rtcp, Ep("2001:db8::2", 20011));
  EXPECT_EQ(sd.media[0].formats[0].encoding, "G722");
  EXPECT_EQ(sd.media[0].formats[0].clock_rate, 8000u);  // RFC 3551 §4.5.2 quirk
  EXPECT_EQ(sd.media[0].formats[1].encoding, "opus");
  EXPECT_EQ(sd.media[0].formats[1].clock_rate, 48000u);
  EXPECT_EQ(sd.media[0].formats[1].channels, 2);
  EXPECT_EQ(sd.media[1].media, "video");
  EXPECT_TRUE(sd.media[1].rejected());
  EXPECT_EQ(sd.media[1].formats[0].encoding, "H264");
  EXPECT_EQ(sd.media[2].rtp, Ep("198.51.100.7", 30000));
  EXPECT_EQ(sd.media[2].rtcp, Ep("198.51.100.7", 30005));
}

TEST(SdpTest, HoldForms) {
  SessionDescription sd;
  // Session-level sendonly inherited; media-level inactive overrides.
  ASSERT_EQ(ParseSdp("v=0\r\nc=IN IP4 10.0.0.1\r\na=sendonly\r\n"
                     "m=audio 4000 RTP/AVP 0\r\n"
                     "m=audio 4002 RTP/AVP 0\r\na=inactive\r\n"
                     "m=audio 4004 RTP/AVP 0\r\na=recvonly\r\n",
                     &sd),
            SdpError::kOk);
  ASSERT_EQ(sd.media.size(), 3u);
  EXPECT_EQ(sd.direction, Direction::kSendOnly);
  EXPECT_EQ(sd.media[0].direction, Direction::kSendOnly);
  EXPECT_TRUE(sd.media[0].on_hold());
  EXPECT_EQ(sd.media[1].direction, Direction::kInactive);
  EXPECT_EQ(sd.media[2].direction, Direction::kRecvOnly);
  EXPECT_FALSE(sd.media[2].on_hold());
  // Old RFC 2543 form: c=0.0.0.0 (RFC 3264 §8.4).
  ASSERT_EQ(ParseSdp("v=0\r\nc=IN IP4 0.0.0.0\r\nm=audio 4000 RTP/AVP 8\r\n", &sd), SdpError::kOk);
  EXPECT_TRUE(sd.media[0].zero_address_hold);
  EXPECT_TRUE(sd.media[0].on_hold());
  EXPECT_EQ(sd.media[0].direction, Direction::kSendRecv);
}

TEST(SdpTest, SrtpCryptoZrtpRtcpMuxAndIgnoredCandidates) {
  const std::string sdp =
      "v=0\r\n"
      "o=- 5 5 IN IP4 203.0.113.4\r\n"
      "c=IN IP4 203.0.113.4\r\n"
      "m=audio 5004 RTP/SAVP 0\r\n"
      "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r\n"
      "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj\r\n"
      "a=rtcp-mux\r\n"
      "a=candidate:1 1 UDP 2130706431 10.9.9.9 5004 typ host\r\n"
      "m=audio 5006 RTP/AVP 0\r\n"
      "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:abc\r\n"
      "m=audio 5008 RTP/AVP 0\r\n"
      "a=zrtp-hash:1.10 fe30efd0\r\n"
      "m=audio 5010 UDP/TLS/RTP/SAVPF 111\r\n";
  SessionDescription sd;
  ASSERT_EQ(ParseSdp(sdp, &sd), SdpError::kOk);
  ASSERT_EQ(sd.media.size(), 4u);
  EXPECT_TRUE(sd.media[0].srtp);
  EXPECT_EQ(sd.media[0].proto, MediaProto::kRtpSavp);
  ASSERT_EQ(sd.media[0].crypto_suites.size(), 2u);
  EXPECT_EQ(sd.media[0].crypto_suites[1], "AES_CM_128_HMAC_SHA1_32");
  EXPECT_TRUE(sd.media[0].rtcp_mux);
  EXPECT_EQ(sd.media[0].rtcp, sd.media[0].rtp);
  EXPECT_EQ(sd.media[0].rtp, Ep("203.0.113.4", 5004));  // candidate ignored
  EXPECT_TRUE(sd.media[1].srtp);                        // crypto on plain RTP/AVP still means SRTP
  EXPECT_FALSE(sd.media[2].srtp);
  EXPECT_TRUE(sd.media[2].zrtp);
  EXPECT_TRUE(sd.media[3].srtp);
  EXPECT_EQ(sd.media[3].proto, MediaProto::kUdpTlsRtpSavpf);
  EXPECT_EQ(sd.media[3].formats[0].encoding, "");  // dynamic without rtpmap
}

TEST(SdpTest, T38Udptl) {
  SessionDescription sd;
  ASSERT_EQ(ParseSdp("v=0\r\nc=IN IP4 10.1.1.1\r\nm=image 6000 udptl t38\r\n"
                     "a=T38FaxVersion:0\r\n",
                     &sd),
            SdpError::kOk);
  ASSERT_EQ(sd.media.size(), 1u);
  EXPECT_EQ(sd.media[0].media, "image");
  EXPECT_EQ(sd.media[0].proto, MediaProto::kUdptl);
  ASSERT_EQ(sd.media[0].formats.size(), 1u);
  EXPECT_EQ(sd.media[0].formats[0].pt, -1);
  EXPECT_EQ(sd.media[0].formats[0].encoding, "t38");
}

TEST(SdpTest, Errors) {
  SessionDescription sd;
  EXPECT_EQ(ParseSdp("", &sd), SdpError::kEmpty);
  EXPECT_EQ(ParseSdp("\r\n\r\n", &sd), SdpError::kEmpty);
  EXPECT_EQ(ParseSdp("o=- 1 1 IN IP4 1.2.3.4\r\nv=0\r\n", &sd), SdpError::kNoVersion);
  EXPECT_EQ(ParseSdp("v=1\r\n", &sd), SdpError::kNoVersion);
  EXPECT_EQ(ParseSdp("v=0\r\nm=audio\r\n", &sd), SdpError::kBadMediaLine);
  EXPECT_EQ(ParseSdp("v=0\r\nm=audio 99999 RTP/AVP 0\r\n", &sd), SdpError::kBadMediaLine);
  std::string many = "v=0\r\n";
  for (int i = 0; i < 20; ++i) many += "m=audio 1000 RTP/AVP 0\r\n";
  EXPECT_EQ(ParseSdp(many, &sd), SdpError::kTooManyMedia);
  EXPECT_EQ(sd.media.size(), SessionDescription::kMaxMedia);
  // A hostname in c= is not an address we can match: connection present, unspecified.
  ASSERT_EQ(ParseSdp("v=0\r\nc=IN IP4 host.example\r\nm=audio 1 RTP/AVP 0\r\n", &sd),
            SdpError::kOk);
  EXPECT_TRUE(sd.media[0].has_connection);
  EXPECT_TRUE(sd.media[0].rtp.ip.is_unspecified());
}

TEST(SdpTest, EveryTruncationIsSafe) {
  const std::string sdp =
      "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 0 101\r\n"
      "a=rtpmap:101 telephone-event/8000\r\na=rtcp:4001 IN IP4 1.2.3.5\r\n";
  SessionDescription sd;
  for (std::size_t n = 0; n <= sdp.size(); ++n) {
    SdpError e = ParseSdp(std::string_view(sdp).substr(0, n), &sd);
    EXPECT_LT(static_cast<int>(e), static_cast<int>(SdpError::kCount));
  }
  EXPECT_EQ(sd.media.size(), 1u);
}

}  // namespace
}  // namespace callvault::sip
