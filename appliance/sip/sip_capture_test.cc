// Runs public captures (tests/data, see SOURCES.md) through libpcap -> decode::Decoder ->
// SipExtractor and checks that every SIP message tshark sees is parsed, in order.
//
// Expected sequences were produced independently with tshark 4.0 (Debian 12):
//   tshark -r FILE -Y sip -T fields -e sip.Method -e sip.Status-Code
// (frame order; for TCP and WebSocket, tshark reports a message at the frame that
// completes it, which is also when the reassembler hands it out).
#include <gtest/gtest.h>
#include <pcap/pcap.h>

#include <cctype>
#include <cstdlib>
#include <string>
#include <vector>

#include "appliance/config/config.h"
#include "appliance/decode/decoder.h"
#include "appliance/sip/sdp.h"
#include "appliance/sip/sip_extractor.h"

namespace callvault::sip {
namespace {

struct Seen {
  std::string what;  // method name, or status code as text
  Transport transport;
  std::string call_id;
  std::string sdp;
  std::size_t body_size = 0;
  uint32_t segments = 0;
  uint64_t first_ts_ns = 0;
  uint64_t last_ts_ns = 0;
};

struct RunResult {
  std::vector<Seen> messages;
  DropCounters<SipDrop> parse_drops;
  DropCounters<SipTransportDrop> transport_drops;
  SipExtractorStats stats;
  TcpStats tcp;
  std::size_t active_streams = 0;
};

std::string DataPath(const std::string& name) {
  const char* dir = std::getenv("CALLVAULT_TEST_DATA");
  return std::string(dir ? dir : "tests/data") + "/" + name;
}

RunResult RunCapture(const std::string& name, SipConfig cfg = SipConfig{}) {
  RunResult out;
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline(DataPath(name).c_str(), err);
  EXPECT_NE(p, nullptr) << err;
  if (!p) return out;
  const auto link = static_cast<LinkType>(pcap_datalink(p));
  decode::Decoder decoder{DecodeConfig{}};
  SipExtractor ex(cfg);
  auto on_message = [&](const Message& m, const TransportMessage& tm) {
    Seen s;
    s.what = m.is_request() ? std::string(m.method_raw()) : std::to_string(m.status_code());
    s.transport = tm.transport;
    s.call_id = std::string(m.call_id());
    s.sdp = std::string(m.sdp());
    s.body_size = m.body().size();
    s.segments = tm.segments;
    s.first_ts_ns = tm.first_ts_ns;
    s.last_ts_ns = tm.last_ts_ns;
    out.messages.push_back(std::move(s));
  };
  pcap_pkthdr* h;
  const u_char* data;
  while (pcap_next_ex(p, &h, &data) == 1) {
    Frame f;
    f.data = data;
    f.caplen = h->caplen;
    f.wirelen = h->len;
    f.ts_ns = uint64_t(h->ts.tv_sec) * 1000000000ull + uint64_t(h->ts.tv_usec) * 1000ull;
    f.link = link;
    decode::DecodedPacket pkt;
    if (decoder.Decode(f, &pkt) != decode::DecodeDrop::kOk) continue;
    ex.OnPacket(pkt, on_message);
    ex.Advance(f.ts_ns, on_message);
  }
  pcap_close(p);
  out.parse_drops = ex.parse_drops();
  out.transport_drops = ex.transport_drops();
  out.stats = ex.stats();
  out.tcp = ex.tcp().stats();
  out.active_streams = ex.tcp().active_streams();
  return out;
}

std::vector<std::string> Whats(const RunResult& r) {
  std::vector<std::string> v;
  for (const Seen& s : r.messages) v.push_back(s.what);
  return v;
}

using V = std::vector<std::string>;

TEST(SipCaptureTest, CompactForm) {
  RunResult r = RunCapture("suricata-verify_sip_compact_form.pcap");
  EXPECT_EQ(Whats(r), V({"INVITE"}));
  EXPECT_EQ(r.parse_drops.Total(), 0u);
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_FALSE(r.messages[0].call_id.empty());
}

TEST(SipCaptureTest, Ipv6Udp) {
  RunResult r = RunCapture("heplify_sip_ipv6_udp.pcap");
  EXPECT_EQ(Whats(r), V({"INVITE", "100", "200", "ACK", "BYE", "200"}));
  EXPECT_EQ(r.stats.udp_messages, 6u);
  SessionDescription sd;
  ASSERT_EQ(ParseSdp(r.messages[0].sdp, &sd), SdpError::kOk);
  ASSERT_FALSE(sd.media.empty());
  EXPECT_FALSE(sd.media[0].rtp.ip.is_v4());
}

TEST(SipCaptureTest, FiveCallsOverTcp) {
  RunResult r = RunCapture("nextcaller_sip-tcp.pcap");
  V call = {"INVITE", "180", "200", "ACK", "BYE", "200"};
  V expected;
  for (int i = 0; i < 5; ++i) expected.insert(expected.end(), call.begin(), call.end());
  EXPECT_EQ(Whats(r), expected);
  EXPECT_EQ(r.stats.tcp_messages, 30u);
  EXPECT_EQ(r.parse_drops.Total(), 0u);
  EXPECT_EQ(r.transport_drops.Total(), 0u);
}

TEST(SipCaptureTest, TcpCallWithRtp) {
  RunResult r = RunCapture("heplify_sip_ipv4_tcp_rtp_pcma.pcap");
  EXPECT_EQ(Whats(r), V({"INVITE", "100", "180", "200", "ACK", "BYE", "200"}));
  EXPECT_EQ(r.stats.tcp_messages, 7u);
  SessionDescription sd;
  ASSERT_EQ(ParseSdp(r.messages[0].sdp, &sd), SdpError::kOk);
  ASSERT_FALSE(sd.media.empty());
  ASSERT_NE(sd.media[0].PrimaryCodec(), nullptr);
  EXPECT_EQ(sd.media[0].PrimaryCodec()->encoding, "PCMA");
}

TEST(SipCaptureTest, SipIMultipartOverIpFragments) {
  RunResult r = RunCapture("nextcaller_sip-i_ipv4frag.pcap");
  EXPECT_EQ(Whats(r), V({"INVITE", "100"}));
  ASSERT_EQ(r.messages.size(), 2u);
  // The INVITE body is multipart/mixed (SDP + ISUP); the SDP part must come out.
  SessionDescription sd;
  ASSERT_EQ(ParseSdp(r.messages[0].sdp, &sd), SdpError::kOk) << r.messages[0].sdp;
  ASSERT_EQ(sd.media.size(), 1u);
  EXPECT_EQ(sd.media[0].media, "audio");
  EXPECT_NE(r.messages[0].sdp.size(), r.messages[0].body_size);
}

TEST(SipCaptureTest, LargeBodyOverLimitIsCountedNotCrashed) {
  // 65,793-byte INVITE (Content-Length 65536) over 5 TCP segments: above the default
  // max_message_bytes (65536), so it is a counted framing drop; the 100 still parses.
  RunResult r = RunCapture("suricata-verify_sip-body-large.pcap");
  EXPECT_EQ(Whats(r), V({"100"}));
  EXPECT_EQ(r.transport_drops[SipTransportDrop::kTcpFramingError], 1u);
}

TEST(SipCaptureTest, LargeBodyWithinRaisedLimit) {
  SipConfig cfg;
  cfg.max_message_bytes = 131072;
  cfg.tcp_max_buffer = 262144;
  RunResult r = RunCapture("suricata-verify_sip-body-large.pcap", cfg);
  EXPECT_EQ(Whats(r), V({"INVITE", "100"}));
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[0].body_size, 65536u);
  EXPECT_EQ(r.messages[0].segments, 5u);  // tshark: frames 5-9 carry it
  EXPECT_LT(r.messages[0].first_ts_ns, r.messages[0].last_ts_ns + 1);
  EXPECT_EQ(r.transport_drops.Total(), 0u);
  EXPECT_EQ(r.active_streams, 0u);  // both FINs seen
}

TEST(SipCaptureTest, WebSocketAndUdpMixed) {
  RunResult r = RunCapture("heplify_sip_tcp_websocket.pcap");
  EXPECT_EQ(Whats(r), V({"OPTIONS", "200", "INVITE", "407",    "ACK", "INVITE", "100", "INVITE",
                         "100",     "180", "180",    "INVITE", "100", "INVITE", "100", "183",
                         "183",     "183", "183",    "183",    "183", "183",    "183", "200",
                         "200",     "ACK", "ACK",    "200",    "200", "ACK",    "ACK", "BYE",
                         "BYE",     "200", "200",    "BYE",    "BYE", "200",    "200"}));
  EXPECT_EQ(r.stats.websocket_messages, 11u);  // SOURCES.md: 11 WS SIP messages
  EXPECT_EQ(r.parse_drops.Total(), 0u);
}

TEST(SipCaptureTest, SctpDataChunks) {
  RunResult r = RunCapture("heplify_sip_sctp.pcap");
  EXPECT_EQ(Whats(r), V({"INVITE", "100", "403", "ACK"}));
  EXPECT_EQ(r.stats.sctp_messages, 4u);
}

TEST(SipCaptureTest, TlsIsCountedUnderItsOwnReason) {
  RunResult r = RunCapture("voipshark_SIP-over-TLS-RTP-Normal_Call_two_parties.pcap");
  EXPECT_GT(r.transport_drops[SipTransportDrop::kSipOverTls], 0u);
  EXPECT_EQ(r.stats.tcp_messages, 0u);
}

// SDP content checked against tshark's view of the same captures:
//   tshark -r F -Y 'sip.Method=="INVITE" && sdp.media.media=="image"'          -> 4
//   tshark -r F -Y 'sdp.media.proto contains "SAVP"' (SRTP capture)             -> 7
//   tshark -r F -Y 'sip.Method=="INVITE"' -T fields -e sdp.media (re-INVITE)    -> 0 8 9, 9 0
TEST(SipCaptureTest, SdpFeaturesInRealCaptures) {
  auto count = [](const RunResult& r, auto pred) {
    std::size_t n = 0;
    for (const Seen& s : r.messages) {
      SessionDescription sd;
      if (s.sdp.empty() || ParseSdp(s.sdp, &sd) != SdpError::kOk) continue;
      n += pred(s, sd) ? 1 : 0;
    }
    return n;
  };
  RunResult fax = RunCapture("wswiki_FAX-Call-t38-CA-TDM-SIP-FB-1.pcap");
  EXPECT_EQ(count(fax,
                  [](const Seen& s, const SessionDescription& sd) {
                    for (const MediaDescription& m : sd.media) {
                      if (s.what == "INVITE" && m.media == "image") {
                        return m.proto == MediaProto::kUdptl;
                      }
                    }
                    return false;
                  }),
            4u);
  RunResult srtp = RunCapture("voipshark_SIP-SRTP-Normal_Call_two_parties.pcap");
  EXPECT_EQ(count(srtp,
                  [](const Seen&, const SessionDescription& sd) {
                    return !sd.media.empty() && sd.media[0].srtp &&
                           sd.media[0].proto == MediaProto::kRtpSavp &&
                           !sd.media[0].crypto_suites.empty();
                  }),
            7u);
  RunResult reinvite = RunCapture("sipnab_codec-negotiation_reinvite.pcap");
  std::vector<std::string> primary;
  for (const Seen& s : reinvite.messages) {
    SessionDescription sd;
    if (s.what != "INVITE" || ParseSdp(s.sdp, &sd) != SdpError::kOk) continue;
    ASSERT_FALSE(sd.media.empty());
    primary.push_back(sd.media[0].PrimaryCodec()->encoding);
  }
  EXPECT_EQ(primary, std::vector<std::string>({"PCMU", "G722"}));
}

struct CountCase {
  const char* file;
  std::size_t requests;   // tshark -Y sip: rows with sip.Method
  std::size_t responses;  // rows with sip.Status-Code
};

// Every capture in tests/data: our request/response counts equal tshark's, and every
// SDP body found parses. (The TLS capture shows 0/0 in tshark without the server key.)
TEST(SipCaptureTest, EveryCaptureMatchesTsharkCounts) {
  const CountCase cases[] = {
      {"heplify_sip_ipv4_tcp_rtp_pcma.pcap", 3, 4},
      {"heplify_sip_ipv6_udp.pcap", 3, 3},
      {"heplify_sip_sctp.pcap", 2, 2},
      {"heplify_sip_tcp_websocket.pcap", 15, 24},
      {"nextcaller_sip-i_ipv4frag.pcap", 1, 1},
      {"nextcaller_sip-tcp.pcap", 15, 15},
      {"sipnab_codec-negotiation_reinvite.pcap", 5, 5},
      {"sipnab_invite-opus-bye.pcap", 3, 4},
      {"sipnab_rtp-protocol_prack.pcap", 4, 5},
      {"suricata-verify_sip-body-large.pcap", 1, 1},
      {"suricata-verify_sip_compact_form.pcap", 1, 0},
      {"voipshark_SIP-SRTP-Normal_Call_two_parties.pcap", 23, 25},
      {"voipshark_SIP-over-TLS-RTP-Normal_Call_two_parties.pcap", 0, 0},
      {"wswiki_Asterisk_ZFONE_XLITE_zrtp.pcap", 14, 13},
      {"wswiki_DTMFsipinfo_pppoe.pcap", 16, 16},
      {"wswiki_FAX-Call-t38-CA-TDM-SIP-FB-1.pcap", 44, 48},
      {"wswiki_SIP_CALL_RTP_G711.pcap", 6, 8},
      {"wswiki_sip-rtp-g711.pcap", 5, 5},
      {"wswiki_sip-rtp-g722.pcap", 3, 3},
      {"wswiki_sip-rtp-g729a.pcap", 3, 3},
      {"wswiki_sip-rtp-opus-hybrid.pcap", 1, 1},
      {"sipnab_b2bua-asterisk.pcapng", 31, 29},
      {"sipnab_sipp-branch-scenario.pcapng", 3907, 5082},
  };
  SipConfig cfg;
  cfg.max_message_bytes = 131072;  // the 64 KiB INVITE of sip-body-large
  cfg.tcp_max_buffer = 262144;
  for (const CountCase& c : cases) {
    SCOPED_TRACE(c.file);
    RunResult r = RunCapture(c.file, cfg);
    std::size_t req = 0, resp = 0, sdp_bad = 0;
    for (const Seen& s : r.messages) {
      (std::isdigit(static_cast<unsigned char>(s.what[0])) ? resp : req) += 1;
      if (!s.sdp.empty()) {
        SessionDescription sd;
        if (ParseSdp(s.sdp, &sd) != SdpError::kOk) ++sdp_bad;
      }
    }
    EXPECT_EQ(req, c.requests);
    EXPECT_EQ(resp, c.responses);
    EXPECT_EQ(sdp_bad, 0u);
    EXPECT_EQ(r.parse_drops.Total(), 0u);
  }
}

}  // namespace
}  // namespace callvault::sip
