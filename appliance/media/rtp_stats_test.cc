#include "appliance/media/rtp_stats.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <set>

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

// The rules of rtp_stats.h written plainly: every seen extended number in a std::set
// (no bitmap, no window mechanics), the A.8 jitter with 64-bit transits, the maximum
// jitter as the largest jitter_ms() after any packet. RtpStats must agree verdict by
// verdict and counter by counter, on both window representations.
class ReferenceStats {
 public:
  explicit ReferenceStats(uint32_t window) : window_(std::min<uint32_t>(window, 1024)) {}

  SeqVerdict Update(uint32_t ssrc, uint16_t seq, uint32_t rtp_ts, uint8_t pt, uint32_t clock,
                    uint64_t arrival_ns, bool cn) {
    ++packets;
    pts.insert(pt);
    if (cn) ++comfort_noise;
    SeqVerdict v;
    if (!started_ || ssrc != ssrc_) {
      if (started_) ++ssrc_changes;
      Start(ssrc, seq);
      v = SeqVerdict::kNewRun;
    } else {
      int32_t delta = int16_t(uint16_t(seq - uint16_t(max_)));
      int64_t ext = int64_t(max_) + delta;
      if (delta > 0 && delta < RtpStats::kMaxDropout) {
        max_ = uint32_t(ext);
        seen_.insert(max_);
        ++run_unique_;
        v = SeqVerdict::kInOrder;
      } else if (delta <= 0 && uint32_t(-delta) < window_ && ext >= int64_t(base_)) {
        if (seen_.count(uint32_t(ext))) {
          ++duplicates;
          return SeqVerdict::kDuplicate;
        }
        seen_.insert(uint32_t(ext));
        ++run_unique_;
        ++reordered;
        v = SeqVerdict::kReordered;
      } else if (delta <= 0 && -delta < RtpStats::kMaxMisorder) {
        ++late;
        return SeqVerdict::kLate;
      } else {
        ++resyncs;
        Start(ssrc, seq);
        v = SeqVerdict::kNewRun;
      }
    }
    if (clock != 0 && v != SeqVerdict::kReordered) {
      if (clock != clock_) {
        jitter_ = 0;
        clock_ = clock;
        have_transit_ = false;
      }
      base_ns_ = std::min(base_ns_, arrival_ns);
      int64_t arrival = int64_t((arrival_ns - base_ns_) / 1000 * clock / 1000000);
      int64_t transit = arrival - int64_t(rtp_ts);
      if (have_transit_ && pt == last_pt_) {
        int64_t d = int64_t(int32_t(uint32_t(transit - last_transit_)));
        jitter_ += (double(std::llabs(d)) - jitter_) / 16.0;
        max_jitter_ms = std::max(max_jitter_ms, jitter_ms());
      }
      last_transit_ = transit;
      have_transit_ = true;
    }
    last_pt_ = pt;
    return v;
  }
  uint64_t lost() const { return lost_closed_ + RunLoss(); }
  double jitter_ms() const { return clock_ == 0 ? 0.0 : jitter_ * 1000.0 / clock_; }

  uint64_t packets = 0, duplicates = 0, reordered = 0, late = 0, ssrc_changes = 0;
  uint64_t resyncs = 0, comfort_noise = 0;
  double max_jitter_ms = 0;
  std::set<uint8_t> pts;

 private:
  uint64_t RunLoss() const {
    uint64_t expected = uint64_t(max_) - base_ + 1;
    return started_ && expected > run_unique_ ? expected - run_unique_ : 0;
  }
  void Start(uint32_t ssrc, uint16_t seq) {
    lost_closed_ += RunLoss();
    started_ = true;
    ssrc_ = ssrc;
    base_ = max_ = (1u << 16) | seq;
    run_unique_ = 1;
    seen_ = {base_};
    have_transit_ = false;
  }

  uint32_t window_;
  bool started_ = false;
  uint32_t ssrc_ = 0, base_ = 0, max_ = 0;
  uint64_t run_unique_ = 0, lost_closed_ = 0;
  std::set<uint32_t> seen_;
  uint32_t clock_ = 0;
  uint64_t base_ns_ = UINT64_MAX;
  bool have_transit_ = false;
  int64_t last_transit_ = 0;
  double jitter_ = 0;
  uint8_t last_pt_ = 0;
};

TEST(RtpStats, AgreesWithTheReferenceOnRandomStreams) {
  // Windows 1..64 use the shift register, larger ones the ring.
  for (uint32_t window : {1u, 2u, 8u, 63u, 64u, 65u, 200u, 1024u, 4096u}) {
    for (uint32_t seed = 1; seed <= 4; ++seed) {
      SCOPED_TRACE(::testing::Message() << "window " << window << " seed " << seed);
      std::mt19937 rng(seed * 1000 + window);
      RtpStats s(window);
      ReferenceStats ref(window);
      uint32_t ssrc = 1;
      uint16_t seq = uint16_t(65400 + seed * 10);  // wraps early
      uint32_t ts = 0;
      uint8_t pt = 0;
      uint32_t clock = 8000;
      uint64_t now = 1000000000ull;
      for (int i = 0; i < 20000; ++i) {
        int r = int(rng() % 1000);
        uint16_t send = seq;
        if (r < 700) {
          send = ++seq;                               // in order
        } else if (r < 780) {
          seq = uint16_t(seq + 2 + rng() % 100);      // loss burst
          send = seq;
        } else if (r < 850) {
          send = uint16_t(seq - rng() % 70);          // duplicate or reordered
        } else if (r < 900) {
          send = uint16_t(seq - 60 - rng() % 1200);   // around and past the window
        } else if (r < 905) {
          send = uint16_t(seq - 2000 - rng() % 3000); // far back: late or a resync
        } else if (r < 910) {
          seq = uint16_t(seq + 3000 + rng() % 30000); // jump: resync
          send = seq;
        } else if (r < 912) {
          ssrc = ssrc == 1 ? 2 : 1;                   // SSRC change
        } else if (r < 940) {
          pt = pt == 0 ? 13 : (pt == 13 ? 101 : 0);   // CN, telephone-event, PCMU
        } else if (r < 945) {
          clock = clock == 8000 ? 16000 : 8000;       // codec with another clock
        }
        ts += 160;
        now += 20000000ull + rng() % 8000000ull - (rng() % 2 ? 3000000ull : 0);
        uint32_t c = pt == 101 ? 0 : clock;  // the engine passes 0 for non-audio
        bool cn = pt == 13;
        uint32_t rtp_ts = ts - uint32_t(rng() % 3) * 160;
        SeqVerdict got = s.Update(ssrc, send, rtp_ts, pt, c, now, cn);
        SeqVerdict want = ref.Update(ssrc, send, rtp_ts, pt, c, now, cn);
        ASSERT_EQ(got, want) << "packet " << i << " seq " << send;
      }
      EXPECT_EQ(s.packets(), ref.packets);
      EXPECT_EQ(s.duplicates(), ref.duplicates);
      EXPECT_EQ(s.reordered(), ref.reordered);
      EXPECT_EQ(s.late(), ref.late);
      EXPECT_EQ(s.lost(), ref.lost());
      EXPECT_EQ(s.ssrc_changes(), ref.ssrc_changes);
      EXPECT_EQ(s.resyncs(), ref.resyncs);
      EXPECT_EQ(s.comfort_noise(), ref.comfort_noise);
      EXPECT_EQ(s.jitter_ms(), ref.jitter_ms());
      EXPECT_EQ(s.max_jitter_ms(), ref.max_jitter_ms);
      EXPECT_GT(ref.duplicates + ref.reordered + ref.late + ref.resyncs, 0u);
      for (int p = 0; p < 128; ++p) {
        EXPECT_EQ(s.pt_seen(uint8_t(p)), ref.pts.count(uint8_t(p)) == 1) << "pt " << p;
      }
    }
  }
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
