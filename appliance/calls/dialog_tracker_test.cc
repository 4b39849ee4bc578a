// State-machine tests of DialogTracker with hand-written SIP sequences. Expected values
// come from each test's own construction (timestamps, tags, SDP it wrote).
#include "appliance/calls/dialog_tracker.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "appliance/calls/sip_extract.h"
#include "appliance/common/time_util.h"

namespace callvault::calls {
namespace {

constexpr uint64_t kT0 = 1700000000ull * kNsPerSec;
uint64_t At(double s) { return kT0 + uint64_t(s * 1e9); }

// --- message builders ----------------------------------------------------------------
std::string Sdp(const std::string& ip, int port, const std::string& pts,
                const std::string& dir = "sendrecv") {
  std::string s = fmt::format(
      "v=0\r\no=- 1 1 IN IP4 {0}\r\ns=-\r\nc=IN IP4 {0}\r\nt=0 0\r\n"
      "m=audio {1} RTP/AVP {2}\r\n",
      ip, port, pts);
  if (pts.find("101") != std::string::npos) s += "a=rtpmap:101 telephone-event/8000\r\n";
  if (pts.find("96") != std::string::npos) s += "a=rtpmap:96 opus/48000/2\r\n";
  s += "a=" + dir + "\r\n";
  return s;
}

struct Spec {
  std::string call_id = "call-1@host";
  std::string from_tag = "ft1";
  std::string to_tag;
  int cseq = 1;
  std::string cseq_method;  // default: the request's method
  std::string branch = "z9hG4bK-1";
  std::string from_user = "+12025550143";
  std::string to_user = "2001";
  std::string extra;        // extra header lines, each ending in \r\n
  std::string body;
  std::string content_type = "application/sdp";
};

std::string Headers(const Spec& s, const std::string& method) {
  std::string to = fmt::format("<sip:{}@pbx.example.com>", s.to_user);
  if (!s.to_tag.empty()) to += ";tag=" + s.to_tag;
  std::string out = fmt::format(
      "Via: SIP/2.0/UDP 192.0.2.10:5060;branch={}\r\n"
      "From: \"Caller\" <sip:{}@carrier.example.com>;tag={}\r\n"
      "To: {}\r\nCall-ID: {}\r\nCSeq: {} {}\r\nMax-Forwards: 70\r\n",
      s.branch, s.from_user, s.from_tag, to, s.call_id, s.cseq,
      s.cseq_method.empty() ? method : s.cseq_method);
  out += s.extra;
  if (!s.body.empty()) out += "Content-Type: " + s.content_type + "\r\n";
  out += fmt::format("Content-Length: {}\r\n\r\n", s.body.size());
  return out + s.body;
}
std::string Req(const std::string& method, const Spec& s) {
  return fmt::format("{} sip:{}@pbx.example.com SIP/2.0\r\n", method, s.to_user) +
         Headers(s, method);
}
std::string Resp(int code, const std::string& method, const Spec& s) {
  return fmt::format("SIP/2.0 {} Whatever\r\n", code) + Headers(s, method);
}

// --- recording sink ------------------------------------------------------------------
struct Recorder : CallEventSink {
  std::vector<std::string> log;  // "start <id>", "update", "media", "frame", "end <state>"
  std::vector<CallRecord> started, updated, ended;
  std::vector<MediaSession> media;
  std::vector<std::pair<CallId, std::string>> frames;
  void OnCallStarted(const CallRecord& c) override {
    started.push_back(c);
    log.push_back("start");
  }
  void OnCallUpdated(const CallRecord& c) override {
    updated.push_back(c);
    log.push_back("update");
  }
  void OnMediaChanged(const MediaSession& s) override {
    media.push_back(s);
    log.push_back("media");
  }
  void OnSipFrame(CallId id, const Frame& f) override {
    frames.emplace_back(id, std::string(reinterpret_cast<const char*>(f.data), f.caplen));
    log.push_back("frame");
  }
  void OnCallEnded(const CallRecord& c) override {
    ended.push_back(c);
    log.push_back(fmt::format("end {}", CallStateName(c.state)));
  }
};

Endpoint Ep(const char* ip, uint16_t port) { return Endpoint{*IpAddress::Parse(ip), port}; }
const Endpoint kCaller = Ep("192.0.2.10", 5060);
const Endpoint kPbx = Ep("10.20.0.1", 5060);

class TrackerTest : public ::testing::Test {
 protected:
  void Make(SipConfig sip = {}) {
    Config cfg;
    cfg.sip = sip;
    cfg.agents.extension_patterns = {"2[0-9]{3}"};
    auto opt = TrackerOptions::FromConfig(cfg, &directory_);
    ASSERT_TRUE(opt.ok()) << opt.status();
    tracker_ = std::make_unique<DialogTracker>(*std::move(opt), &rec_);
  }
  void SetUp() override {
    directory_.Set(*AgentDirectory::Parse("2001,Jane Doe,E1001\n", "test"));
    Make();
  }
  // Parses and feeds one message sent from `src` to `dst` at time t (seconds from kT0).
  void Feed(const std::string& text, double t, Endpoint src = kCaller, Endpoint dst = kPbx) {
    buffers_.push_back(text);
    const std::string& b = buffers_.back();
    auto msg = std::make_unique<sip::Message>();
    sip::ParseResult r = sip::ParseMessage(
        {reinterpret_cast<const uint8_t*>(b.data()), b.size()}, sip::Limits{}, msg.get());
    ASSERT_TRUE(r.ok()) << "test message does not parse: " << text;
    Frame f;
    f.data = reinterpret_cast<const uint8_t*>(b.data());
    f.caplen = f.wirelen = static_cast<uint32_t>(b.size());
    f.ts_ns = At(t);
    SipEvent e{msg.get(), At(t), src, dst, {&f, 1}};
    tracker_->OnMessage(e);
  }
  // A from-B request/response: same dialog, tags swapped.
  static Spec FromB(Spec s) {
    std::swap(s.from_tag, s.to_tag);
    std::swap(s.from_user, s.to_user);
    return s;
  }
  // The agent (side B, 2001) sends REFER at t=20 s: transfer the caller to 3001.
  void ReferTo3001(const Spec& s) {
    Spec refer = FromB(s);
    refer.cseq = 1;
    refer.branch = "z9hG4bK-r1";
    refer.extra =
        "Refer-To: <sip:3001@pbx.example.com>\r\nReferred-By: <sip:2001@pbx.example.com>\r\n";
    Feed(Req("REFER", refer), 20, kPbx, kCaller);
  }
  // At t=21 s the caller's phone calls 3001 with a new Call-ID, naming the transferor.
  void InviteTransferred() {
    Spec t;
    t.call_id = "call-xfer@host";
    t.from_tag = "ft9";
    t.to_user = "3001";
    t.extra = "Referred-By: <sip:2001@pbx.example.com>\r\n";
    Feed(Req("INVITE", t), 21);
  }
  void BasicSetup(Spec& s, double t0 = 0) {
    s.body = Sdp("192.0.2.10", 16384, "0 8 101");
    s.extra = "P-Asserted-Identity: <tel:+1-202-555-0143>\r\n";
    Feed(Req("INVITE", s), t0 + 0);
    Spec r = s;
    r.body.clear();
    r.extra.clear();
    Feed(Resp(100, "INVITE", r), t0 + 0.01, kPbx, kCaller);
    r.to_tag = "tt1";
    Feed(Resp(180, "INVITE", r), t0 + 0.5, kPbx, kCaller);
    r.body = Sdp("10.20.0.50", 20000, "0 101");
    Feed(Resp(200, "INVITE", r), t0 + 3, kPbx, kCaller);
    s.to_tag = "tt1";
    s.body.clear();
    s.extra.clear();
    Feed(Req("ACK", s), t0 + 3.1);
  }

  AgentDirectoryHandle directory_;
  Recorder rec_;
  std::unique_ptr<DialogTracker> tracker_;
  std::deque<std::string> buffers_;
};

TEST_F(TrackerTest, NormalCall) {
  Spec s;
  BasicSetup(s);
  s.cseq = 2;
  s.branch = "z9hG4bK-2";
  Feed(Req("BYE", s), 10);
  // The end is delivered at the BYE, not after the linger time (issue 3).
  ASSERT_EQ(rec_.ended.size(), 1u);
  EXPECT_EQ(tracker_->calls(), 0u);
  EXPECT_EQ(tracker_->dialogs(), 1u);  // lingering for trailing messages
  EXPECT_EQ(rec_.log.back(), "end answered");
  Spec ok = s;
  Feed(Resp(200, "BYE", ok), 10.05, kPbx, kCaller);
  EXPECT_EQ(rec_.log.back(), "frame");  // the 200 is still evidence of the call
  tracker_->Advance(At(10 + 33));
  ASSERT_EQ(rec_.started.size(), 1u);
  ASSERT_EQ(rec_.ended.size(), 1u);
  const CallRecord& c = rec_.ended[0];
  EXPECT_EQ(c.call_id, CallId::Make(At(0), "call-1@host"));
  EXPECT_EQ(c.sip_call_ids, std::vector<std::string>{"call-1@host"});
  EXPECT_EQ(c.state, CallState::kAnswered);
  EXPECT_EQ(c.sip_code, 200);
  EXPECT_EQ(c.start_ns, At(0));
  EXPECT_EQ(c.answer_ns, At(3));
  EXPECT_EQ(c.end_ns, At(10));
  EXPECT_EQ(c.ani, "+12025550143");      // from P-Asserted-Identity
  EXPECT_EQ(c.dialled, "2001");          // an extension, not a phone number
  EXPECT_EQ(c.agent.name, "Jane Doe");   // callee 2001 is in the directory
  EXPECT_EQ(c.agent.id, "E1001");
  EXPECT_EQ(c.codecs, std::vector<std::string>{"PCMU"});
  EXPECT_EQ(rec_.frames.size(), 7u);  // every message's frame, evidence
  for (const auto& [id, bytes] : rec_.frames) EXPECT_EQ(id, c.call_id);
  // Event order: start first, the end right after the BYE's frame and its media end,
  // then the trailing 200's frame.
  EXPECT_EQ(rec_.log.front(), "start");
  ASSERT_GE(rec_.log.size(), 4u);
  EXPECT_EQ(rec_.log[rec_.log.size() - 4], "frame");
  EXPECT_EQ(rec_.log[rec_.log.size() - 3], "media");
  EXPECT_EQ(rec_.log[rec_.log.size() - 2], "end answered");
  EXPECT_EQ(rec_.log.back(), "frame");
  // Media: offer from A, answer from B, then the final "ended" publication.
  ASSERT_GE(rec_.media.size(), 3u);
  const MediaSession& ans = rec_.media[1];
  EXPECT_EQ(ans.side[kSideA].streams.at(0).rtp, Ep("192.0.2.10", 16384));
  EXPECT_EQ(ans.side[kSideB].streams.at(0).rtp, Ep("10.20.0.50", 20000));
  EXPECT_EQ(ans.side[kSideB].streams[0].rtcp, Ep("10.20.0.50", 20001));
  EXPECT_EQ(ans.side[kSideA].streams[0].payload_types.size(), 3u);
  EXPECT_EQ(ans.side[kSideB].streams[0].Find(101)->encoding, "telephone-event");
  EXPECT_EQ(ans.agent_side, kSideB);
  EXPECT_EQ(ans.answer_side, kSideB);
  EXPECT_EQ(ans.NegotiatedCodec(), "PCMU");
  EXPECT_TRUE(rec_.media.back().ended);
  EXPECT_EQ(tracker_->dialogs(), 0u);
  EXPECT_EQ(tracker_->calls(), 0u);
  EXPECT_EQ(tracker_->counters().Total(), 0u);
}

TEST_F(TrackerTest, CancelledBeforeAnswer) {
  Spec s;
  s.body = Sdp("192.0.2.10", 16384, "0");
  Feed(Req("INVITE", s), 0);
  Spec r = s;
  r.body.clear();
  r.to_tag = "tt1";
  Feed(Resp(180, "INVITE", r), 1, kPbx, kCaller);
  Spec c = s;
  c.body.clear();
  Feed(Req("CANCEL", c), 4);
  Feed(Resp(200, "CANCEL", c), 4.01, kPbx, kCaller);
  Feed(Resp(487, "INVITE", r), 4.02, kPbx, kCaller);
  Spec ack = r;
  Feed(Req("ACK", ack), 4.03);
  tracker_->Finish();
  ASSERT_EQ(rec_.ended.size(), 1u);
  EXPECT_EQ(rec_.ended[0].state, CallState::kCancelled);
  EXPECT_EQ(rec_.ended[0].sip_code, 487);
  EXPECT_EQ(rec_.ended[0].answer_ns, 0u);
  EXPECT_EQ(rec_.ended[0].end_ns, At(4.02));
  EXPECT_EQ(rec_.frames.size(), 6u);
}

TEST_F(TrackerTest, BusyIsFailedWithCode) {
  Spec s;
  Feed(Req("INVITE", s), 0);
  Spec r = s;
  r.to_tag = "tt1";
  Feed(Resp(486, "INVITE", r), 0.2, kPbx, kCaller);
  Feed(Req("ACK", r), 0.21);
  tracker_->Advance(At(40));
  ASSERT_EQ(rec_.ended.size(), 1u);
  EXPECT_EQ(rec_.ended[0].state, CallState::kFailed);
  EXPECT_EQ(rec_.ended[0].sip_code, 486);
  EXPECT_EQ(rec_.ended[0].end_ns, At(0.2));
}

TEST_F(TrackerTest, AuthChallengeThenRetryIsOneCall) {
  Spec s;
  Feed(Req("INVITE", s), 0);
  Spec r = s;
  r.to_tag = "tt0";
  Feed(Resp(407, "INVITE", r), 0.1, kPbx, kCaller);
  Feed(Req("ACK", r), 0.11);
  Spec s2 = s;
  s2.cseq = 2;
  s2.branch = "z9hG4bK-2";
  s2.extra = "Proxy-Authorization: Digest username=\"x\"\r\n";
  Feed(Req("INVITE", s2), 0.2);
  Spec r2 = s2;
  r2.extra.clear();
  r2.to_tag = "tt1";
  Feed(Resp(200, "INVITE", r2), 2, kPbx, kCaller);
  tracker_->Finish();
  ASSERT_EQ(rec_.started.size(), 1u);
  ASSERT_EQ(rec_.ended.size(), 1u);
  EXPECT_EQ(rec_.ended[0].answer_ns, At(2));
  EXPECT_EQ(rec_.ended[0].sip_code, 200);
  EXPECT_EQ(rec_.ended[0].state, CallState::kActive);  // no BYE before the end of input
  EXPECT_EQ(rec_.ended[0].end_ns, 0u);
}

TEST_F(TrackerTest, ForkedEarlyDialogsTheAnsweredOneWins) {
  Spec s;
  s.body = Sdp("192.0.2.10", 16384, "0 8");
  Feed(Req("INVITE", s), 0);
  Spec r1 = s, r2 = s;
  r1.to_tag = "fork1";
  r1.body = Sdp("10.20.0.51", 30000, "8");
  r2.to_tag = "fork2";
  r2.body = Sdp("10.20.0.52", 40000, "0");
  Feed(Resp(183, "INVITE", r1), 0.5, Ep("10.20.0.51", 5060), kCaller);
  Feed(Resp(183, "INVITE", r2), 0.6, Ep("10.20.0.52", 5060), kCaller);
  Spec ok = r2;
  ok.body.clear();  // the 2xx repeats no SDP: the fork's early answer stands
  Feed(Resp(200, "INVITE", ok), 2, Ep("10.20.0.52", 5060), kCaller);
  Spec late = r1;
  late.body.clear();
  Feed(Resp(200, "INVITE", late), 2.1, Ep("10.20.0.51", 5060), kCaller);
  EXPECT_EQ(tracker_->counters()[CallsDrop::kForkedAnswerIgnored], 1u);
  const MediaSession& last = rec_.media.back();
  EXPECT_EQ(last.side[kSideB].streams.at(0).rtp, Ep("10.20.0.52", 40000));
  EXPECT_EQ(last.NegotiatedCodec(), "PCMU");
  // A BYE on the losing fork does not end the call.
  Spec bye1 = s;
  bye1.body.clear();
  bye1.to_tag = "fork1";
  bye1.cseq = 2;
  Feed(Req("BYE", bye1), 2.2);
  Spec bye2 = bye1;
  bye2.to_tag = "fork2";
  bye2.cseq = 3;
  Feed(Req("BYE", bye2), 9);
  tracker_->Finish();
  ASSERT_EQ(rec_.ended.size(), 1u);
  EXPECT_EQ(rec_.ended[0].state, CallState::kAnswered);
  EXPECT_EQ(rec_.ended[0].end_ns, At(9));
  EXPECT_EQ(rec_.ended[0].codecs, (std::vector<std::string>{"PCMA", "PCMU"}));
}

TEST_F(TrackerTest, ReInviteHoldResumeAndCodecSwitch) {
  Spec s;
  BasicSetup(s);
  std::vector<bool> holds;
  auto reinvite = [&](int cseq, double t, const std::string& a_dir, const std::string& b_dir,
                      const std::string& pts) {
    Spec ri = s;
    ri.cseq = cseq;
    ri.branch = fmt::format("z9hG4bK-{}", cseq);
    ri.body = Sdp("192.0.2.10", 16384, pts, a_dir);
    Feed(Req("INVITE", ri), t);
    Spec ok = ri;
    ok.body = Sdp("10.20.0.50", 20000, pts, b_dir);
    Feed(Resp(200, "INVITE", ok), t + 0.1, kPbx, kCaller);
    holds.push_back(rec_.updated.back().on_hold);
  };
  reinvite(2, 5, "sendonly", "recvonly", "0");
  reinvite(3, 8, "sendrecv", "sendrecv", "0");
  reinvite(4, 9, "sendrecv", "sendrecv", "9");
  EXPECT_EQ(holds, (std::vector<bool>{true, false, false}));
  tracker_->Finish();
  ASSERT_EQ(rec_.ended.size(), 1u);
  EXPECT_EQ(rec_.ended[0].codecs, (std::vector<std::string>{"PCMU", "G722"}));
  EXPECT_FALSE(rec_.ended[0].on_hold);
  EXPECT_EQ(rec_.started.size(), 1u);
}

TEST_F(TrackerTest, ZeroAddressHold) {
  Spec s;
  BasicSetup(s);
  Spec ri = s;
  ri.cseq = 2;
  ri.body = Sdp("0.0.0.0", 16384, "0");
  Feed(Req("INVITE", ri), 5);
  EXPECT_TRUE(rec_.updated.back().on_hold);
  EXPECT_TRUE(rec_.media.back().side[kSideA].streams.at(0).hold_zero_address);
}

TEST_F(TrackerTest, PrackEarlyMediaAndUpdate) {
  Spec s;
  s.body = Sdp("192.0.2.10", 16384, "8 0");
  s.extra = "Supported: 100rel\r\n";
  Feed(Req("INVITE", s), 0);
  Spec r = s;
  r.to_tag = "tt1";
  r.extra = "Require: 100rel\r\nRSeq: 1\r\n";
  r.body = Sdp("10.20.0.50", 20000, "8");
  Feed(Resp(183, "INVITE", r), 0.3, kPbx, kCaller);
  Spec pr = s;
  pr.to_tag = "tt1";
  pr.cseq = 2;
  pr.body.clear();
  pr.extra = "RAck: 1 1 INVITE\r\n";
  Feed(Req("PRACK", pr), 0.31);
  pr.extra.clear();
  Feed(Resp(200, "PRACK", pr), 0.32, kPbx, kCaller);
  // UPDATE from the callee before answer changes its early media port.
  Spec up = FromB(s);
  up.from_tag = "tt1";
  up.to_tag = "ft1";
  up.cseq = 1;
  up.branch = "z9hG4bK-b1";
  up.body = Sdp("10.20.0.50", 20002, "8");
  Feed(Req("UPDATE", up), 1, kPbx, kCaller);
  Spec upok = up;
  upok.body = Sdp("192.0.2.10", 16384, "8");
  Feed(Resp(200, "UPDATE", upok), 1.01);
  Spec ok = r;
  ok.extra.clear();
  ok.body.clear();
  Feed(Resp(200, "INVITE", ok), 2, kPbx, kCaller);
  tracker_->Finish();
  ASSERT_EQ(rec_.ended.size(), 1u);
  EXPECT_EQ(rec_.ended[0].answer_ns, At(2));
  EXPECT_EQ(rec_.ended[0].codecs, std::vector<std::string>{"PCMA"});
  // The UPDATE's offer came from side B, and side A answered it.
  const MediaSession* after_update = nullptr;
  for (const MediaSession& m : rec_.media) {
    if (!m.side[kSideB].streams.empty() && m.side[kSideB].streams[0].rtp.port == 20002) {
      after_update = &m;
    }
  }
  ASSERT_NE(after_update, nullptr);
  EXPECT_EQ(tracker_->counters()[CallsDrop::kRetransmission], 0u);
}

TEST_F(TrackerTest, RetransmissionsCountedOnce) {
  Spec s;
  s.body = Sdp("192.0.2.10", 16384, "0");
  Feed(Req("INVITE", s), 0);
  Feed(Req("INVITE", s), 0.5);  // timer A retransmission
  Spec ok = s;
  ok.to_tag = "tt1";
  ok.body = Sdp("10.20.0.50", 20000, "0");
  Feed(Resp(200, "INVITE", ok), 1, kPbx, kCaller);
  Feed(Resp(200, "INVITE", ok), 1.5, kPbx, kCaller);  // 2xx retransmitted until the ACK
  Spec bye = s;
  bye.to_tag = "tt1";
  bye.cseq = 2;
  bye.body.clear();
  Feed(Req("BYE", bye), 5);
  Feed(Req("BYE", bye), 5.5);
  // A copy of the BYE forwarded by a proxy (another top-Via branch) is the same request.
  Spec bye_hop = bye;
  bye_hop.branch = "z9hG4bK-proxyhop";
  Feed(Req("BYE", bye_hop), 5.51, kPbx, Ep("10.20.0.50", 5060));
  tracker_->Finish();
  EXPECT_EQ(tracker_->counters()[CallsDrop::kRetransmission], 4u);
  ASSERT_EQ(rec_.started.size(), 1u);
  ASSERT_EQ(rec_.ended.size(), 1u);
  EXPECT_EQ(rec_.ended[0].answer_ns, At(1));
  EXPECT_EQ(rec_.ended[0].end_ns, At(5));
  EXPECT_EQ(rec_.frames.size(), 7u);  // retransmissions are still kept as evidence
  // Media published once for the offer and once for the answer (+ the end).
  EXPECT_EQ(rec_.media.size(), 3u);
}

TEST_F(TrackerTest, SipInfoDtmf) {
  Spec s;
  BasicSetup(s);
  Spec info = s;
  info.cseq = 2;
  info.content_type = "application/dtmf-relay";
  info.body = "Signal=5\r\nDuration=160\r\n";
  Feed(Req("INFO", info), 7.5);
  Feed(Req("INFO", info), 7.6);  // retransmission: not a second key press
  info.cseq = 3;
  info.content_type = "application/dtmf";
  info.body = "#";
  Feed(Req("INFO", info), 8);
  tracker_->Finish();
  ASSERT_EQ(rec_.ended.size(), 1u);
  const auto& d = rec_.ended[0].dtmf;
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].digit, "5");
  EXPECT_EQ(d[0].duration_ms, 160u);
  EXPECT_DOUBLE_EQ(d[0].offset_s, 7.5);
  EXPECT_EQ(d[0].source, "sip_info");
  EXPECT_EQ(d[1].digit, "#");
}

TEST_F(TrackerTest, IdleTimeoutAndEarlyTimeout) {
  SipConfig sip;
  sip.idle_timeout_s = 600;
  Make(sip);
  Spec s;
  BasicSetup(s);
  Spec other;
  other.call_id = "call-2@host";
  Feed(Req("INVITE", other), 10);  // never answered
  tracker_->Advance(At(10 + 170));
  EXPECT_TRUE(rec_.ended.empty());
  tracker_->Advance(At(10 + 181));  // early timeout (180 s) for the unanswered INVITE
  ASSERT_EQ(rec_.ended.size(), 1u);
  EXPECT_EQ(rec_.ended[0].sip_call_ids[0], "call-2@host");
  EXPECT_EQ(rec_.ended[0].state, CallState::kTimedOut);
  EXPECT_EQ(rec_.ended[0].end_ns, At(10));
  tracker_->Advance(At(3.1 + 599));
  EXPECT_EQ(rec_.ended.size(), 1u);
  tracker_->Advance(At(3.1 + 601));
  ASSERT_EQ(rec_.ended.size(), 2u);
  EXPECT_EQ(rec_.ended[1].state, CallState::kTimedOut);
  EXPECT_EQ(rec_.ended[1].answer_ns, At(3));
  EXPECT_EQ(tracker_->counters()[CallsDrop::kExpired], 2u);
}

TEST_F(TrackerTest, SessionTimerRefreshKeepsCallAlive) {
  Spec s;
  s.extra = "Session-Expires: 90;refresher=uac\r\n";
  Feed(Req("INVITE", s), 0);
  Spec ok = s;
  ok.to_tag = "tt1";
  Feed(Resp(200, "INVITE", ok), 1, kPbx, kCaller);
  // Refresh by UPDATE at 60 s, then silence.
  Spec up = s;
  up.to_tag = "tt1";
  up.cseq = 2;
  Feed(Req("UPDATE", up), 60);
  Feed(Resp(200, "UPDATE", up), 60.01, kPbx, kCaller);
  tracker_->Advance(At(60 + 90 + 31));
  EXPECT_TRUE(rec_.ended.empty());
  tracker_->Advance(At(60.01 + 90 + 33));
  ASSERT_EQ(rec_.ended.size(), 1u);
  EXPECT_EQ(rec_.ended[0].state, CallState::kTimedOut);
  EXPECT_EQ(rec_.ended[0].end_ns, At(60.01));
}

TEST_F(TrackerTest, TableFullEvictsOldest) {
  SipConfig sip;
  sip.max_dialogs = 3;
  Make(sip);
  for (int i = 0; i < 5; ++i) {
    Spec s;
    s.call_id = fmt::format("flood-{}@host", i);
    Feed(Req("INVITE", s), i * 0.1);
  }
  EXPECT_EQ(tracker_->dialogs(), 3u);
  EXPECT_EQ(tracker_->counters()[CallsDrop::kEvicted], 2u);
  ASSERT_EQ(rec_.ended.size(), 2u);
  EXPECT_EQ(rec_.ended[0].sip_call_ids[0], "flood-0@host");
  EXPECT_EQ(rec_.ended[1].sip_call_ids[0], "flood-1@host");
  EXPECT_EQ(rec_.ended[0].state, CallState::kTimedOut);
  // Activity refreshes: touching flood-2 makes flood-3 the oldest.
  Spec again;
  again.call_id = "flood-2@host";
  again.to_tag = "x";
  Feed(Resp(180, "INVITE", again), 1, kPbx, kCaller);
  Spec s;
  s.call_id = "flood-5@host";
  Feed(Req("INVITE", s), 1.1);
  ASSERT_EQ(rec_.ended.size(), 3u);
  EXPECT_EQ(rec_.ended[2].sip_call_ids[0], "flood-3@host");
}

TEST_F(TrackerTest, TransactionTableBound) {
  SipConfig sip;
  sip.max_transactions = 2;
  Make(sip);
  Spec s;
  BasicSetup(s);  // INVITE, 100, 180, 200, ACK: only the first two remembered
  EXPECT_EQ(tracker_->transactions(), 2u);
  EXPECT_EQ(tracker_->counters()[CallsDrop::kTransactionTableFull], 3u);
}

TEST_F(TrackerTest, ReferTransferLinksNewDialog) {
  Spec s;
  BasicSetup(s);
  // The agent (side B, 2001) transfers the caller to 3001.
  ReferTo3001(s);
  // The caller's phone calls 3001 with a new Call-ID, naming the transferor.
  InviteTransferred();
  // An unrelated INVITE to 3001 without Referred-By from someone else is a new call.
  EXPECT_EQ(rec_.started.size(), 1u);
  EXPECT_EQ(tracker_->counters()[CallsDrop::kLinkedByTransfer], 1u);
  tracker_->Finish();
  ASSERT_EQ(rec_.ended.size(), 1u);
  EXPECT_EQ(rec_.ended[0].sip_call_ids,
            (std::vector<std::string>{"call-1@host", "call-xfer@host"}));
  // The second dialog's media is published as dialog 1 of the same call.
  bool saw_dialog1 = false;
  for (const MediaSession& m : rec_.media) saw_dialog1 |= m.dialog == 1;
  EXPECT_TRUE(saw_dialog1);
}

TEST_F(TrackerTest, ReplacesLinksAttendedTransfer) {
  Spec s;
  BasicSetup(s);
  Spec t;
  t.call_id = "call-replace@host";
  t.from_tag = "ft7";
  t.extra = "Replaces: call-1@host;to-tag=tt1;from-tag=ft1\r\n";
  Feed(Req("INVITE", t), 30);
  EXPECT_EQ(rec_.started.size(), 1u);
  EXPECT_EQ(tracker_->counters()[CallsDrop::kLinkedByTransfer], 1u);
}

TEST_F(TrackerTest, B2buaLinkedByCorrelationHeader) {
  Spec in;
  in.call_id = "carrier-leg@host";
  in.to_user = "+18005550100";
  in.body = Sdp("192.0.2.10", 16384, "0");
  Feed(Req("INVITE", in), 0);
  Spec out;
  out.call_id = "agent-leg@pbx";
  out.from_tag = "pbx1";
  out.to_user = "2001";
  out.extra = "X-Orig-Call-ID: carrier-leg@host\r\n";
  out.body = Sdp("10.20.0.1", 12000, "0");  // anchored media: different endpoints
  Feed(Req("INVITE", out), 0.2, kPbx, Ep("10.20.0.50", 5060));
  EXPECT_EQ(rec_.started.size(), 1u);
  EXPECT_EQ(tracker_->counters()[CallsDrop::kLinkedByCorrelation], 1u);
  tracker_->Finish();
  ASSERT_EQ(rec_.ended.size(), 1u);
  EXPECT_EQ(rec_.ended[0].sip_call_ids,
            (std::vector<std::string>{"carrier-leg@host", "agent-leg@pbx"}));
  EXPECT_EQ(rec_.ended[0].dialled, "+18005550100");
  EXPECT_EQ(rec_.ended[0].agent.name, "Jane Doe");  // learnt from the second dialog
}

TEST_F(TrackerTest, B2buaLinkedBySharedMediaButNotBySameAnnouncer) {
  Spec in;
  in.call_id = "leg-a@host";
  in.body = Sdp("192.0.2.10", 16384, "0");
  Feed(Req("INVITE", in), 0);
  // The PBX offers the caller's own media address to the agent (no media anchoring).
  Spec out;
  out.call_id = "leg-b@pbx";
  out.from_tag = "pbx1";
  out.body = Sdp("192.0.2.10", 16384, "0");
  Feed(Req("INVITE", out), 0.2, kPbx, Ep("10.20.0.50", 5060));
  EXPECT_EQ(rec_.started.size(), 1u);
  EXPECT_EQ(tracker_->counters()[CallsDrop::kLinkedByMedia], 1u);
  // A load generator announcing the same endpoint in every call is not a B2BUA.
  Spec gen;
  gen.call_id = "leg-c@host";
  gen.body = Sdp("192.0.2.10", 16384, "0");
  Feed(Req("INVITE", gen), 0.3);
  EXPECT_EQ(rec_.started.size(), 2u);
}

TEST_F(TrackerTest, UnknownAndMalformed) {
  Spec s;
  s.to_tag = "tt1";
  Feed(Req("BYE", s), 0);
  EXPECT_EQ(tracker_->counters()[CallsDrop::kUnknownDialog], 1u);
  Spec reg = s;
  reg.to_tag.clear();
  Feed(Req("REGISTER", reg), 0);
  Feed(Req("OPTIONS", reg), 0);
  EXPECT_EQ(tracker_->counters()[CallsDrop::kNotCallRelated], 2u);
  Feed("INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\n"
       "To: <sip:a@b>\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n", 1);
  EXPECT_EQ(tracker_->counters()[CallsDrop::kMissingHeaders], 1u);
  Spec bad;
  bad.call_id = "bad-sdp@host";
  bad.body = "this is not sdp";
  Feed(Req("INVITE", bad), 2);
  EXPECT_EQ(tracker_->counters()[CallsDrop::kBadSdp], 1u);
  EXPECT_EQ(rec_.started.size(), 1u);  // the call is still recorded
  EXPECT_TRUE(rec_.frames.size() == 1u);
}

TEST_F(TrackerTest, CallInProgressPickedUpByReInvite) {
  Spec s;
  s.call_id = "old-call@host";
  s.to_tag = "tt1";
  s.cseq = 7;
  s.body = Sdp("192.0.2.10", 16384, "8");
  Feed(Req("INVITE", s), 100);  // session refresh of a call that began before capture
  Spec ok = s;
  ok.body = Sdp("10.20.0.50", 20000, "8");
  Feed(Resp(200, "INVITE", ok), 100.1, kPbx, kCaller);
  Spec bye = s;
  bye.cseq = 8;
  bye.body.clear();
  Feed(Req("BYE", bye), 130);
  tracker_->Finish();
  EXPECT_EQ(tracker_->counters()[CallsDrop::kPickedUpMidDialog], 1u);
  ASSERT_EQ(rec_.ended.size(), 1u);
  EXPECT_EQ(rec_.ended[0].state, CallState::kAnswered);
  EXPECT_EQ(rec_.ended[0].start_ns, At(100));
  EXPECT_EQ(rec_.ended[0].answer_ns, At(100));
  EXPECT_EQ(rec_.ended[0].end_ns, At(130));
  EXPECT_EQ(rec_.ended[0].codecs, std::vector<std::string>{"PCMA"});
  EXPECT_EQ(rec_.frames.size(), 3u);
}

TEST(SipExtract, InfoDtmfForms) {
  EXPECT_EQ(ParseInfoDtmf("application/dtmf-relay", "Signal=5\r\nDuration=160\r\n")->digit, "5");
  EXPECT_EQ(ParseInfoDtmf("application/dtmf-relay", "Signal=5\r\nDuration=160\r\n")
                ->duration_ms, 160u);
  EXPECT_EQ(ParseInfoDtmf("Application/DTMF-Relay", "signal= *\nduration=250")->digit, "*");
  EXPECT_EQ(ParseInfoDtmf("application/dtmf-relay", "Signal=11\r\n")->digit, "#");
  EXPECT_EQ(ParseInfoDtmf("application/dtmf", "7")->digit, "7");
  EXPECT_EQ(ParseInfoDtmf("application/dtmf", "d\r\n")->digit, "D");
  EXPECT_FALSE(ParseInfoDtmf("application/dtmf-relay", "Signal=\r\n"));
  EXPECT_FALSE(ParseInfoDtmf("application/dtmf-relay", "Signal=16\r\n"));
  EXPECT_FALSE(ParseInfoDtmf("application/dtmf-relay", ""));
  EXPECT_FALSE(ParseInfoDtmf("application/sdp", "Signal=5"));
  EXPECT_EQ(ParseInfoDtmf("application/dtmf-relay", "Signal=5\r\nDuration=99999999999\r\n")
                ->duration_ms, 0u);  // absurd duration ignored
}


// --- issue 3: end delivered at termination, late B2BUA merge, media keeps calls alive ---

namespace {
const Endpoint kAgentPhone = Ep("10.20.0.50", 5060);
}  // namespace

TEST_F(TrackerTest, EndDeliveredAtTerminationTrailingMessagesAbsorbed) {
  Spec s;
  BasicSetup(s);
  Spec bye = s;
  bye.cseq = 2;
  bye.branch = "z9hG4bK-2";
  Feed(Req("BYE", bye), 10);
  ASSERT_EQ(rec_.ended.size(), 1u);
  EXPECT_EQ(rec_.ended[0].state, CallState::kAnswered);
  EXPECT_EQ(rec_.ended[0].end_ns, At(10));
  EXPECT_DOUBLE_EQ(rec_.ended[0].duration_s(), 10.0);
  // Retransmitted BYE and the 200 inside the linger time: evidence, no new call, no
  // second end.
  Feed(Req("BYE", bye), 10.5);
  Feed(Resp(200, "BYE", bye), 10.6, kPbx, kCaller);
  Feed(Resp(200, "BYE", bye), 11.6, kPbx, kCaller);
  tracker_->Advance(At(10 + 33));
  tracker_->Finish();
  EXPECT_EQ(rec_.started.size(), 1u);
  EXPECT_EQ(rec_.ended.size(), 1u);
  EXPECT_EQ(tracker_->calls_ended(), 1u);
  EXPECT_EQ(tracker_->counters()[CallsDrop::kRetransmission], 2u);
  EXPECT_EQ(rec_.frames.size(), 9u);  // 5 setup + BYE x2 + 200 x2
  for (const auto& [id, bytes] : rec_.frames) EXPECT_EQ(id, rec_.started[0].call_id);

  // A failure is delivered at the final response; the ACK after it is evidence.
  Spec busy;
  busy.call_id = "busy@host";
  Feed(Req("INVITE", busy), 50);
  busy.to_tag = "b1";
  Feed(Resp(486, "INVITE", busy), 50.2, kPbx, kCaller);
  ASSERT_EQ(rec_.ended.size(), 2u);
  EXPECT_EQ(rec_.ended[1].state, CallState::kFailed);
  EXPECT_EQ(rec_.ended[1].sip_code, 486);
  size_t frames = rec_.frames.size();
  Feed(Req("ACK", busy), 50.21);
  EXPECT_EQ(rec_.frames.size(), frames + 1);
  EXPECT_EQ(rec_.started.size(), 2u);
}

TEST_F(TrackerTest, BlindTransferAfterByeStillLinks) {
  // The transferor hangs up right after the REFER: the call waits (linger) for the
  // transfer's INVITE instead of being delivered at the BYE.
  Spec s;
  BasicSetup(s);
  ReferTo3001(s);
  Spec bye = FromB(s);
  bye.cseq = 2;
  bye.branch = "z9hG4bK-b1";
  Feed(Req("BYE", bye), 20.5, kPbx, kCaller);
  EXPECT_TRUE(rec_.ended.empty());
  InviteTransferred();
  EXPECT_EQ(rec_.started.size(), 1u);
  EXPECT_EQ(tracker_->counters()[CallsDrop::kLinkedByTransfer], 1u);
}

// A B2BUA (10.20.0.1) that anchors media first, then re-INVITEs both legs to direct media
// (as Asterisk's directmedia does in tests/data/sipnab_b2bua-asterisk.pcapng).
class LateMergeTest : public TrackerTest {
 protected:
  // Leg A: caller -> PBX; leg B: PBX -> agent phone. Both answered, media anchored.
  void TwoLegs() {
    a_.call_id = "leg-a@carrier";
    a_.body = Sdp("192.0.2.10", 16384, "0");
    Feed(Req("INVITE", a_), 0);
    b_.call_id = "leg-b@pbx";
    b_.from_tag = "pbx1";
    b_.from_user = "+12025550143";
    b_.body = Sdp("10.20.0.1", 30002, "0");
    Feed(Req("INVITE", b_), 0.2, kPbx, kAgentPhone);
    b_.to_tag = "ag1";
    b_.body = Sdp("10.20.0.50", 20000, "0");
    Feed(Resp(200, "INVITE", b_), 2, kAgentPhone, kPbx);
    b_.body.clear();
    Feed(Req("ACK", b_), 2.01, kPbx, kAgentPhone);
    a_.to_tag = "pbxa";
    a_.body = Sdp("10.20.0.1", 30000, "0");
    Feed(Resp(200, "INVITE", a_), 2.1, kPbx, kCaller);
    a_.body.clear();
    Feed(Req("ACK", a_), 2.2);
  }
  // The PBX re-INVITEs leg B with `sdp_b` and leg A with `sdp_a`, at t and t + 0.01.
  void ReInvites(const std::string& sdp_b, const std::string& sdp_a, double t,
                 bool leg_a = true) {
    Spec rb = b_;
    rb.cseq = 2;
    rb.branch = fmt::format("z9hG4bK-rb{}", t);
    rb.body = sdp_b;
    Feed(Req("INVITE", rb), t, kPbx, kAgentPhone);
    rb.body = Sdp("10.20.0.50", 20000, "0");
    Feed(Resp(200, "INVITE", rb), t + 0.005, kAgentPhone, kPbx);
    if (!leg_a) return;
    Spec ra = FromB(a_);
    ra.cseq = 1 + a_reinvites_++;
    ra.branch = fmt::format("z9hG4bK-ra{}", t);
    ra.body = sdp_a;
    Feed(Req("INVITE", ra), t + 0.01, kPbx, kCaller);
    ra.body = Sdp("192.0.2.10", 16384, "0");
    Feed(Resp(200, "INVITE", ra), t + 0.02, kCaller, kPbx);
  }
  void Byes(double t) {
    Spec ba = a_;
    ba.cseq = 2;
    ba.branch = "z9hG4bK-bya";
    Feed(Req("BYE", ba), t);
    Spec bb = b_;
    bb.cseq = 9;
    bb.branch = "z9hG4bK-byb";
    Feed(Req("BYE", bb), t + 0.1, kPbx, kAgentPhone);
  }
  Spec a_, b_;
  int a_reinvites_ = 0;
};

TEST_F(LateMergeTest, SharedMediaInBothDirectionsMergesIntoEarlierCall) {
  TwoLegs();
  ASSERT_EQ(rec_.started.size(), 2u);
  const CallId id_a = rec_.started[0].call_id;
  const CallId id_b = rec_.started[1].call_id;
  ASSERT_EQ(rec_.started[1].sip_call_ids[0], "leg-b@pbx");
  // Direct media: leg B gets the caller's address, leg A the agent phone's.
  ReInvites(Sdp("192.0.2.10", 16384, "0"), Sdp("10.20.0.50", 20000, "0"), 5);
  EXPECT_EQ(tracker_->counters()[CallsDrop::kMergedCalls], 1u);
  // The absorbed call (the later one) ends at the merge, pointing at the survivor.
  ASSERT_EQ(rec_.ended.size(), 1u);
  const CallRecord& gone = rec_.ended[0];
  EXPECT_EQ(gone.call_id, id_b);
  EXPECT_EQ(gone.merged_into, id_a);
  EXPECT_EQ(gone.state, CallState::kAnswered);
  EXPECT_EQ(gone.end_ns, At(5.01));
  EXPECT_EQ(gone.sip_call_ids, std::vector<std::string>{"leg-b@pbx"});
  // Media: leg B's session ends under its old id and comes back as dialog 1 of call A.
  bool old_ended = false, republished = false;
  for (const MediaSession& m : rec_.media) {
    if (m.call_id == id_b && m.ended) old_ended = true;
    if (m.call_id == id_a && m.dialog == 1 && !m.ended) {
      republished = m.side[kSideB].streams.at(0).rtp == Ep("10.20.0.50", 20000);
    }
  }
  EXPECT_TRUE(old_ended);
  EXPECT_TRUE(republished);
  // Later SIP of leg B is evidence of call A; both BYEs end the one call.
  size_t frames_before = rec_.frames.size();
  Byes(20);
  for (size_t i = frames_before; i < rec_.frames.size(); ++i) {
    EXPECT_EQ(rec_.frames[i].first, id_a);
  }
  ASSERT_EQ(rec_.ended.size(), 2u);
  const CallRecord& c = rec_.ended[1];
  EXPECT_EQ(c.call_id, id_a);
  EXPECT_FALSE(c.merged_into.valid());
  EXPECT_EQ(c.sip_call_ids, (std::vector<std::string>{"leg-a@carrier", "leg-b@pbx"}));
  EXPECT_EQ(c.state, CallState::kAnswered);
  EXPECT_EQ(c.start_ns, At(0));
  EXPECT_EQ(c.answer_ns, At(2));  // the agent's 200 on leg B came first
  EXPECT_EQ(c.end_ns, At(20.1));
  EXPECT_EQ(c.agent.name, "Jane Doe");
  EXPECT_EQ(tracker_->calls(), 0u);
  tracker_->Finish();
  EXPECT_EQ(rec_.ended.size(), 2u);
}

TEST_F(LateMergeTest, OneDirectionOnlyIsNotAMerge) {
  // A conference bridge / media server announcing its IP:port in an unrelated call
  // (through another signalling hop) shows up in one direction only.
  TwoLegs();
  ReInvites(Sdp("192.0.2.10", 16384, "0"), "", 5, /*leg_a=*/false);
  // Seconds later leg A is re-INVITEd, but to a third address: still no reverse evidence.
  Spec ra = FromB(a_);
  ra.cseq = 1;
  ra.branch = "z9hG4bK-ra9";
  ra.body = Sdp("10.20.0.1", 30010, "0");
  Feed(Req("INVITE", ra), 9, kPbx, kCaller);
  EXPECT_EQ(tracker_->counters()[CallsDrop::kMergedCalls], 0u);
  Byes(20);
  ASSERT_EQ(rec_.ended.size(), 2u);
  EXPECT_EQ(rec_.ended[0].sip_call_ids, std::vector<std::string>{"leg-a@carrier"});
  EXPECT_EQ(rec_.ended[1].sip_call_ids, std::vector<std::string>{"leg-b@pbx"});
  EXPECT_FALSE(rec_.ended[1].merged_into.valid());
}

TEST_F(LateMergeTest, EvidenceTooFarApartIsNotAMerge) {
  TwoLegs();
  ReInvites(Sdp("192.0.2.10", 16384, "0"), "", 5, /*leg_a=*/false);
  Spec ra = FromB(a_);
  ra.cseq = 1;
  ra.branch = "z9hG4bK-ra60";
  ra.body = Sdp("10.20.0.50", 20000, "0");
  Feed(Req("INVITE", ra), 60, kPbx, kCaller);  // 55 s later: outside the 32 s window
  EXPECT_EQ(tracker_->counters()[CallsDrop::kMergedCalls], 0u);
}

TEST_F(LateMergeTest, HoldSdpIsNotEvidence) {
  TwoLegs();
  // Both legs re-INVITEd with the other's addresses, but inactive (hold, RFC 3264 §8.4),
  // then with c=0.0.0.0: neither says where audio flows.
  ReInvites(Sdp("192.0.2.10", 16384, "0", "inactive"),
            Sdp("10.20.0.50", 20000, "0", "inactive"), 5);
  ReInvites(Sdp("0.0.0.0", 16384, "0"), Sdp("0.0.0.0", 20000, "0"), 8);
  EXPECT_EQ(tracker_->counters()[CallsDrop::kMergedCalls], 0u);
  Byes(20);
  ASSERT_EQ(rec_.ended.size(), 2u);
  EXPECT_EQ(rec_.ended[0].sip_call_ids.size(), 1u);
  EXPECT_EQ(rec_.ended[1].sip_call_ids.size(), 1u);
}

TEST_F(LateMergeTest, EndedCallsNeverMerge) {
  // The same phones call again seconds after the first call ended, reusing their ports:
  // the ended call's endpoints left the index with its end.
  TwoLegs();
  Byes(10);
  ASSERT_EQ(rec_.ended.size(), 2u);
  Spec x;
  x.call_id = "next@carrier";
  x.from_tag = "nx1";
  x.body = Sdp("192.0.2.10", 16384, "0");
  Feed(Req("INVITE", x), 14);
  x.to_tag = "nx2";
  x.body = Sdp("10.20.0.50", 20000, "0");
  Feed(Resp(200, "INVITE", x), 15, kPbx, kCaller);
  EXPECT_EQ(rec_.started.size(), 3u);
  EXPECT_EQ(tracker_->counters()[CallsDrop::kMergedCalls], 0u);
  EXPECT_EQ(tracker_->counters()[CallsDrop::kLinkedByMedia], 0u);
}

TEST_F(LateMergeTest, CorrelationHeaderSeenLaterMerges) {
  TwoLegs();
  Spec rb = b_;
  rb.cseq = 2;
  rb.branch = "z9hG4bK-upd";
  rb.extra = "X-Orig-Call-ID: leg-a@carrier\r\n";
  Feed(Req("UPDATE", rb), 6, kPbx, kAgentPhone);
  EXPECT_EQ(tracker_->counters()[CallsDrop::kMergedCalls], 1u);
  EXPECT_EQ(tracker_->counters()[CallsDrop::kLinkedByCorrelation], 1u);
  ASSERT_EQ(rec_.ended.size(), 1u);
  EXPECT_EQ(rec_.ended[0].merged_into, rec_.started[0].call_id);
}

// Media activity: a fake media layer that says when each (call, dialog) last had RTP.
struct FakeMedia : MediaActivity {
  std::map<std::pair<uint64_t, uint16_t>, uint64_t> last;
  uint64_t LastMediaNs(CallId call, uint16_t dialog) override {
    auto it = last.find({call.value, dialog});
    return it == last.end() ? 0 : it->second;
  }
};

TEST_F(TrackerTest, MediaKeepsAnsweredCallAliveAndItsEndTimesOut) {
  SipConfig sip;
  sip.idle_timeout_s = 60;
  Make(sip);
  FakeMedia media;
  tracker_->set_media_activity(&media);
  Spec s;
  BasicSetup(s);  // answered at 3, ACK at 3.1, then no SIP
  Spec q;
  q.call_id = "quiet@host";
  q.from_tag = "q1";
  BasicSetup(q, 1);  // answered at 4, ACK at 4.1
  ASSERT_EQ(rec_.started.size(), 2u);
  const CallId a = rec_.started[0].call_id, b = rec_.started[1].call_id;
  // RTP of call A flows for 3 x idle_timeout; call B's stops at 100 s.
  for (int t = 4; t <= 190; ++t) {
    media.last[{a.value, 0}] = At(t);
    if (t <= 100) media.last[{b.value, 0}] = At(t);
    tracker_->Advance(At(t + 0.5));
    if (t < 160) {
      ASSERT_TRUE(rec_.ended.empty()) << t;
    }
  }
  // B timed out idle_timeout after its last RTP; its end is that RTP's time.
  ASSERT_EQ(rec_.ended.size(), 1u);
  EXPECT_EQ(rec_.ended[0].call_id, b);
  EXPECT_EQ(rec_.ended[0].state, CallState::kTimedOut);
  EXPECT_EQ(rec_.ended[0].end_ns, At(100));
  EXPECT_EQ(tracker_->counters()[CallsDrop::kExpired], 1u);
  // A is still recording at 190 s (no SIP since 3.1 s) and ends with its BYE.
  Spec bye = s;
  bye.cseq = 2;
  bye.branch = "z9hG4bK-2";
  Feed(Req("BYE", bye), 190.7);
  ASSERT_EQ(rec_.ended.size(), 2u);
  EXPECT_EQ(rec_.ended[1].call_id, a);
  EXPECT_EQ(rec_.ended[1].state, CallState::kAnswered);
  EXPECT_EQ(rec_.ended[1].end_ns, At(190.7));
}

TEST_F(TrackerTest, WithoutMediaActivityIdleTimeoutUnchanged) {
  SipConfig sip;
  sip.idle_timeout_s = 60;
  Make(sip);
  FakeMedia media;  // knows nothing: the call expires 60 s after its last SIP
  tracker_->set_media_activity(&media);
  Spec s;
  BasicSetup(s);
  tracker_->Advance(At(3.1 + 59));
  EXPECT_TRUE(rec_.ended.empty());
  tracker_->Advance(At(3.1 + 61));
  ASSERT_EQ(rec_.ended.size(), 1u);
  EXPECT_EQ(rec_.ended[0].end_ns, At(3.1));
}

}  // namespace
}  // namespace callvault::calls
