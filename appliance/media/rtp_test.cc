#include "appliance/media/rtp.h"

#include <gtest/gtest.h>

#include <vector>

#include "appliance/media/codec.h"
#include "appliance/media/test_util.h"

namespace callvault::media {
namespace {

using testing::RtpBytes;

TEST(RtpParse, FixedHeader) {
  auto b = RtpBytes(0x1234, 0xdeadbeef, 0x01020304, 8, {1, 2, 3}, true);
  RtpHeader h;
  ASSERT_EQ(ParseRtp(b, &h), RtpError::kOk);
  EXPECT_EQ(h.seq, 0x1234);
  EXPECT_EQ(h.timestamp, 0xdeadbeefu);
  EXPECT_EQ(h.ssrc, 0x01020304u);
  EXPECT_EQ(h.payload_type, 8);
  EXPECT_TRUE(h.marker);
  ASSERT_EQ(h.payload.size(), 3u);
  EXPECT_EQ(h.payload[0], 1);
}

TEST(RtpParse, PlainRtpShortcutAgreesWithClassifyAndParse) {
  // ParsePlainRtp takes only what ClassifyMediaPacket calls RTP and ParseRtp parses the
  // same way; every first/second byte combination, and short datagrams.
  for (int b0 = 0; b0 < 256; ++b0) {
    for (int b1 = 0; b1 < 256; ++b1) {
      for (std::size_t len : {std::size_t(8), std::size_t(11), std::size_t(12), std::size_t(40)}) {
        std::vector<uint8_t> d(len);
        for (std::size_t i = 0; i < len; ++i) d[i] = uint8_t(i * 37 + 11);
        d[0] = uint8_t(b0);
        d[1] = uint8_t(b1);
        RtpHeader fast;
        if (!ParsePlainRtp(d, &fast)) {
          EXPECT_FALSE(b0 == 0x80 && len >= 12 && (b1 < 192 || b1 > 223));
          continue;
        }
        ASSERT_EQ(ClassifyMediaPacket(d), MediaPacketKind::kRtp) << b0 << " " << b1;
        RtpHeader full;
        ASSERT_EQ(ParseRtp(d, &full), RtpError::kOk);
        EXPECT_EQ(fast.padding, full.padding);
        EXPECT_EQ(fast.extension, full.extension);
        EXPECT_EQ(fast.csrc_count, full.csrc_count);
        EXPECT_EQ(fast.marker, full.marker);
        EXPECT_EQ(fast.payload_type, full.payload_type);
        EXPECT_EQ(fast.seq, full.seq);
        EXPECT_EQ(fast.timestamp, full.timestamp);
        EXPECT_EQ(fast.ssrc, full.ssrc);
        EXPECT_EQ(fast.ext_profile, full.ext_profile);
        EXPECT_EQ(fast.pad_bytes, full.pad_bytes);
        EXPECT_EQ(fast.payload.data(), full.payload.data());
        EXPECT_EQ(fast.payload.size(), full.payload.size());
      }
    }
  }
}

TEST(RtpParse, CsrcExtensionPadding) {
  // RFC 3550 §5.1/§5.3.1: CC=2, X=1 with a 1-word extension, P=1 with 4 pad bytes.
  std::vector<uint8_t> b = {0xB2, 0x00, 0, 1, 0, 0, 0, 160, 0, 0, 0, 9,
                            0, 0, 0, 1, 0, 0, 0, 2,             // CSRCs
                            0xBE, 0xDE, 0, 1, 0x10, 0xAA, 0, 0,  // extension
                            7, 7, 7,                            // payload
                            0, 0, 0, 4};                        // padding
  RtpHeader h;
  ASSERT_EQ(ParseRtp(b, &h), RtpError::kOk);
  EXPECT_EQ(h.csrc_count, 2);
  EXPECT_EQ(h.ext_profile, 0xBEDE);
  EXPECT_EQ(h.pad_bytes, 4);
  ASSERT_EQ(h.payload.size(), 3u);
  EXPECT_EQ(h.payload[2], 7);
}

TEST(RtpParse, MalformedAndTruncated) {
  RtpHeader h;
  std::vector<uint8_t> b = {0x80, 0, 0, 1};
  EXPECT_EQ(ParseRtp(b, &h), RtpError::kTooShort);
  auto v1 = RtpBytes(1, 1, 1, 0, {1});
  v1[0] = 0x40;
  EXPECT_EQ(ParseRtp(v1, &h), RtpError::kBadVersion);
  auto csrc = RtpBytes(1, 1, 1, 0, {1, 2, 3});
  csrc[0] = 0x85;  // 5 CSRCs announced, 3 bytes present
  EXPECT_EQ(ParseRtp(csrc, &h), RtpError::kTooShort);
  auto pad = RtpBytes(1, 1, 1, 0, {1, 2, 9});
  pad[0] = 0xA0;  // padding count 9 > payload
  EXPECT_EQ(ParseRtp(pad, &h), RtpError::kBadPadding);
  auto ext = RtpBytes(1, 1, 1, 0, {0xBE, 0xDE, 0, 5});
  ext[0] = 0x90;  // extension of 5 words, none present
  EXPECT_EQ(ParseRtp(ext, &h), RtpError::kTooShort);
  // Every prefix of a valid packet parses or fails cleanly.
  std::vector<uint8_t> full = {0xB1, 0x00, 0, 1, 0, 0, 0, 160, 0, 0, 0, 9, 0, 0, 0, 1,
                               0xBE, 0xDE, 0, 1, 0x10, 0xAA, 0, 0, 7, 7, 2};
  for (std::size_t n = 0; n <= full.size(); ++n) {
    RtpError e = ParseRtp(std::span(full.data(), n), &h);
    if (e == RtpError::kOk) {
      EXPECT_LE(h.payload.size(), n);
    }
  }
}

TEST(Classify, RtcpMuxByPayloadTypeRange) {
  // RFC 5761 §4: second byte 200 (SR) is RTCP, PT 0/8/101 are RTP.
  std::vector<uint8_t> sr = {0x80, 200, 0, 6, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0,
                             0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  std::vector<uint8_t> sdes = {0x81, 202, 0, 2, 0, 0, 0, 1, 1, 1, 'x', 0};
  std::vector<uint8_t> compound = sr;
  compound.insert(compound.end(), sdes.begin(), sdes.end());
  EXPECT_EQ(ClassifyMediaPacket(compound), MediaPacketKind::kRtcp);
  RtcpSummary s;
  ASSERT_TRUE(ParseRtcp(compound, &s));
  EXPECT_EQ(s.packets, 2);
  EXPECT_TRUE(s.sr);
  EXPECT_TRUE(s.sdes);
  EXPECT_FALSE(s.bye);
  EXPECT_EQ(s.sender_ssrc, 1u);
  EXPECT_FALSE(s.trailing);
  std::vector<uint8_t> bye = {0x81, 203, 0, 1, 0, 0, 0, 7};
  ASSERT_TRUE(ParseRtcp(bye, &s));
  EXPECT_TRUE(s.bye);
  for (uint8_t pt : {0, 8, 101, 127}) {
    EXPECT_EQ(ClassifyMediaPacket(RtpBytes(1, 2, 3, pt, {0})), MediaPacketKind::kRtp) << int(pt);
  }
  // A bad RTCP length (longer than the datagram) is not RTCP.
  std::vector<uint8_t> bad = {0x80, 201, 0, 9, 0, 0, 0, 1};
  EXPECT_EQ(ClassifyMediaPacket(bad), MediaPacketKind::kUnknown);
}

TEST(Classify, StunZrtpDtls) {
  // RFC 5389 binding request: type 0x0001, length 0, cookie, 12-byte transaction id.
  std::vector<uint8_t> stun = {0, 1, 0, 0, 0x21, 0x12, 0xA4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8,
                               9, 10, 11, 12};
  EXPECT_TRUE(IsStun(stun));
  EXPECT_EQ(ClassifyMediaPacket(stun), MediaPacketKind::kStun);
  stun[3] = 4;  // length says 4 more bytes that are not there
  EXPECT_FALSE(IsStun(stun));
  // RFC 6189 §5: 0x10 0x00 seq(2) "ZRTP" ssrc ...
  std::vector<uint8_t> zrtp = {0x10, 0, 0, 1, 'Z', 'R', 'T', 'P', 0, 0, 0, 1, 0x50, 0x5a};
  EXPECT_TRUE(IsZrtp(zrtp));
  EXPECT_EQ(ClassifyMediaPacket(zrtp), MediaPacketKind::kZrtp);
  std::vector<uint8_t> dtls = {22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(ClassifyMediaPacket(dtls), MediaPacketKind::kDtls);
  EXPECT_EQ(ClassifyMediaPacket({}), MediaPacketKind::kUnknown);
}

TEST(Codec, StaticAndNames) {
  PayloadMap m;
  EXPECT_EQ(m.Get(0).codec, Codec::kPcmu);
  EXPECT_EQ(m.Get(8).codec, Codec::kPcma);
  EXPECT_EQ(m.Get(9).clock_rate, 8000u);  // RFC 3551 §4.5.2
  EXPECT_EQ(m.Get(101).codec, Codec::kUnknown);
  EXPECT_EQ(CodecFromName("OPUS"), Codec::kOpus);
  EXPECT_EQ(CodecFromName("telephone-event"), Codec::kTelephoneEvent);
  EXPECT_TRUE(PlausibleRtpPayloadType(0));
  EXPECT_TRUE(PlausibleRtpPayloadType(111));
  EXPECT_FALSE(PlausibleRtpPayloadType(72));
  EXPECT_FALSE(PlausibleRtpPayloadType(20));
}

}  // namespace
}  // namespace callvault::media
