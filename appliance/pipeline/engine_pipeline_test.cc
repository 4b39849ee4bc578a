// EnginePipeline end to end on synthetic frames (Ethernet/IPv4/UDP SIP and RTP built by
// the test): the call end reaches the sink right after the BYE plus the media grace
// window; RTP keeps an answered call without SIP alive past sip.idle_timeout_s; a call
// whose RTP stops times out idle_timeout_s after its last packet. Expected values come
// from the test's own construction (times, packet counts).
#include "appliance/pipeline/engine_pipeline.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "appliance/common/time_util.h"
#include "appliance/config/config.h"
#include "appliance/media/test_util.h"
#include "appliance/pipeline/test_sip.h"

namespace callvault {
namespace {

using pipeline_testing::At;
using pipeline_testing::Ep;
using pipeline_testing::kCallerSip;
using pipeline_testing::kPbxSip;
using pipeline_testing::Sip;

using media::testing::RtpBytes;
using media::testing::TestPacket;



struct Sink : PipelineSink {
  const uint64_t* now = nullptr;
  std::vector<CallRecord> started, ended;
  std::vector<uint64_t> ended_at;                 // capture time when the end arrived
  std::map<uint64_t, uint32_t> sip_frames;        // call id -> frames in signalling blocks
  void OnCallStarted(const CallRecord& c) override { started.push_back(c); }
  void OnCallUpdated(const CallRecord&) override {}
  void OnCallEnded(const CallRecord& c) override {
    ended.push_back(c);
    ended_at.push_back(*now);
  }
  bool Push(PlainBlock&& b) override {
    if (b.info.kind == StreamKind::kSignalling) sip_frames[b.info.call_id.value] += b.info.frames;
    return true;
  }
  const CallRecord* Ended(const std::string& sip_call_id) const {
    for (const CallRecord& c : ended) {
      if (!c.sip_call_ids.empty() && c.sip_call_ids[0] == sip_call_id) return &c;
    }
    return nullptr;
  }
};



std::string Sdp(const std::string& ip, int port) {
  return fmt::format(
      "v=0\r\no=- 1 1 IN IP4 {0}\r\ns=-\r\nc=IN IP4 {0}\r\nt=0 0\r\n"
      "m=audio {1} RTP/AVP 0\r\na=sendrecv\r\n", ip, port);
}

class EnginePipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Config cfg;
    cfg.sip.idle_timeout_s = 10;
    cfg.media.grace_ms = 2000;
    sink_.now = &now_;
    auto p = MakeEnginePipeline(cfg, &sink_, nullptr);
    ASSERT_TRUE(p.ok()) << p.status();
    pipeline_ = *std::move(p);
  }
  void Send(const Endpoint& src, const Endpoint& dst, const std::vector<uint8_t>& payload,
            double t) {
    now_ = At(t);
    TestPacket p(src, dst, payload, now_);
    pipeline_->ProcessBurst(Burst(&p.frame, 1));
  }
  void SendSip(const Endpoint& src, const Endpoint& dst, const std::string& text, double t) {
    Send(src, dst, std::vector<uint8_t>(text.begin(), text.end()), t);
  }
  // INVITE / 200 / ACK; media caller `a_rtp` <-> callee `b_rtp`.
  void Setup(const std::string& cid, const Endpoint& a_rtp, const Endpoint& b_rtp, double t) {
    std::string a_ip = a_rtp.ip.ToString(), b_ip = b_rtp.ip.ToString();
    SendSip(kCallerSip, kPbxSip,
            Sip("INVITE sip:2001@pbx.example.com SIP/2.0", cid, 1, "INVITE", "",
                Sdp(a_ip, a_rtp.port)), t);
    SendSip(kPbxSip, kCallerSip,
            Sip("SIP/2.0 200 OK", cid, 1, "INVITE", "tt", Sdp(b_ip, b_rtp.port)), t + 0.5);
    SendSip(kCallerSip, kPbxSip,
            Sip("ACK sip:2001@pbx.example.com SIP/2.0", cid, 1, "ACK", "tt", ""), t + 0.6);
  }
  void Rtp(const Endpoint& src, const Endpoint& dst, uint16_t seq, double t) {
    Send(src, dst, RtpBytes(seq, uint32_t(seq) * 160, 0x1234 + src.port, 0,
                            std::vector<uint8_t>(160, 0xff)), t);
  }
  void AdvanceTo(double t) {
    for (uint64_t ns = now_; ns <= At(t); ns += 100 * kNsPerMs) {
      now_ = ns;
      pipeline_->Advance(ns);
    }
  }

  Sink sink_;
  uint64_t now_ = 0;
  std::unique_ptr<Pipeline> pipeline_;
};

TEST_F(EnginePipelineTest, MediaKeepsCallAliveEndArrivesAfterGraceNotLinger) {
  const Endpoint a1 = Ep("192.0.2.10", 16384), b1 = Ep("10.20.0.50", 20000);
  const Endpoint a2 = Ep("192.0.2.10", 16386), b2 = Ep("10.20.0.51", 20002);
  Setup("long@host", a1, b1, 0);
  Setup("short@host", a2, b2, 0.1);
  // Call 1: RTP from 1 s to 31 s (3 x idle_timeout_s), no SIP. Call 2: RTP until 12 s.
  uint16_t seq1 = 0, seq2 = 0;
  for (int i = 0; i <= 1500; ++i) {
    double t = 1 + i * 0.02;
    Rtp(a1, b1, seq1++, t);
    if (i <= 550) Rtp(a2, b2, seq2++, t + 0.001);  // until 12 s
  }
  // Call 2 timed out 10 s after its last RTP (12.001 s); call 1 is still recording.
  ASSERT_EQ(sink_.ended.size(), 1u);
  const CallRecord* c2 = sink_.Ended("short@host");
  ASSERT_NE(c2, nullptr);
  EXPECT_EQ(c2->state, CallState::kTimedOut);
  EXPECT_EQ(c2->end_ns, At(1 + 550 * 0.02 + 0.001));  // its last RTP packet (i = 550)
  ASSERT_EQ(c2->legs.size(), 1u);
  EXPECT_EQ(c2->legs[0].packets, 551u);
  EXPECT_GE(sink_.ended_at[0], At(22.001));
  EXPECT_LT(sink_.ended_at[0], At(22.001 + 1 + 2.5 + 0.1));  // scan + grace + slack
  // Call 1 ends with its BYE; the sink has it ~2.5 s later (grace), not after the
  // tracker's 32 s linger.
  SendSip(kCallerSip, kPbxSip,
          Sip("BYE sip:2001@pbx.example.com SIP/2.0", "long@host", 2, "BYE", "tt", ""), 31.5);
  SendSip(kPbxSip, kCallerSip, Sip("SIP/2.0 200 OK", "long@host", 2, "BYE", "tt", ""), 31.55);
  AdvanceTo(36);
  ASSERT_EQ(sink_.ended.size(), 2u);
  const CallRecord* c1 = sink_.Ended("long@host");
  ASSERT_NE(c1, nullptr);
  EXPECT_EQ(c1->state, CallState::kAnswered);
  EXPECT_EQ(c1->end_ns, At(31.5));
  EXPECT_DOUBLE_EQ(c1->duration_s(), 31.5);
  ASSERT_EQ(c1->legs.size(), 1u);
  EXPECT_EQ(c1->legs[0].packets, 1501u);
  EXPECT_GE(sink_.ended_at[1], At(31.5 + 2));
  EXPECT_LT(sink_.ended_at[1], At(31.5 + 3));
  EXPECT_EQ(pipeline_->ActiveCalls(), 0u);
  // A retransmitted 200 to the BYE after the end: stored as evidence, no new call.
  SendSip(kPbxSip, kCallerSip, Sip("SIP/2.0 200 OK", "long@host", 2, "BYE", "tt", ""), 40);
  pipeline_->Finish();
  EXPECT_EQ(sink_.started.size(), 2u);
  EXPECT_EQ(sink_.ended.size(), 2u);
  // INVITE 200 ACK BYE 200 + the retransmitted 200.
  EXPECT_EQ(sink_.sip_frames[c1->call_id.value], 6u);
}

}  // namespace
}  // namespace callvault
