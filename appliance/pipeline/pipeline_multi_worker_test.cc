// EnginePipelines sharing a MediaBus (media_bus.h), on synthetic frames routed by hand:
// the SIP of a call on worker 0, its RTP on worker 1 (and RTCP back on worker 0), against
// one reference pipeline fed everything. Checks: same records (legs, packet counts, DTMF,
// codecs, end) and stream contents; a leg reported by two workers is combined and its
// summaries get distinct sequence numbers; a call whose RTP outlives its SIP idle timeout
// on another worker is not expired (media activity relay); a full queue is counted.
// Expected values come from the test's construction.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "appliance/common/time_util.h"
#include "appliance/config/config.h"
#include "appliance/media/test_util.h"
#include "appliance/pipeline/test_sip.h"
#include "appliance/pipeline/multi_worker_harness.h"

namespace callvault {
namespace {

using pipeline_testing::At;
using pipeline_testing::Ep;
using pipeline_testing::kCallerSip;
using pipeline_testing::kPbxSip;
using pipeline_testing::Sip;

using media::testing::RtpBytes;
using media::testing::TestPacket;
using pipeline_testing::Differences;
using pipeline_testing::Join;
using pipeline_testing::MultiWorker;




std::string Sdp(const Endpoint& rtp) {
  return fmt::format(
      "v=0\r\no=- 1 1 IN IP4 {0}\r\ns=-\r\nc=IN IP4 {0}\r\nt=0 0\r\n"
      "m=audio {1} RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n",
      rtp.ip.ToString(), rtp.port);
}

Endpoint Rtcp(const Endpoint& rtp) { return Endpoint{rtp.ip, uint16_t(rtp.port + 1)}; }

// An RTCP sender report (RFC 3550 §6.4.1) with no report blocks.
std::vector<uint8_t> SenderReport(uint32_t ssrc, uint32_t packets) {
  std::vector<uint8_t> r = {0x80, 200, 0x00, 0x06};
  for (int i = 0; i < 4; ++i) r.push_back(uint8_t(ssrc >> (24 - 8 * i)));
  r.resize(r.size() + 12, 0);  // NTP and RTP timestamps
  for (int i = 0; i < 4; ++i) r.push_back(uint8_t(packets >> (24 - 8 * i)));
  r.resize(28, 0);             // octet count
  return r;
}

class MultiWorkerTest : public ::testing::Test {
 protected:
  void Start(unsigned workers, size_t capacity, uint32_t idle_timeout_s = 7200) {
    Config cfg;
    cfg.media.max_legs = 1024;  // small tables: three pipelines per test
    cfg.sip.max_dialogs = 1024;
    cfg.sip.idle_timeout_s = idle_timeout_s;
    cfg.media.grace_ms = 2000;
    mw_ = std::make_unique<MultiWorker>(cfg, workers, capacity);
    ASSERT_TRUE(mw_->status().ok()) << mw_->status();
  }
  void Send(const Endpoint& src, const Endpoint& dst, const std::vector<uint8_t>& payload,
            double t, int worker) {
    now_ = At(t);
    TestPacket p(src, dst, payload, now_);
    mw_->Feed(p.frame, worker);
  }
  void SendSip(const Endpoint& src, const Endpoint& dst, const std::string& text, double t) {
    Send(src, dst, std::vector<uint8_t>(text.begin(), text.end()), t, /*worker=*/0);
  }
  void Setup(const std::string& cid, const Endpoint& a_rtp, const Endpoint& b_rtp, double t) {
    SendSip(kCallerSip, kPbxSip,
            Sip("INVITE sip:2001@pbx.example.com SIP/2.0", cid, 1, "INVITE", "", Sdp(a_rtp)), t);
    SendSip(kPbxSip, kCallerSip, Sip("SIP/2.0 200 OK", cid, 1, "INVITE", "tt", Sdp(b_rtp)),
            t + 0.5);
    SendSip(kCallerSip, kPbxSip,
            Sip("ACK sip:2001@pbx.example.com SIP/2.0", cid, 1, "ACK", "tt", ""), t + 0.6);
  }
  void Bye(const std::string& cid, double t) {
    SendSip(kCallerSip, kPbxSip, Sip("BYE sip:2001@pbx.example.com SIP/2.0", cid, 2, "BYE", "tt", ""),
            t);
    SendSip(kPbxSip, kCallerSip, Sip("SIP/2.0 200 OK", cid, 2, "BYE", "tt", ""), t + 0.05);
  }
  void Rtp(const Endpoint& src, const Endpoint& dst, uint16_t seq, double t, int worker) {
    Send(src, dst, RtpBytes(seq, uint32_t(seq) * 160, 0x1234 + src.port, 0,
                            std::vector<uint8_t>(160, 0xff)), t, worker);
  }
  // RFC 4733 §2.3 event packet: event, E bit + volume, duration.
  void DtmfPacket(const Endpoint& src, const Endpoint& dst, uint16_t seq, uint32_t ts,
                  uint8_t event, bool end, uint16_t duration, double t, int worker) {
    std::vector<uint8_t> ev = {event, uint8_t((end ? 0x80 : 0) | 10), uint8_t(duration >> 8),
                               uint8_t(duration)};
    Send(src, dst, RtpBytes(seq, ts, 0x1234 + src.port, 101, ev, /*marker=*/duration == 160), t,
         worker);
  }
  void AdvanceTo(double t) {
    for (uint64_t ns = now_; ns <= At(t); ns += 10 * kNsPerMs) mw_->AdvanceAll(ns);
    now_ = At(t);
  }

  std::unique_ptr<MultiWorker> mw_;
  uint64_t now_ = 0;
};

TEST_F(MultiWorkerTest, RtpOnAnotherWorkerIsRecordedAsOnOneWorker) {
  Start(2, 64);
  const Endpoint a = Ep("192.0.2.10", 16384), b = Ep("10.20.0.50", 20000);
  Setup("split@host", a, b, 0);
  // RTP both ways from 1 s to 6 s on worker 1; a DTMF "5" from the caller at 3 s (three
  // event packets in place of audio); RTCP from the caller at 2 s and 4 s on worker 0.
  uint16_t seq_a = 0, seq_b = 0;
  for (int i = 0; i < 250; ++i) {
    const double t = 1 + i * 0.02;
    if (i >= 100 && i < 103) {
      const uint16_t dur = uint16_t(160 * (i - 99));
      DtmfPacket(a, b, seq_a++, 100 * 160, 5, i == 102, dur, t, 1);
    } else {
      Rtp(a, b, seq_a++, t, 1);
    }
    Rtp(b, a, seq_b++, t + 0.001, 1);
    if (i == 50 || i == 150) Send(Rtcp(a), Rtcp(b), SenderReport(0x1234 + a.port, i), t + 0.002, 0);
  }
  Bye("split@host", 7);
  AdvanceTo(12);
  mw_->Finish();

  // The reference saw what the test built.
  ASSERT_EQ(mw_->single.calls.size(), 1u);
  const CallRecord& want = mw_->single.calls.begin()->second;
  EXPECT_EQ(want.state, CallState::kAnswered);
  ASSERT_EQ(want.legs.size(), 2u);
  EXPECT_EQ(want.legs[0].packets, 250u);
  EXPECT_EQ(want.legs[1].packets, 250u);
  ASSERT_EQ(want.dtmf.size(), 1u);
  EXPECT_EQ(want.dtmf[0].digit, "5");
  // The workers together produced the same records and streams. Leg 0 was reported by
  // worker 1 (RTP) and worker 0 (RTCP): two summaries, sequence numbers 0 and 1.
  const auto diff = Differences(mw_->multi, mw_->single, /*exact_events=*/false);
  EXPECT_TRUE(diff.empty()) << Join(diff);
  const uint64_t id = want.call_id.value;
  using Key = pipeline_testing::RecordingSink::StreamKey;
  const auto& ev0 = mw_->multi.streams[Key{id, int(StreamKind::kEvents), 0}];
  EXPECT_EQ(ev0.blocks.size(), 2u);
  EXPECT_EQ(ev0.blocks.count(0) + ev0.blocks.count(1), 2u);
  const Key events0{id, int(StreamKind::kEvents), 0}, rtcp0{id, int(StreamKind::kRtcp), 0};
  EXPECT_EQ(mw_->single.streams[events0].blocks.size(), 1u);
  EXPECT_EQ(mw_->multi.streams[rtcp0].frames, 2u);
  EXPECT_EQ(mw_->multi.ends[id], 1);
  // INVITE, 200 and the BYE's ended publication went to worker 1; its two legs came back.
  EXPECT_EQ(mw_->Counter("bus.sent.session"), 3u);
  EXPECT_EQ(mw_->Counter("bus.received.session"), 3u);
  EXPECT_EQ(mw_->Counter("bus.sent.leg"), 2u);
  EXPECT_EQ(mw_->Counter("bus.received.leg"), 2u);
  EXPECT_GE(mw_->Counter("bus.sent.activity"), 1u);
  EXPECT_EQ(mw_->Counter("drop.pipeline.bus_full"), 0u);
  EXPECT_EQ(mw_->Counter("media.orphan_call"), 0u);
  EXPECT_EQ(mw_->Counter("calls.started"), 1u);
}

TEST_F(MultiWorkerTest, RemoteRtpKeepsCallAliveAndStoppedRtpStillTimesOut) {
  Start(2, 64, /*idle_timeout_s=*/10);
  const Endpoint a1 = Ep("192.0.2.10", 16384), b1 = Ep("10.20.0.50", 20000);
  const Endpoint a2 = Ep("192.0.2.10", 16386), b2 = Ep("10.20.0.51", 20002);
  Setup("long@host", a1, b1, 0);
  Setup("short@host", a2, b2, 0.1);
  // SIP on worker 0 only; RTP of both calls on worker 1: call 1 from 1 s to 31 s (three
  // idle timeouts), call 2 until 12 s.
  uint16_t seq1 = 0, seq2 = 0;
  for (int i = 0; i <= 1500; ++i) {
    const double t = 1 + i * 0.02;
    Rtp(a1, b1, seq1++, t, 1);
    if (i <= 550) Rtp(a2, b2, seq2++, t + 0.001, 1);
  }
  Bye("long@host", 31.5);
  AdvanceTo(36);
  mw_->Finish();

  const auto diff = Differences(mw_->multi, mw_->single);
  EXPECT_TRUE(diff.empty()) << Join(diff);
  ASSERT_EQ(mw_->multi.calls.size(), 2u);
  for (const auto& [id, c] : mw_->multi.calls) {
    ASSERT_EQ(c.sip_call_ids.size(), 1u);
    ASSERT_EQ(c.legs.size(), 1u);
    if (c.sip_call_ids[0] == "long@host") {
      EXPECT_EQ(c.state, CallState::kAnswered);  // not expired at 10.6 s, 20.6 s or 30.6 s
      EXPECT_EQ(c.end_ns, At(31.5));
      EXPECT_EQ(c.legs[0].packets, 1501u);
    } else {
      EXPECT_EQ(c.state, CallState::kTimedOut);
      EXPECT_EQ(c.end_ns, At(1 + 550 * 0.02 + 0.001));  // its last RTP packet
      EXPECT_EQ(c.legs[0].packets, 551u);
    }
  }
  EXPECT_GE(mw_->Counter("bus.sent.activity"), 30u);  // about one report a second
  EXPECT_EQ(mw_->Counter("bus.sent.activity"), mw_->Counter("bus.received.activity"));
}

TEST_F(MultiWorkerTest, FullQueueIsCountedAndLosesOnlyWhatDidNotFit) {
  Start(2, 2);  // two slots per queue
  ASSERT_EQ(mw_->bus().capacity(), 2u);
  // Five INVITEs with SDP within one 10 ms tick: worker 1 does not drain in between, so
  // two publications fit and three are refused.
  for (int i = 0; i < 5; ++i) {
    const Endpoint a = Ep("192.0.2.10", uint16_t(16384 + 2 * i));
    SendSip(kCallerSip, kPbxSip,
            Sip("INVITE sip:2001@pbx.example.com SIP/2.0", fmt::format("c{}@host", i), 1, "INVITE",
                "", Sdp(a)),
            0.001 * i);
  }
  EXPECT_EQ(mw_->Counter("bus.sent.session"), 2u);
  EXPECT_EQ(mw_->Counter("drop.pipeline.bus_full"), 3u);
  EXPECT_EQ(mw_->Counter("bus.received.session"), 0u);
  AdvanceTo(0.02);  // worker 1 drains
  EXPECT_EQ(mw_->Counter("bus.received.session"), 2u);
  EXPECT_EQ(mw_->Counter("bus.remote_sessions"), 2u);
  mw_->Finish();
  EXPECT_EQ(mw_->ReferenceCounter("drop.pipeline.bus_full"), 0u);
}

TEST(MultiWorkerConfig, WorkerIndexOutOfRangeIsAnError) {
  MediaBus bus(2, 64);
  pipeline_testing::RecordingSink sink;
  auto p = MakeEnginePipeline(Config{}, &sink, nullptr, PipelineWorker{&bus, 2});
  ASSERT_FALSE(p.ok());
  EXPECT_NE(std::string(p.status().message()).find("worker 2"), std::string::npos);
}

}  // namespace
}  // namespace callvault
