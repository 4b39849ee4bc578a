#include "appliance/media/rtp_stats.h"

#include <gtest/gtest.h>

#include "appliance/media/dtmf.h"

namespace callvault::media {
namespace {

constexpr uint64_t kMs = 1000000;

TEST(RtpStats, InOrderNoLossNoJitter) {
  RtpStats s(64);
  for (int i = 0; i < 100; ++i) {
    s.Update(7, uint16_t(65500 + i), 160u * i, 0, 8000, 1000 * kMs + i * 20 * kMs, false);
  }
  EXPECT_EQ(s.packets(), 100u);  // includes a 16-bit sequence wrap
  EXPECT_EQ(s.lost(), 0u);
  EXPECT_EQ(s.duplicates(), 0u);
  EXPECT_DOUBLE_EQ(s.jitter_ms(), 0.0);
}

TEST(RtpStats, LossDuplicatesReorderLate) {
  RtpStats s(8);
  auto up = [&](uint16_t seq) {
    return s.Update(1, seq, seq * 160u, 0, 8000, seq * 20 * kMs, false);
  };
  EXPECT_EQ(up(10), SeqVerdict::kNewRun);
  EXPECT_EQ(up(11), SeqVerdict::kInOrder);
  EXPECT_EQ(up(11), SeqVerdict::kDuplicate);   // SPAN double delivery
  EXPECT_EQ(up(14), SeqVerdict::kInOrder);     // 12, 13 missing
  EXPECT_EQ(up(12), SeqVerdict::kReordered);   // 12 arrives late but within the window
  EXPECT_EQ(up(12), SeqVerdict::kDuplicate);
  for (uint16_t q = 15; q <= 30; ++q) up(q);
  EXPECT_EQ(up(13), SeqVerdict::kLate);        // older than the 8-packet window
  // Expected 10..30 = 21, unique received = 20 (13 never counted as received).
  EXPECT_EQ(s.lost(), 1u);
  EXPECT_EQ(s.duplicates(), 2u);
  EXPECT_EQ(s.reordered(), 1u);
  EXPECT_EQ(s.late(), 1u);
  EXPECT_EQ(s.packets(), 23u);
}

TEST(RtpStats, SsrcChangeStartsNewRunKeepsLoss) {
  RtpStats s(64);
  s.Update(1, 100, 0, 0, 8000, 0, false);
  s.Update(1, 102, 320, 0, 8000, 40 * kMs, false);  // 101 lost
  s.Update(2, 5000, 9999, 0, 8000, 60 * kMs, false);
  s.Update(2, 5001, 10159, 0, 8000, 80 * kMs, false);
  EXPECT_EQ(s.ssrc_changes(), 1u);
  EXPECT_EQ(s.lost(), 1u);
  EXPECT_EQ(s.ssrc(), 2u);
}

TEST(RtpStats, JitterMatchesRfc3550Formula) {
  // Arrival alternates 0 / +4 ms around the 20 ms grid: |D| = 32 ts units each packet
  // after the first. J converges to 32 with J_n = J_{n-1} + (32 - J_{n-1}) / 16.
  RtpStats s(64);
  double j = 0;
  for (int i = 0; i < 50; ++i) {
    uint64_t arr = uint64_t(i) * 20 * kMs + (i % 2 ? 4 * kMs : 0);
    s.Update(3, uint16_t(i), 160u * i, 0, 8000, arr, false);
    if (i > 0) j += (32.0 - j) / 16.0;
  }
  EXPECT_NEAR(s.jitter_ms(), j * 1000.0 / 8000.0, 1e-9);
}

TEST(Dtmf, OneEventPerKeyPressEndRetransmissionsCounted) {
  DtmfTracker t;
  auto pkt = [](uint8_t ev, bool end, uint16_t dur) {
    return std::vector<uint8_t>{ev, uint8_t((end ? 0x80 : 0) | 10), uint8_t(dur >> 8),
                                uint8_t(dur)};
  };
  // Key 5: start, 2 updates, end sent three times (RFC 4733 §2.5.1.4).
  for (uint16_t d : {160, 320, 480}) t.OnPacket(pkt(5, false, d), 1000, 8000, d * kMs);
  for (int i = 0; i < 3; ++i) t.OnPacket(pkt(5, true, 800), 1000, 8000, 600 * kMs);
  // Key '#': its end packets are all lost; closed when key 1 starts.
  t.OnPacket(pkt(11, false, 160), 9000, 8000, 2000 * kMs);
  t.OnPacket(pkt(1, true, 400), 20000, 8000, 3000 * kMs);
  t.OnPacket(pkt(1, true, 400), 20000, 8000, 3000 * kMs);
  t.Finish();
  auto ev = t.events();
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].event, 5);
  EXPECT_EQ(ev[0].duration_ms(), 100u);  // 800 / 8000 s
  EXPECT_TRUE(ev[0].ended);
  EXPECT_EQ(ev[1].event, 11);
  EXPECT_FALSE(ev[1].ended);
  EXPECT_EQ(ev[2].event, 1);
  EXPECT_EQ(t.end_retransmissions(), 3u);
  EXPECT_EQ(DtmfDigitName(11), "#");
  EXPECT_EQ(DtmfDigitName(10), "*");
  EXPECT_EQ(DtmfDigitName(13), "B");
  EXPECT_EQ(DtmfDisplay("5", true), "X");
  EXPECT_EQ(DtmfDisplay("5", false), "5");
  EXPECT_FALSE(t.OnPacket(std::vector<uint8_t>{1, 2}, 1, 8000, 0));
}

}  // namespace
}  // namespace callvault::media
