#include "appliance/media/media_engine.h"

#include <gtest/gtest.h>

#include <memory>

#include "appliance/common/frame_record.h"
#include "appliance/media/leg_events.h"
#include "appliance/media/test_util.h"

namespace callvault::media {
namespace {

using testing::CollectingObserver;
using testing::CollectingSink;
using testing::Ep;
using testing::RtpBytes;
using testing::TestPacket;

constexpr uint64_t kMs = 1000000;
constexpr uint64_t kT0 = 1700000000ull * 1000000000ull;

const Endpoint kA = Ep(0x0a000001, 16384);     // caller announces
const Endpoint kB = Ep(0x0a000002, 20000);     // agent announces

calls::MediaSession Session(const Endpoint& a, const Endpoint& b, bool mux = false) {
  calls::MediaSession s;
  s.call_id = CallId::Make(kT0, "call-1");
  s.ts_ns = kT0;
  s.agent_side = calls::kSideB;
  for (int side = 0; side < 2; ++side) {
    const Endpoint& e = side == 0 ? a : b;
    calls::MediaStream m;
    m.rtp = e;
    m.rtcp = mux ? e : Endpoint{e.ip, uint16_t(e.port + 1)};
    m.rtcp_mux = mux;
    m.payload_types = {{0, "PCMU", 8000, 1}, {101, "telephone-event", 8000, 1}};
    s.side[side].announced = true;
    s.side[side].streams.push_back(m);
  }
  return s;
}

struct Fixture {
  CollectingSink sink;
  CollectingObserver obs;
  std::unique_ptr<MediaEngine> eng;
  explicit Fixture(uint32_t block_bytes = 65536) {
    MediaEngineOptions o;
    o.max_legs = 64;
    o.limits.block_bytes = block_bytes;
    eng = std::make_unique<MediaEngine>(o, &sink, &obs);
  }
  bool Send(const Endpoint& src, const Endpoint& dst, const std::vector<uint8_t>& udp,
            uint64_t ts) {
    TestPacket p(src, dst, udp, ts);
    return eng->OnPacket(p.pkt);
  }
  uint64_t FramesOf(uint16_t leg, StreamKind kind) const {
    uint64_t n = 0;
    for (const auto& b : sink.blocks) {
      if (b.info.leg == leg && b.info.kind == kind) {
        FrameRecordReader r(b.payload);
        while (r.Next()) ++n;
        EXPECT_FALSE(r.error());
        EXPECT_EQ(b.info.call_id, CallId::Make(kT0, "call-1"));
      }
    }
    return n;
  }
};

TEST(MediaEngine, BothDirectionsRtcpDuplicatesAndGraceAfterBye) {
  Fixture f;
  f.eng->OnMediaChanged(Session(kA, kB));
  for (int i = 0; i < 100; ++i) {
    uint64_t t = kT0 + i * 20 * kMs;
    ASSERT_TRUE(f.Send(kA, kB, RtpBytes(uint16_t(i), 160u * i, 0xA, 0, std::vector<uint8_t>(160, 0xff)), t));
    ASSERT_TRUE(f.Send(kB, kA, RtpBytes(uint16_t(i), 160u * i, 0xB, 0, std::vector<uint8_t>(160, 0xff)), t));
    if (i % 10 == 0) {  // SPAN delivers some packets twice
      ASSERT_TRUE(f.Send(kA, kB, RtpBytes(uint16_t(i), 160u * i, 0xA, 0, std::vector<uint8_t>(160, 0xff)), t));
    }
    f.eng->Advance(t);
  }
  // RTCP to port+1.
  std::vector<uint8_t> rr = {0x80, 201, 0, 1, 0, 0, 0, 0xA};
  ASSERT_TRUE(f.Send(Endpoint{kA.ip, 16385}, Endpoint{kB.ip, 20001}, rr, kT0 + 2000 * kMs));
  // BYE at 2 s; RTP continues for 1 s more (in flight), inside the 2 s grace.
  calls::MediaSession bye = Session(kA, kB);
  bye.ended = true;
  bye.ts_ns = kT0 + 2000 * kMs;
  f.eng->OnMediaChanged(bye);
  for (int i = 100; i < 150; ++i) {
    uint64_t t = kT0 + i * 20 * kMs;
    ASSERT_TRUE(f.Send(kA, kB, RtpBytes(uint16_t(i), 160u * i, 0xA, 0, std::vector<uint8_t>(160, 0xff)), t));
    f.eng->Advance(t);
  }
  EXPECT_EQ(f.eng->active_legs(), 2u);
  f.eng->Advance(kT0 + 4001 * kMs);  // grace over
  EXPECT_EQ(f.eng->active_legs(), 0u);
  // Leg numbers: dialog 0, stream 0, sender A=0 / B=1.
  EXPECT_EQ(f.FramesOf(0, StreamKind::kRtp), 160u);  // 150 + 10 duplicates, all kept
  EXPECT_EQ(f.FramesOf(1, StreamKind::kRtp), 100u);
  EXPECT_EQ(f.FramesOf(0, StreamKind::kRtcp), 1u);
  ASSERT_EQ(f.obs.closed.size(), 2u);
  for (const auto& c : f.obs.closed) {
    if (c.leg.leg == 0) {
      EXPECT_EQ(c.leg.direction, LegDirection::kCallerToAgent);
      EXPECT_EQ(c.leg.packets, 160u);
      EXPECT_EQ(c.leg.duplicates, 10u);
      EXPECT_EQ(c.leg.lost, 0u);
      EXPECT_EQ(c.leg.codec, "PCMU");
    } else {
      EXPECT_EQ(c.leg.direction, LegDirection::kAgentToCaller);
      EXPECT_EQ(c.leg.packets, 100u);
    }
  }
  // One events block per leg, decodable.
  int events = 0;
  for (const auto& b : f.sink.blocks) {
    if (b.info.kind != StreamKind::kEvents) continue;
    ++events;
    auto s = DecodeLegSummary(b.payload);
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(s->leg.leg, b.info.leg);
  }
  EXPECT_EQ(events, 2);
  EXPECT_EQ(f.eng->drops().Total(), 0u);
}

TEST(MediaEngine, RtcpMuxNatLatchStunAndDtmf) {
  Fixture f;
  const Endpoint private_a = Ep(0xc0a80001, 4000);   // announced behind NAT
  const Endpoint public_a = Ep(0xcb007101, 61000);   // what the wire shows
  f.eng->OnMediaChanged(Session(private_a, kB, /*mux=*/true));
  // A -> B from the NAT address: matched by destination, source latched.
  ASSERT_TRUE(f.Send(public_a, kB, RtpBytes(1, 0, 0xA, 0, std::vector<uint8_t>(160, 0)), kT0));
  // B -> A's public address: matched through the latch.
  ASSERT_TRUE(f.Send(kB, public_a, RtpBytes(1, 0, 0xB, 0, std::vector<uint8_t>(160, 0)), kT0));
  // RTCP multiplexed on the RTP port (RFC 5761).
  std::vector<uint8_t> rr = {0x80, 201, 0, 1, 0, 0, 0, 0xB};
  ASSERT_TRUE(f.Send(kB, public_a, rr, kT0 + 1 * kMs));
  // STUN on the media port (ICE keepalive).
  std::vector<uint8_t> stun = {0, 1, 0, 0, 0x21, 0x12, 0xA4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8,
                               9, 10, 11, 12};
  ASSERT_TRUE(f.Send(public_a, kB, stun, kT0 + 2 * kMs));
  // DTMF '7' from A, end packet three times, PT 101.
  for (uint16_t d : {160, 320}) {
    std::vector<uint8_t> ev = {7, 10, uint8_t(d >> 8), uint8_t(d)};
    f.Send(public_a, kB, RtpBytes(uint16_t(1 + d / 160), 8000, 0xA, 101, ev), kT0 + 1000 * kMs + d * kMs / 8);
  }
  for (int i = 0; i < 3; ++i) {
    std::vector<uint8_t> ev = {7, 0x80 | 10, 0x03, 0x20};  // 800 = 100 ms
    f.Send(public_a, kB, RtpBytes(uint16_t(4 + i), 8000, 0xA, 101, ev), kT0 + 1100 * kMs);
  }
  f.eng->Finish();
  EXPECT_EQ(f.eng->events()[MediaEvent::kLatched], 1u);
  EXPECT_EQ(f.eng->events()[MediaEvent::kStun], 1u);
  EXPECT_EQ(f.eng->events()[MediaEvent::kRtcp], 1u);
  EXPECT_EQ(f.FramesOf(1, StreamKind::kRtcp), 1u);
  EXPECT_EQ(f.FramesOf(0, StreamKind::kOther), 1u);
  EXPECT_EQ(f.FramesOf(0, StreamKind::kRtp), 6u);
  ASSERT_EQ(f.obs.closed.size(), 2u);
  const auto& a = f.obs.closed[0].leg.leg == 0 ? f.obs.closed[0] : f.obs.closed[1];
  ASSERT_EQ(a.dtmf.size(), 1u);
  EXPECT_EQ(a.dtmf[0].digit, "7");
  EXPECT_EQ(a.dtmf[0].duration_ms, 100u);
  EXPECT_EQ(a.dtmf[0].source, "rfc4733");
  EXPECT_NEAR(a.dtmf[0].offset_s, 1.02, 0.001);
  EXPECT_EQ(a.leg.src, public_a);
}

TEST(MediaEngine, OrphanRtpBecomesOrphanCallAndNonRtpIsDropped) {
  Fixture f;
  const Endpoint x = Ep(0x0a000009, 30000), y = Ep(0x0a00000a, 40000);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(f.Send(x, y, RtpBytes(uint16_t(i), 160u * i, 0x77, 8, std::vector<uint8_t>(160, 0xd5)), kT0 + i * 20 * kMs));
    ASSERT_TRUE(f.Send(y, x, RtpBytes(uint16_t(500 + i), 160u * i, 0x88, 8, std::vector<uint8_t>(160, 0xd5)), kT0 + i * 20 * kMs + kMs));
  }
  // DNS-like noise: not RTP.
  EXPECT_FALSE(f.Send(Ep(0x0a000001, 5353), Ep(0x0a000002, 53), {0x12, 0x34, 1, 0}, kT0));
  ASSERT_EQ(f.obs.orphans_started.size(), 1u);
  f.eng->Finish();
  ASSERT_EQ(f.obs.orphans_ended.size(), 1u);
  const CallRecord& rec = f.obs.orphans_ended[0];
  EXPECT_EQ(rec.state, CallState::kOrphan);
  ASSERT_EQ(rec.legs.size(), 2u);
  uint64_t total = 0;
  for (const auto& l : rec.legs) {
    EXPECT_EQ(l.packets, 10u);  // the held probation packets are recorded too
    EXPECT_EQ(l.lost, 0u);
    total += l.packets;
  }
  EXPECT_EQ(total, 20u);
  EXPECT_EQ(f.eng->drops()[MediaDrop::kNotRtp], 1u);
  EXPECT_EQ(f.eng->drops().Total(), 1u);
}

TEST(MediaEngine, BlocksRollAtBlockBytesAndSinkRefusalIsCounted) {
  Fixture f(/*block_bytes=*/4096);
  f.eng->OnMediaChanged(Session(kA, kB));
  for (int i = 0; i < 100; ++i) {
    f.Send(kA, kB, RtpBytes(uint16_t(i), 160u * i, 0xA, 0, std::vector<uint8_t>(160, 0)), kT0 + i * 20 * kMs);
  }
  uint32_t rtp_blocks = 0;
  for (const auto& b : f.sink.blocks) {
    if (b.info.kind != StreamKind::kRtp) continue;
    EXPECT_LE(b.payload.size(), 4096u);
    EXPECT_EQ(b.info.seq, rtp_blocks);
    ++rtp_blocks;
  }
  // 230-byte records (16 + 214): 17 per 4096-byte block -> 5 full blocks of 100 frames.
  EXPECT_EQ(rtp_blocks, 5u);
  f.sink.refuse = true;
  f.eng->Finish();
  EXPECT_EQ(f.eng->drops()[MediaDrop::kSinkRefused], 100u - 5 * 17 + 1 /*events block*/);
}

TEST(MediaEngine, ReInviteMovesMediaOldEndpointRetiresAfterGrace) {
  Fixture f;
  f.eng->OnMediaChanged(Session(kA, kB));
  ASSERT_TRUE(f.Send(kA, kB, RtpBytes(1, 0, 0xA, 0, {0}), kT0));
  const Endpoint b2 = Ep(0x0a000002, 30000);
  calls::MediaSession re = Session(kA, b2);
  re.ts_ns = kT0 + 10 * kMs;
  f.eng->OnMediaChanged(re);
  ASSERT_TRUE(f.Send(kA, kB, RtpBytes(2, 160, 0xA, 0, {0}), kT0 + 20 * kMs));  // in flight
  ASSERT_TRUE(f.Send(kA, b2, RtpBytes(3, 320, 0xA, 0, {0}), kT0 + 40 * kMs));
  f.eng->Advance(kT0 + 3000 * kMs);
  // Old endpoint retired: kB:20000 is no longer bound (orphan path: held, not matched).
  ASSERT_TRUE(f.Send(Ep(0x0a000003, 5000), kB, RtpBytes(1, 0, 0x5, 0, {0}), kT0 + 3001 * kMs));
  EXPECT_EQ(f.eng->events()[MediaEvent::kOrphanCall], 0u);
  f.eng->Finish();
  EXPECT_EQ(f.FramesOf(0, StreamKind::kRtp), 3u);
}

}  // namespace
}  // namespace callvault::media
