// Public captures (tests/data, see SOURCES.md) through the real chain: libpcap source ->
// decode::Decoder -> sip::SipExtractor -> DialogTracker. The expected calls were derived
// independently with tshark 4.0 (Debian 12); each expectation names its command.
// Times are the capture's frame.time_epoch of the named message.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "appliance/calls/dialog_tracker.h"
#include "appliance/capture/pcap_source.h"
#include "appliance/decode/decoder.h"
#include "appliance/sip/sip_extractor.h"

namespace callvault::calls {
namespace {

struct CaptureRun {
  std::vector<CallRecord> started;
  std::vector<CallRecord> ended;
  std::map<uint64_t, size_t> frames_per_call;  // CallId value -> SIP frames
  DropCounters<CallsDrop> counters;
  size_t max_dialogs_seen = 0;
  uint64_t messages = 0;
};

struct RecordingSink : CallEventSink {
  CaptureRun* run;
  explicit RecordingSink(CaptureRun* r) : run(r) {}
  void OnCallStarted(const CallRecord& c) override { run->started.push_back(c); }
  void OnCallUpdated(const CallRecord&) override {}
  void OnMediaChanged(const MediaSession&) override {}
  void OnSipFrame(CallId id, const Frame&) override { ++run->frames_per_call[id.value]; }
  void OnCallEnded(const CallRecord& c) override { run->ended.push_back(c); }
};

CaptureRun RunCapture(const std::string& name, SipConfig sip = {}) {
  CaptureRun run;
  const char* dir = std::getenv("CALLVAULT_TEST_DATA");
  std::string path = std::string(dir ? dir : "tests/data") + "/" + name;
  auto src = capture::OpenPcapFile(path);
  EXPECT_TRUE(src.ok()) << src.status();
  if (!src.ok()) return run;
  Config cfg;
  cfg.sip = sip;
  RecordingSink sink(&run);
  auto opt = TrackerOptions::FromConfig(cfg, nullptr);
  EXPECT_TRUE(opt.ok());
  DialogTracker tracker(*std::move(opt), &sink);
  decode::Decoder decoder{DecodeConfig{}};
  sip::SipExtractor extractor(cfg.sip);
  Frame burst[kBurstSize];
  while (true) {
    absl::StatusOr<size_t> n = (*src)->NextBurst(burst);
    if (!n.ok()) {
      EXPECT_TRUE(absl::IsOutOfRange(n.status())) << n.status();
      break;
    }
    for (size_t i = 0; i < *n; ++i) {
      const Frame& f = burst[i];
      decode::DecodedPacket pkt;
      if (decoder.Decode(f, &pkt) != decode::DecodeDrop::kOk) continue;
      extractor.OnPacket(pkt, [&](const sip::Message& m, const sip::TransportMessage& tm) {
        ++run.messages;
        SipEvent e{&m, tm.last_ts_ns, tm.src, tm.dst, {&f, 1}};
        tracker.OnMessage(e);
        run.max_dialogs_seen = std::max(run.max_dialogs_seen, tracker.dialogs());
      });
      tracker.Advance(f.ts_ns);
    }
  }
  tracker.Finish();
  run.counters = tracker.counters();
  EXPECT_EQ(tracker.calls(), 0u);
  EXPECT_EQ(tracker.dialogs(), 0u);
  return run;
}

uint64_t Ns(uint64_t sec, uint64_t nsec) { return sec * 1000000000ull + nsec; }

const CallRecord* FindCall(const CaptureRun& r, const std::string& sip_call_id) {
  for (const CallRecord& c : r.ended) {
    for (const std::string& id : c.sip_call_ids) {
      if (id == sip_call_id) return &c;
    }
  }
  return nullptr;
}

// tshark -r wswiki_sip-rtp-g711.pcap -Y sip -T fields -e frame.time_epoch -e sip.Call-ID
//   -e sip.Method -e sip.Status-Code -e sip.from.user -e sip.to.user
// tshark ... -Y 'sip.Status-Code==200 && sip.CSeq.method==INVITE' -T fields -e sdp.media
//   -> "audio 6000 RTP/AVP 0" (call 1), "audio ... RTP/AVP 8" (call 2)
TEST(CallsCapture, SippToFreeswitchTwoCalls) {
  CaptureRun r = RunCapture("wswiki_sip-rtp-g711.pcap");
  ASSERT_EQ(r.started.size(), 2u);
  ASSERT_EQ(r.ended.size(), 2u);
  const CallRecord* c1 = FindCall(r, "1-1966@10.0.2.20");
  ASSERT_NE(c1, nullptr);
  EXPECT_EQ(c1->state, CallState::kAnswered);
  EXPECT_EQ(c1->sip_code, 200);
  EXPECT_EQ(c1->start_ns, Ns(1480171979, 666393000));
  EXPECT_EQ(c1->answer_ns, Ns(1480171979, 670743000));
  EXPECT_EQ(c1->end_ns, Ns(1480171988, 170086000));  // the BYE (sent by FreeSWITCH)
  EXPECT_EQ(c1->ani, "sipp");                          // From user: not a phone number
  EXPECT_EQ(c1->dialled, "test");
  EXPECT_EQ(c1->codecs, std::vector<std::string>{"PCMU"});
  EXPECT_EQ(r.frames_per_call[c1->call_id.value], 6u);  // INVITE 100 200 ACK BYE 200
  const CallRecord* c2 = FindCall(r, "1-1968@10.0.2.20");
  ASSERT_NE(c2, nullptr);
  EXPECT_EQ(c2->state, CallState::kActive);  // the capture stops during the call
  EXPECT_EQ(c2->answer_ns, Ns(1480171988, 290862000));
  EXPECT_EQ(c2->end_ns, 0u);
  EXPECT_EQ(c2->codecs, std::vector<std::string>{"PCMA"});
}

// tshark -r heplify_sip_ipv6_udp.pcap -Y sip -T fields -e sip.Call-ID -e sip.Method
//   -e sip.Status-Code -e sip.from.user -e sip.to.user  (INVITE 100 200 ACK BYE 200;
// this file's timestamps jump by years between packets)
TEST(CallsCapture, Ipv6Call) {
  CaptureRun r = RunCapture("heplify_sip_ipv6_udp.pcap");
  ASSERT_EQ(r.ended.size(), 1u);
  const CallRecord& c = r.ended[0];
  EXPECT_EQ(c.sip_call_ids[0],
            "c3eF6f58-363323Cd-8058EB88-10300252@fe80:0:0:0:21a:a0ff:fe07:32e0");
  EXPECT_EQ(c.state, CallState::kAnswered);
  EXPECT_EQ(c.start_ns, Ns(1328589362, 251758000));
  EXPECT_EQ(c.answer_ns, Ns(1530001712, 251758000));
  // The BYE's time (3215500952.251758) is past 2^31 s: libpcap hands it over as a negative
  // tv_sec, so end_ns is not asserted here (reported to capture).
  EXPECT_EQ(c.ani, "9876");
  EXPECT_EQ(c.dialled, "4321");
  // tshark -r heplify_sip_ipv6_udp.pcap -Y sdp -T fields -e sip.CSeq -e sdp.media
  //   -> only "1 INVITE ... audio 5008 RTP/AVP 0": the 200 carries no SDP answer, so no
  //   codec was negotiated.
  EXPECT_TRUE(c.codecs.empty());
}

// tshark -r nextcaller_sip-tcp.pcap -q -z sip,stat  -> 5 INVITE, 5 x 180, 10 x 200, 5 BYE
TEST(CallsCapture, FiveCallsOverTcp) {
  CaptureRun r = RunCapture("nextcaller_sip-tcp.pcap");
  ASSERT_EQ(r.ended.size(), 5u);
  for (int i = 1; i <= 5; ++i) {
    const CallRecord* c = FindCall(r, std::to_string(i) + "-2550@127.0.0.1");
    ASSERT_NE(c, nullptr) << i;
    EXPECT_EQ(c->state, CallState::kAnswered);
    EXPECT_EQ(c->sip_code, 200);
    EXPECT_EQ(c->ani, "sipp");
    EXPECT_EQ(c->dialled, "service");
    EXPECT_EQ(c->codecs, std::vector<std::string>{"PCMU"});
  }
  EXPECT_EQ(FindCall(r, "3-2550@127.0.0.1")->end_ns, Ns(1587247481, 235304000));
}

// tshark -r sipnab_rtp-protocol_prack.pcap -Y sip -T fields -e frame.time_epoch
//   -e sip.Method -e sip.Status-Code -e sip.CSeq  (INVITE 100 180 PRACK 200 200 ACK BYE 200)
// tshark ... -Y 'sip.Status-Code==200 && sip.CSeq.method==INVITE' -T fields -e sdp.media
//   -> "audio 6010 RTP/AVP 8 13"  (PCMA)
TEST(CallsCapture, PrackCall) {
  CaptureRun r = RunCapture("sipnab_rtp-protocol_prack.pcap");
  ASSERT_EQ(r.ended.size(), 1u);
  const CallRecord& c = r.ended[0];
  EXPECT_EQ(c.state, CallState::kAnswered);
  EXPECT_EQ(c.answer_ns, Ns(1311238107, 461324000));
  EXPECT_EQ(c.end_ns, Ns(1311238112, 333833000));
  EXPECT_EQ(c.ani, "MP114.FXS1");
  EXPECT_EQ(c.dialled, "101");
  EXPECT_EQ(c.codecs, std::vector<std::string>{"PCMA"});
  EXPECT_EQ(r.counters[CallsDrop::kRetransmission], 0u);  // -z sip,stat: 0 resent
}

// tshark -r sipnab_codec-negotiation_reinvite.pcap -Y sdp -T fields -e sip.CSeq -e sdp.media
//   -> 1 INVITE "...RTP/AVP 0", 200 "...0", 2 INVITE "...9", 200 "...9"
TEST(CallsCapture, ReInviteCodecSwitch) {
  CaptureRun r = RunCapture("sipnab_codec-negotiation_reinvite.pcap");
  ASSERT_EQ(r.ended.size(), 1u);
  const CallRecord& c = r.ended[0];
  EXPECT_EQ(c.state, CallState::kAnswered);
  EXPECT_EQ(c.ani, "alice");
  EXPECT_EQ(c.dialled, "bob");
  EXPECT_EQ(c.codecs, (std::vector<std::string>{"PCMU", "G722"}));
  EXPECT_EQ(c.end_ns, Ns(1782326793, 824182000));
}

// tshark -r heplify_sip_sctp.pcap -Y sip -T fields -e sip.Method -e sip.Status-Code
//   -e sip.pai.user -e sip.from.user  -> INVITE, 100, 403, ACK; P-Asserted-Identity user
//   9171969136: area code 917 but exchange 196 — NANP exchange codes start with 2-9
//   (ATIS-0300051 §2), so it is not a valid number and is kept as seen.
TEST(CallsCapture, SctpForbidden) {
  CaptureRun r = RunCapture("heplify_sip_sctp.pcap");
  ASSERT_EQ(r.ended.size(), 1u);
  const CallRecord& c = r.ended[0];
  EXPECT_EQ(c.state, CallState::kFailed);
  EXPECT_EQ(c.sip_code, 403);
  EXPECT_EQ(c.ani, "9171969136");
  EXPECT_EQ(c.end_ns, Ns(1579813424, 71375000));
}

// tshark -r wswiki_DTMFsipinfo_pppoe.pcap -Y 'sip.Method==INFO' -V | grep -E 'Signal|Duration'
//   -> Signal= 1/3/4/2, Duration= 180, at 1303892076.869586, 080.600416, 146.275825,
//   148.231547; INVITE at 1303892069.846846; first 200 to INVITE at 069.937594; no BYE.
TEST(CallsCapture, SipInfoDtmfOverPppoe) {
  CaptureRun r = RunCapture("wswiki_DTMFsipinfo_pppoe.pcap");
  ASSERT_EQ(r.ended.size(), 1u);
  const CallRecord& c = r.ended[0];
  EXPECT_EQ(c.state, CallState::kActive);
  EXPECT_EQ(c.answer_ns, Ns(1303892069, 937594000));
  EXPECT_EQ(c.ani, "admind");
  EXPECT_EQ(c.dialled, "echo");
  ASSERT_EQ(c.dtmf.size(), 4u);
  const char* digits[] = {"1", "3", "4", "2"};
  const double offsets[] = {7.022740, 10.753570, 76.428979, 78.384701};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(c.dtmf[i].digit, digits[i]);
    EXPECT_EQ(c.dtmf[i].duration_ms, 180u);
    EXPECT_NEAR(c.dtmf[i].offset_s, offsets[i], 1e-6);
    EXPECT_EQ(c.dtmf[i].source, "sip_info");
  }
}

// Per Call-ID outcome of every INVITE dialog, from
//   tshark -r sipnab_sipp-branch-scenario.pcapng -Y sip -T fields -e sip.Call-ID
//     -e sip.Method -e sip.Status-Code -e sip.CSeq.method
//   | awk -F'\t' '$2=="INVITE"{inv[$1]=1} $3>=200 && $4=="INVITE" && !($1 in fin){fin[$1]=$3}
//       $2=="BYE"{bye[$1]=1} END{for(c in inv){k=(c in fin)?fin[c]:"none";
//       k=k (c in bye?"+bye":""); n[k]++} for(k in n) print k, n[k]}'
//   -> 200+bye 96, 200 6, 403+bye 1027, 403 121, none+bye 12, none 72  (1334 dialogs)
// (-z sip,stat: 1334 INVITE, 1334 REGISTER sharing those Call-IDs, 0 resent.)
void ExpectSippOutcome(const CaptureRun& r) {
  ASSERT_EQ(r.started.size(), 1334u);
  ASSERT_EQ(r.ended.size(), 1334u);
  std::map<std::string, int> by;
  for (const CallRecord& c : r.ended) {
    by[std::string(CallStateName(c.state)) + "/" + std::to_string(c.sip_code)]++;
  }
  EXPECT_EQ(by["answered/200"], 96);       // 200 then BYE
  EXPECT_EQ(by["active/200"], 6);          // 200, no BYE before the end of the capture
  EXPECT_EQ(by["failed/403"], 1148);       // 1027 + 121 (a BYE after the 403 changes nothing)
  EXPECT_EQ(by["cancelled/0"], 12);        // BYE on the early dialog, no final response
  EXPECT_EQ(by["active/0"], 72);           // ringing when the capture ends
  EXPECT_EQ(r.counters[CallsDrop::kNotCallRelated], 2 * 1334u);  // REGISTER + its 200
}

TEST(CallsCapture, SippLoadDefaultLimits) {
  CaptureRun r = RunCapture("sipnab_sipp-branch-scenario.pcapng");
  ExpectSippOutcome(r);
  EXPECT_EQ(r.counters[CallsDrop::kEvicted], 0u);
}

// The same load with a tiny dialog table: memory stays bounded, evictions are counted,
// and the calls still all start and end (evicted ones as timed_out).
TEST(CallsCapture, SippLoadBoundedTable) {
  SipConfig sip;
  sip.max_dialogs = 50;
  sip.max_transactions = 400;
  CaptureRun r = RunCapture("sipnab_sipp-branch-scenario.pcapng", sip);
  EXPECT_LE(r.max_dialogs_seen, 50u);
  EXPECT_EQ(r.started.size(), 1334u);
  EXPECT_EQ(r.ended.size(), 1334u);
  EXPECT_GT(r.counters[CallsDrop::kEvicted], 0u);
}

// An Asterisk B2BUA whose two legs share media only after it re-INVITEs both to direct
// media (issue 3). From
//   tshark -r sipnab_b2bua-asterisk.pcapng -Y sdp -T fields -e frame.number
//     -e frame.time_epoch -e ip.src -e sip.Call-ID -e sdp.connection_info.address
//     -e sdp.media.port -e sdp.media
// leg A  M2Q0...ZWQ. (172.16.98.1 -> Asterisk .101): INVITE #19 1463595795.920336 offers
//        .1:8000; 200 #34 1463595802.986781 answers .101:13060 (PCMU);
// leg B  37686afc...@172.16.98.101:5060 (Asterisk -> .145): INVITE #24 1463595795.923891
//        offers .101:18010; 200 #32 1463595802.982256 answers .145:8000 (PT 0 first: PCMU);
// re-INVITE #35 1463595802.987124 (leg B, from .101) offers .1:8000 — leg A's caller;
// re-INVITE #37 1463595802.993949 (leg A, from .101) offers .145:8000 — leg B's callee:
// both directions -> one call; leg A started first and survives. BYE #404 (leg A)
// 1463595810.609451, BYE #409 (leg B) 1463595810.850300 ends the call. From user
// "telephone1", To "2302" (tshark -e sip.from.user -e sip.to.user, frame 19).
// SIP frames per Call-ID (tshark -Y sip): leg A 13 (#19-23, 29, 34, 36-39, 404, 405),
// leg B 15: 8 up to #35 (absorbed call), 7 from #41 on (survivor).
TEST(CallsCapture, B2buaDirectMediaReInviteMergesLegs) {
  CaptureRun r = RunCapture("sipnab_b2bua-asterisk.pcapng");
  const std::string leg_a = "M2Q0ZDc1ZGM1NzIyMTlhZTA3NDU3NTgzMzA5YmJmZWQ.";
  const std::string leg_b = "37686afc57ce24ac655742b3644a7bb8@172.16.98.101:5060";
  ASSERT_EQ(r.started.size(), 2u);  // two calls until the re-INVITEs reveal the link
  ASSERT_EQ(r.ended.size(), 2u);
  EXPECT_EQ(r.counters[CallsDrop::kMergedCalls], 1u);
  const CallRecord* gone = nullptr;
  const CallRecord* call = nullptr;
  for (const CallRecord& c : r.ended) (c.merged_into.valid() ? gone : call) = &c;
  ASSERT_NE(call, nullptr);
  ASSERT_NE(gone, nullptr);
  EXPECT_EQ(call->sip_call_ids, (std::vector<std::string>{leg_a, leg_b}));
  EXPECT_EQ(call->call_id, CallId::Make(Ns(1463595795, 920336000), leg_a));
  EXPECT_EQ(call->state, CallState::kAnswered);
  EXPECT_EQ(call->sip_code, 200);
  EXPECT_EQ(call->start_ns, Ns(1463595795, 920336000));
  EXPECT_EQ(call->answer_ns, Ns(1463595802, 982256000));  // the callee's 200 on leg B
  EXPECT_EQ(call->end_ns, Ns(1463595810, 850300000));     // the last BYE (leg B)
  EXPECT_EQ(call->ani, "telephone1");
  EXPECT_EQ(call->dialled, "2302");
  EXPECT_EQ(call->codecs, std::vector<std::string>{"PCMU"});
  EXPECT_EQ(r.frames_per_call[call->call_id.value], 20u);
  // The absorbed leg-B call ends at the merge and names the survivor.
  EXPECT_EQ(gone->merged_into, call->call_id);
  EXPECT_EQ(gone->sip_call_ids, std::vector<std::string>{leg_b});
  EXPECT_EQ(gone->start_ns, Ns(1463595795, 923891000));
  EXPECT_EQ(gone->end_ns, Ns(1463595802, 993949000));
  EXPECT_EQ(gone->state, CallState::kAnswered);
  EXPECT_EQ(r.frames_per_call[gone->call_id.value], 8u);
}

}  // namespace
}  // namespace callvault::calls
