#include "appliance/sip/message.h"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

namespace callvault::sip {
namespace {

std::span<const uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

const char kInvite[] =
    "INVITE sip:+12025550143@gw.example.com;user=phone SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds;rport\r\n"
    "Via: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKold\r\n"
    "Max-Forwards: 70\r\n"
    "To: <sip:+12025550143@gw.example.com;user=phone>\r\n"
    "From: \"Alice, Agent\" <sip:2001@pbx.example.com>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710@pc33.example.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:2001@10.0.0.1:5062;transport=udp>\r\n"
    "P-Asserted-Identity: <tel:+18005550100>, \"Alice\" <sip:+18005550100@pbx.example.com>\r\n"
    "Remote-Party-ID: \"Caller\" <sip:5551234@pbx>;party=calling;screen=yes\r\n"
    "Session-Expires: 1800;refresher=uac\r\n"
    "User-Agent: TestPBX 1.0\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 10\r\n"
    "\r\n"
    "v=0\r\no=x\r\n";

TEST(SipMessageTest, ParsesRequestLineAndHeaders) {
  Message m;
  ParseResult r = ParseMessage(Bytes(kInvite), Limits{}, &m);
  ASSERT_TRUE(r.ok()) << DropName(*r.drop);
  EXPECT_EQ(r.consumed, sizeof(kInvite) - 1);
  EXPECT_TRUE(m.is_request());
  EXPECT_EQ(m.method(), Method::kInvite);
  EXPECT_EQ(m.method_raw(), "INVITE");
  EXPECT_EQ(m.request_uri().scheme, UriScheme::kSip);
  EXPECT_EQ(m.request_uri().user, "+12025550143");
  EXPECT_EQ(m.request_uri().host, "gw.example.com");
  EXPECT_TRUE(m.request_uri().user_phone);
  EXPECT_EQ(m.headers().size(), 14u);
  EXPECT_EQ(m.call_id(), "a84b4c76e66710@pc33.example.com");

  auto from = m.from();
  ASSERT_TRUE(from);
  EXPECT_EQ(from->display_name, "Alice, Agent");
  EXPECT_EQ(from->uri.user, "2001");
  EXPECT_EQ(from->uri.host, "pbx.example.com");
  EXPECT_EQ(from->tag, "1928301774");
  auto to = m.to();
  ASSERT_TRUE(to);
  EXPECT_EQ(to->tag, "");
  EXPECT_EQ(to->uri.user, "+12025550143");

  auto via = m.top_via();
  ASSERT_TRUE(via);
  EXPECT_EQ(via->transport, "UDP");
  EXPECT_EQ(via->host, "10.0.0.1");
  EXPECT_EQ(via->port, 5060);
  EXPECT_EQ(via->branch, "z9hG4bK776asdhds");
  EXPECT_EQ(m.Count(HeaderId::kVia), 2u);

  auto cseq = m.cseq();
  ASSERT_TRUE(cseq);
  EXPECT_EQ(cseq->number, 314159u);
  EXPECT_EQ(cseq->method, Method::kInvite);

  auto contact = m.contact();
  ASSERT_TRUE(contact);
  EXPECT_EQ(contact->uri.port, 5062);
  EXPECT_EQ(contact->uri.Param("transport").value_or("?"), "udp");

  auto pai = m.p_asserted_identity();  // sip: preferred over tel:
  ASSERT_TRUE(pai);
  EXPECT_EQ(pai->uri.scheme, UriScheme::kSip);
  EXPECT_EQ(pai->uri.user, "+18005550100");
  std::array<std::string_view, 4> vals;
  EXPECT_EQ(m.Values(HeaderId::kPAssertedIdentity, vals), 2u);
  EXPECT_EQ(vals[0], "<tel:+18005550100>");

  auto rpid = m.remote_party_id();
  ASSERT_TRUE(rpid);
  EXPECT_EQ(rpid->display_name, "Caller");
  EXPECT_EQ(rpid->Param("party").value_or(""), "calling");

  EXPECT_EQ(m.max_forwards().value_or(0), 70u);
  auto se = m.session_expires();
  ASSERT_TRUE(se);
  EXPECT_EQ(se->seconds, 1800u);
  EXPECT_EQ(se->refresher, "uac");
  EXPECT_EQ(m.user_agent(), "TestPBX 1.0");
  EXPECT_EQ(m.content_type(), "application/sdp");
  EXPECT_EQ(m.content_length().value_or(0), 10u);
  EXPECT_EQ(m.body(), "v=0\r\no=x\r\n");
  EXPECT_EQ(m.sdp(), "v=0\r\no=x\r\n");
}

TEST(SipMessageTest, CompactFormsAndCaseInsensitiveNames) {
  const std::string msg =
      "BYE sip:bob@192.0.2.4 SIP/2.0\r\n"
      "v: SIP/2.0/TCP 192.0.2.1;branch=z9hG4bKx\r\n"
      "f: <sip:alice@a.example>;tag=aa\r\n"
      "t: <sip:bob@b.example>;tag=bb\r\n"
      "i: compact-id-1\r\n"
      "cseq: 2 BYE\r\n"
      "m: <sip:alice@192.0.2.1>\r\n"
      "c: text/plain\r\n"
      "k: timer\r\n"
      "x: 90\r\n"
      "r: <sip:carol@c.example>\r\n"
      "b: <sip:alice@a.example>\r\n"
      "MAX-FORWARDS: 69\r\n"
      "l: 0\r\n"
      "\r\n";
  Message m;
  ASSERT_TRUE(ParseMessage(Bytes(msg), Limits{}, &m).ok());
  EXPECT_EQ(m.method(), Method::kBye);
  EXPECT_EQ(m.call_id(), "compact-id-1");
  EXPECT_EQ(m.from()->tag, "aa");
  EXPECT_EQ(m.to()->tag, "bb");
  EXPECT_EQ(m.top_via()->transport, "TCP");
  EXPECT_EQ(m.top_via()->port, 0);
  EXPECT_EQ(m.cseq()->number, 2u);
  EXPECT_EQ(m.contact()->uri.host, "192.0.2.1");
  EXPECT_EQ(m.content_type(), "text/plain");
  EXPECT_EQ(m.Value("Supported"), "timer");
  EXPECT_EQ(m.Value("K"), "timer");
  EXPECT_EQ(m.session_expires()->seconds, 90u);
  EXPECT_EQ(m.refer_to()->uri.user, "carol");
  EXPECT_EQ(m.referred_by()->uri.user, "alice");
  EXPECT_EQ(m.max_forwards().value_or(0), 69u);
  EXPECT_EQ(m.Value("call-id"), "compact-id-1");
  EXPECT_EQ(m.Value(HeaderId::kContentLength), "0");
  EXPECT_EQ(m.body(), "");
}

TEST(SipMessageTest, FoldedHeaderLines) {
  // RFC 3261 §7.3.1: a line starting with whitespace continues the previous header.
  const std::string msg =
      "SIP/2.0 180 Ringing\r\n"
      "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa,\r\n"
      "     SIP/2.0/UDP 10.0.0.2:5070;branch=z9hG4bKb\r\n"
      "Subject: I know you're there,\r\n"
      "\tpick up the phone\r\n"
      "Call-ID:\r\n"
      " folded-callid\r\n"
      "CSeq: 1 INVITE\r\n"
      "Content-Length: 0\r\n\r\n";
  Message m;
  ParseResult r = ParseMessage(Bytes(msg), Limits{}, &m);
  ASSERT_TRUE(r.ok()) << DropName(*r.drop);
  EXPECT_TRUE(m.is_response());
  EXPECT_EQ(m.status_code(), 180);
  EXPECT_EQ(m.reason_phrase(), "Ringing");
  EXPECT_EQ(m.headers().size(), 5u);
  std::array<std::string_view, 4> vias;
  ASSERT_EQ(m.Values(HeaderId::kVia, vias), 2u);
  EXPECT_EQ(vias[1], "SIP/2.0/UDP 10.0.0.2:5070;branch=z9hG4bKb");
  EXPECT_EQ(m.call_id(), "folded-callid");
  EXPECT_EQ(m.Value(HeaderId::kSubject), "I know you're there,\r\n\tpick up the phone");
}

TEST(SipMessageTest, SplitHeaderValuesRespectsQuotesAndBrackets) {
  std::array<std::string_view, 8> out;
  std::size_t n = SplitHeaderValues(
      "\"Doe, John\" <sip:j@x;a=1,2>, <sip:k@y> (comment, here), \"q\\\",x\" <sip:z@z>", out);
  ASSERT_EQ(n, 3u);
  EXPECT_EQ(out[0], "\"Doe, John\" <sip:j@x;a=1,2>");
  EXPECT_EQ(out[1], "<sip:k@y> (comment, here)");
  EXPECT_EQ(out[2], "\"q\\\",x\" <sip:z@z>");
  // More values than room: total is still reported.
  std::array<std::string_view, 1> one;
  EXPECT_EQ(SplitHeaderValues("a, b, c", one), 3u);
  EXPECT_EQ(one[0], "a");
  EXPECT_EQ(SplitHeaderValues(" , ,", one), 0u);
}

TEST(SipMessageTest, ReasonReplacesRackRseq) {
  const std::string msg =
      "PRACK sip:b@b SIP/2.0\r\n"
      "RAck: 776656 1 INVITE\r\n"
      "RSeq: 42\r\n"
      "Reason: Q.850 ;cause=16 ;text=\"Normal call clearing\", SIP;cause=200\r\n"
      "Replaces: 425928@bobster.example.org;to-tag=7743;from-tag=6472;early-only\r\n"
      "Content-Length: 0\r\n\r\n";
  Message m;
  ASSERT_TRUE(ParseMessage(Bytes(msg), Limits{}, &m).ok());
  EXPECT_EQ(m.method(), Method::kPrack);
  auto rack = m.rack();
  ASSERT_TRUE(rack);
  EXPECT_EQ(rack->rseq, 776656u);
  EXPECT_EQ(rack->cseq, 1u);
  EXPECT_EQ(rack->method, Method::kInvite);
  EXPECT_EQ(m.rseq().value_or(0), 42u);
  auto reason = m.reason();
  ASSERT_TRUE(reason);
  EXPECT_EQ(reason->protocol, "Q.850");
  EXPECT_EQ(reason->cause, 16u);
  EXPECT_EQ(reason->text, "Normal call clearing");
  auto rep = m.replaces();
  ASSERT_TRUE(rep);
  EXPECT_EQ(rep->call_id, "425928@bobster.example.org");
  EXPECT_EQ(rep->to_tag, "7743");
  EXPECT_EQ(rep->from_tag, "6472");
  EXPECT_TRUE(rep->early_only);
}

TEST(SipMessageTest, UnknownMethodAndArbitraryHeader) {
  const std::string msg =
      "FOO sip:x@y SIP/2.0\r\nX-Call-Correlation: abc-123\r\nContent-Length: 0\r\n\r\n";
  Message m;
  ASSERT_TRUE(ParseMessage(Bytes(msg), Limits{}, &m).ok());
  EXPECT_EQ(m.method(), Method::kUnknown);
  EXPECT_EQ(m.method_raw(), "FOO");
  EXPECT_EQ(m.Value("x-call-correlation"), "abc-123");
  EXPECT_EQ(m.Find("X-Missing"), nullptr);
}

TEST(SipMessageTest, ContentLengthFramesBodyAndTrailingBytes) {
  const std::string msg = "SIP/2.0 200 OK\r\nl: 3\r\n\r\nabcSIP/2.0 100 Trying\r\n";
  Message m;
  ParseResult r = ParseMessage(Bytes(msg), Limits{}, &m);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(m.body(), "abc");
  EXPECT_EQ(r.consumed, msg.find("SIP/2.0 100"));
  EXPECT_EQ(m.raw(), msg.substr(0, r.consumed));
}

TEST(SipMessageTest, LeadingCrlfIgnored) {
  const std::string msg = "\r\n\r\nOPTIONS sip:x@y SIP/2.0\r\nContent-Length: 0\r\n\r\n";
  Message m;
  ParseResult r = ParseMessage(Bytes(msg), Limits{}, &m);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(m.method(), Method::kOptions);
  EXPECT_EQ(r.consumed, msg.size());
}

TEST(SipMessageTest, NamedErrors) {
  Limits l;
  Message m;
  auto drop = [&](std::string_view s) {
    ParseResult r = ParseMessage(Bytes(s), l, &m);
    return r.ok() ? SipDrop::kCount : *r.drop;
  };
  EXPECT_EQ(drop("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), SipDrop::kNotSip);
  EXPECT_EQ(drop(""), SipDrop::kNotSip);
  EXPECT_EQ(drop("SIP/2.0 2000 OK\r\n\r\n"), SipDrop::kBadStartLine);
  EXPECT_EQ(drop("SIP/2.0 099 Low\r\n\r\n"), SipDrop::kBadStartLine);
  EXPECT_EQ(drop("INVITE nocolon SIP/2.0\r\n\r\n"), SipDrop::kBadStartLine);
  EXPECT_EQ(drop("INVITE sip:a@b SIP/2.0\r\nNoColonHere\r\n\r\n"), SipDrop::kBadHeader);
  EXPECT_EQ(drop("INVITE sip:a@b SIP/2.0\r\n: empty\r\n\r\n"), SipDrop::kBadHeader);
  EXPECT_EQ(drop("INVITE sip:a@b SIP/2.0\r\n folded-first\r\n\r\n"), SipDrop::kBadHeader);
  EXPECT_EQ(drop("INVITE sip:a@b SIP/2.0\r\nVia: x\r\n"), SipDrop::kTruncated);
  EXPECT_EQ(drop("INVITE sip:a@b SIP/2.0\r\nl: 10\r\n\r\nabc"), SipDrop::kTruncated);
  EXPECT_EQ(drop("INVITE sip:a@b SIP/2.0\r\nl: x1\r\n\r\n"), SipDrop::kBadContentLength);
  EXPECT_EQ(drop("INVITE sip:a@b SIP/2.0\r\nl: 1\r\nContent-Length: 2\r\n\r\nab"),
            SipDrop::kBadContentLength);
  EXPECT_EQ(drop("INVITE sip:a@b SIP/2.0\r\nl: 99999999\r\n\r\n"), SipDrop::kBodyOverLimit);
  l.max_message_bytes = 20;
  EXPECT_EQ(drop("INVITE sip:a@b SIP/2.0\r\n\r\n"), SipDrop::kMessageTooLarge);
  l = Limits{};
  l.max_headers = 2;
  EXPECT_EQ(drop("INVITE sip:a@b SIP/2.0\r\na: 1\r\nb: 2\r\nc: 3\r\n\r\n"),
            SipDrop::kTooManyHeaders);
  l = Limits{};
  l.max_header_bytes = 16;
  EXPECT_EQ(drop("INVITE sip:a@b SIP/2.0\r\nSubject: 0123456789abcdef\r\n\r\n"),
            SipDrop::kHeaderTooLong);
  EXPECT_EQ(drop("INVITE sip:a@b SIP/2.0\r\nSubject: 01234\r\n 56789abcdef\r\n\r\n"),
            SipDrop::kHeaderTooLong);
  EXPECT_EQ(DropName(SipDrop::kBodyOverLimit), "body_over_limit");
}

TEST(SipMessageTest, TooManyHeadersCappedAtCapacity) {
  std::string msg = "OPTIONS sip:a@b SIP/2.0\r\n";
  for (std::size_t i = 0; i <= Message::kMaxHeaders; ++i) msg += "X-H: 1\r\n";
  msg += "\r\n";
  Limits l;
  l.max_headers = 100000;
  Message m;
  ParseResult r = ParseMessage(Bytes(msg), l, &m);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(*r.drop, SipDrop::kTooManyHeaders);
}

TEST(SipMessageTest, EveryTruncationFailsCleanly) {
  // Every prefix of a valid message must either parse (only once the body is complete)
  // or fail with a named reason, never crash (run under ASan in the fuzz build).
  std::string_view full(kInvite, sizeof(kInvite) - 1);
  Message m;
  for (std::size_t n = 0; n < full.size(); ++n) {
    std::string prefix(full.substr(0, n));
    ParseResult r = ParseMessage(Bytes(prefix), Limits{}, &m);
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_TRUE(*r.drop == SipDrop::kTruncated || *r.drop == SipDrop::kNotSip) << n;
  }
  ASSERT_TRUE(ParseMessage(Bytes(full), Limits{}, &m).ok());
}

TEST(SipMessageTest, MultipartMixedSdpExtracted) {
  // SIP-I style body: SDP + ISUP in multipart/mixed (RFC 2046 §5.1, RFC 3204).
  const std::string body =
      "--unique-boundary-1\r\n"
      "Content-Type: application/sdp\r\n"
      "\r\n"
      "v=0\r\n"
      "o=- 1 1 IN IP4 192.0.2.5\r\n"
      "m=audio 4000 RTP/AVP 8\r\n"
      "\r\n"
      "--unique-boundary-1\r\n"
      "Content-Type: application/ISUP;version=itu-t92+\r\n"
      "Content-Disposition: signal;handling=optional\r\n"
      "\r\n"
      "\x01\x00\x49\x00\x00\x03\x02\x00\x07\x04\x10\x00\r\n"
      "--unique-boundary-1--\r\n";
  const std::string msg =
      "INVITE sip:123@gw SIP/2.0\r\n"
      "Content-Type: multipart/mixed;boundary=\"unique-boundary-1\"\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  Message m;
  ASSERT_TRUE(ParseMessage(Bytes(msg), Limits{}, &m).ok());
  EXPECT_EQ(m.content_type(), "multipart/mixed");
  EXPECT_EQ(m.sdp(), "v=0\r\no=- 1 1 IN IP4 192.0.2.5\r\nm=audio 4000 RTP/AVP 8\r\n");
}

TEST(SipMessageTest, MultipartWithoutSdpOrBoundary) {
  const std::string body = "--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n";
  std::string msg =
      "INVITE sip:1@g SIP/2.0\r\nContent-Type: multipart/mixed; boundary=b\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  Message m;
  ASSERT_TRUE(ParseMessage(Bytes(msg), Limits{}, &m).ok());
  EXPECT_EQ(m.sdp(), "");
  msg =
      "INVITE sip:1@g SIP/2.0\r\nContent-Type: multipart/mixed\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  ASSERT_TRUE(ParseMessage(Bytes(msg), Limits{}, &m).ok());
  EXPECT_EQ(m.sdp(), "");
}

TEST(SipMessageTest, LooksLikeSip) {
  EXPECT_TRUE(LooksLikeSip(Bytes("INVITE sip:bob@b SIP/2.0\r\n")));
  EXPECT_TRUE(LooksLikeSip(Bytes("SIP/2.0 200 OK\r\n")));
  EXPECT_TRUE(LooksLikeSip(Bytes("SIP/2.0 180")));
  EXPECT_TRUE(LooksLikeSip(Bytes("\r\nOPTIONS sips:x@y:5061 SIP/2.0\n")));
  EXPECT_FALSE(LooksLikeSip(Bytes("GET / HTTP/1.1\r\n")));
  EXPECT_FALSE(LooksLikeSip(Bytes("HTTP/1.1 200 OK\r\n")));
  EXPECT_FALSE(LooksLikeSip(Bytes("invite sip:x SIP/2.0\r\n")));
  EXPECT_FALSE(LooksLikeSip(Bytes("INVITE sip:bob@b SIP/2.0")));  // line incomplete
  EXPECT_FALSE(LooksLikeSip(Bytes("\x80\x00\x01\x02")));
  EXPECT_FALSE(LooksLikeSip(Bytes("")));
}

TEST(SipMessageTest, MeasureMessageFraming) {
  Limits l;
  const std::string a = "SIP/2.0 200 OK\r\nContent-Length: 4\r\n\r\nbody";
  FrameResult r = MeasureMessage(Bytes(a + "INVITE"), l);
  ASSERT_EQ(r.status, FrameStatus::kComplete);
  EXPECT_EQ(r.length, a.size());
  for (std::size_t n = 0; n < a.size(); ++n) {
    EXPECT_EQ(MeasureMessage(Bytes(a.substr(0, n)), l).status, FrameStatus::kNeedMore) << n;
  }
  EXPECT_EQ(MeasureMessage(Bytes("SIP/2.0 200 OK\r\nl: zz\r\n\r\n"), l).status,
            FrameStatus::kError);
  r = MeasureMessage(Bytes("SIP/2.0 200 OK\r\nl: 70000\r\n\r\n"), l);
  EXPECT_EQ(r.status, FrameStatus::kError);
  EXPECT_EQ(r.drop, SipDrop::kBodyOverLimit);
  // No Content-Length on a stream: empty body (§18.3).
  r = MeasureMessage(Bytes("BYE sip:a@b SIP/2.0\r\nVia: x\r\n\r\nXYZ"), l);
  ASSERT_EQ(r.status, FrameStatus::kComplete);
  EXPECT_EQ(r.length, std::string("BYE sip:a@b SIP/2.0\r\nVia: x\r\n\r\n").size());
  l.max_message_bytes = 64;
  r = MeasureMessage(Bytes(std::string(100, 'a')), l);
  EXPECT_EQ(r.status, FrameStatus::kError);
  EXPECT_EQ(r.drop, SipDrop::kMessageTooLarge);
}

}  // namespace
}  // namespace callvault::sip
