#include "appliance/sip/tcp_reassembler.h"

#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

namespace callvault::sip {
namespace {

constexpr uint64_t kMs = 1000000ull;

const std::string kInvite =
    "INVITE sip:bob@b SIP/2.0\r\nCall-ID: one\r\nContent-Length: 5\r\n\r\nhello";
const std::string kOk = "SIP/2.0 200 OK\r\nCall-ID: one\r\nContent-Length: 0\r\n\r\n";
const std::string kBye = "BYE sip:bob@b SIP/2.0\r\nCall-ID: one\r\nl: 3\r\n\r\nxyz";

class TcpReassemblerTest : public ::testing::Test {
 protected:
  TcpReassemblerTest() : r_(Options()) {}
  explicit TcpReassemblerTest(const TcpReassemblerOptions& o) : r_(o) {}

  static TcpReassemblerOptions Options() {
    TcpReassemblerOptions o;
    o.max_connections = 4;
    o.max_buffer = 4096;
    o.max_message_bytes = 2048;
    o.gap_timeout_ms = 100;
    o.idle_timeout_s = 10;
    o.prealloc_buffers = 4;
    return o;
  }

  // Sends `data` from a (client) to b (server) at sequence `seq`.
  void Send(uint32_t seq, std::string_view data, uint8_t flags = decode::kTcpAck,
            bool reverse = false) {
    frames_.emplace_back();
    Frame& f = frames_.back();
    ts_ += kMs;
    f.ts_ns = ts_;
    // Distinct captured bytes per frame, so evidence copies can be checked byte for byte.
    frame_bytes_.push_back("frame#" + std::to_string(frames_.size()) + ":" + std::string(data));
    f.data = reinterpret_cast<const uint8_t*>(frame_bytes_.back().data());
    f.caplen = f.wirelen = uint32_t(frame_bytes_.back().size());
    decode::DecodedPacket p;
    p.frame = &f;
    p.l4 = decode::L4Proto::kTcp;
    p.src = reverse ? b_ : a_;
    p.dst = reverse ? a_ : b_;
    p.tcp_seq = seq;
    p.tcp_flags = flags;
    p.payload = {reinterpret_cast<const uint8_t*>(data.data()), data.size()};
    r_.OnSegment(p, [&](const TransportMessage& m) { Collect(m); });
  }

  void Collect(const TransportMessage& m) {
    got_.emplace_back(reinterpret_cast<const char*>(m.bytes.data()), m.bytes.size());
    meta_.push_back(m);
    meta_.back().bytes = {};
    meta_.back().frames = {};
    std::vector<std::string> fs;
    for (const Frame& f : m.frames) {
      fs.emplace_back(reinterpret_cast<const char*>(f.data), f.caplen);
      EXPECT_EQ(f.wirelen, f.caplen);
    }
    evidence_.push_back(std::move(fs));
  }

  // The captured bytes of the n-th frame sent (1-based, as numbered by Send()).
  const std::string& FrameBytes(std::size_t n) const { return frame_bytes_[n - 1]; }
  std::vector<std::string> Frames(std::initializer_list<std::size_t> ns) const {
    std::vector<std::string> out;
    for (std::size_t n : ns) out.push_back(FrameBytes(n));
    return out;
  }

  void Expire(uint64_t at) {
    r_.Expire(at, [&](const TransportMessage& m) { Collect(m); });
  }

  Endpoint a_{IpAddress::FromV4(0x0a000001), 40000};
  Endpoint b_{IpAddress::FromV4(0x0a000002), 5060};
  uint64_t ts_ = 1000 * kMs;
  std::deque<Frame> frames_;
  std::deque<std::string> frame_bytes_;
  std::vector<std::vector<std::string>> evidence_;  // per message: its frames' bytes
  TcpReassembler r_;
  std::vector<std::string> got_;
  std::vector<TransportMessage> meta_;
};

TEST_F(TcpReassemblerTest, SeveralMessagesInOneSegment) {
  Send(100, "", decode::kTcpSyn);
  Send(101, kInvite + kOk + "\r\n\r\n" + kBye);
  EXPECT_EQ(got_, std::vector<std::string>({kInvite, kOk, kBye}));
  EXPECT_EQ(meta_[0].src, a_);
  EXPECT_EQ(meta_[0].dst, b_);
  EXPECT_EQ(meta_[0].transport, Transport::kTcp);
  EXPECT_EQ(r_.drops().Total(), 0u);
}

TEST_F(TcpReassemblerTest, OneMessageAcrossSegmentsKeepsFirstAndLastTimestamps) {
  Send(100, "", decode::kTcpSyn);
  uint32_t seq = 101;
  const uint64_t first_ts = ts_ + kMs;
  for (std::size_t i = 0; i < kInvite.size(); i += 7) {
    std::string part = kInvite.substr(i, 7);
    Send(seq, part);
    seq += uint32_t(part.size());
  }
  ASSERT_EQ(got_.size(), 1u);
  EXPECT_EQ(got_[0], kInvite);
  EXPECT_EQ(meta_[0].first_ts_ns, first_ts);
  EXPECT_EQ(meta_[0].last_ts_ns, ts_);
  EXPECT_EQ(meta_[0].segments, (kInvite.size() + 6) / 7);
}

// Evidence: a message split over three segments carries all three frames, byte for
// byte, in capture order.
TEST_F(TcpReassemblerTest, MessageAcrossThreeSegmentsCarriesAllThreeFrames) {
  Send(100, "", decode::kTcpSyn);  // frame 1 (no payload: no evidence)
  Send(101, kInvite.substr(0, 20));             // frame 2
  Send(121, kInvite.substr(20, 25));            // frame 3
  Send(146, kInvite.substr(45));                // frame 4 completes it
  ASSERT_EQ(got_, std::vector<std::string>({kInvite}));
  EXPECT_EQ(evidence_[0], Frames({2, 3, 4}));
  EXPECT_EQ(meta_[0].segments, 3u);
  EXPECT_EQ(r_.drops().Total(), 0u);
  // A whole message in one segment: that frame only (nothing left in the log).
  Send(101 + uint32_t(kInvite.size()), kBye);  // frame 5
  EXPECT_EQ(evidence_[1], Frames({5}));
}

// A segment ending one message and starting the next is evidence of both.
TEST_F(TcpReassemblerTest, SharedSegmentBelongsToBothMessages) {
  Send(100, "", decode::kTcpSyn);                      // 1
  const std::string all = kInvite + kOk + kBye;
  const std::size_t a = kInvite.size() - 10, b = kInvite.size() + kOk.size() + 5;
  Send(101, all.substr(0, a));                          // 2: INVITE head
  Send(101 + uint32_t(a), all.substr(a, b - a));        // 3: INVITE tail, OK, BYE head
  Send(101 + uint32_t(b), all.substr(b));               // 4: BYE tail
  ASSERT_EQ(got_, std::vector<std::string>({kInvite, kOk, kBye}));
  EXPECT_EQ(evidence_[0], Frames({2, 3}));
  EXPECT_EQ(evidence_[1], Frames({3}));
  EXPECT_EQ(evidence_[2], Frames({3, 4}));
}

// Out-of-order segments: their frames are kept while held and delivered with the
// message, sorted by capture time.
TEST_F(TcpReassemblerTest, OutOfOrderSegmentFramesAreEvidenceInCaptureOrder) {
  Send(100, "", decode::kTcpSyn);  // 1
  const std::string all = kInvite + kOk;
  const uint32_t s0 = 101;
  const std::size_t inv = kInvite.size();
  ASSERT_GT(inv, 50u);
  Send(s0 + 50, all.substr(50));   // 2: INVITE tail + OK (held)
  Send(s0 + 25, all.substr(25, 25));  // 3: middle (held)
  Send(s0, all.substr(0, 25));     // 4: fills the hole
  ASSERT_EQ(got_, std::vector<std::string>({kInvite, kOk}));
  EXPECT_EQ(evidence_[0], Frames({2, 3, 4}));  // capture order, not sequence order
  EXPECT_EQ(evidence_[1], Frames({2}));
  // Both messages became complete when frame 4 filled the hole.
  EXPECT_EQ(meta_[0].last_ts_ns, frames_[3].ts_ns);
  EXPECT_EQ(meta_[1].last_ts_ns, frames_[3].ts_ns);
}

// Retransmissions: an exact copy of a segment already delivered is not evidence; a
// segment overlapping old and new bytes is.
TEST_F(TcpReassemblerTest, RetransmittedSegmentIsNotEvidenceOverlapIs) {
  Send(100, "", decode::kTcpSyn);        // 1
  Send(101, kInvite.substr(0, 30));      // 2
  Send(101, kInvite.substr(0, 30));      // 3: exact retransmission
  Send(111, kInvite.substr(10, 40));     // 4: 20 old + 20 new bytes
  Send(151, kInvite.substr(50));         // 5
  ASSERT_EQ(got_, std::vector<std::string>({kInvite}));
  EXPECT_EQ(evidence_[0], Frames({2, 4, 5}));
  EXPECT_EQ(r_.drops()[SipTransportDrop::kTcpRetransmission], 1u);
}

// A held out-of-order segment whose bytes all arrive again in order (the sender
// retransmits from the hole on): the in-order segment delivers them, and the held copy,
// now wholly old bytes, is treated like any retransmission: not evidence.
TEST_F(TcpReassemblerTest, HeldSegmentRetransmittedInOrder) {
  Send(100, "", decode::kTcpSyn);     // 1
  Send(101, kInvite.substr(0, 20));   // 2
  Send(141, kInvite.substr(40));      // 3: held (hole at [20, 40))
  Send(121, kInvite.substr(20));      // 4: the sender retransmits everything from 20
  ASSERT_EQ(got_, std::vector<std::string>({kInvite}));
  EXPECT_EQ(evidence_[0], Frames({2, 4}));
  // Held but partly new: evidence.
  const uint32_t next = 101 + uint32_t(kInvite.size());
  Send(next + 20, kBye.substr(20));   // 5: held
  Send(next, kBye.substr(0, 30));     // 6: overlaps 10 bytes of frame 5
  ASSERT_EQ(got_.back(), kBye);
  EXPECT_EQ(evidence_[1], Frames({5, 6}));
}

TEST_F(TcpReassemblerTest, OutOfOrderSegmentsAreHeldAndReordered) {
  Send(100, "", decode::kTcpSyn);
  const std::string all = kInvite + kOk;
  const uint32_t s0 = 101;
  Send(s0 + 40, all.substr(40, 30));  // middle first
  Send(s0 + 70, all.substr(70));      // then the tail
  EXPECT_TRUE(got_.empty());
  Send(s0, all.substr(0, 40));  // the hole is filled
  EXPECT_EQ(got_, std::vector<std::string>({kInvite, kOk}));
  EXPECT_EQ(r_.stats().held_segments, 2u);
  EXPECT_EQ(r_.drops().Total(), 0u);
}

TEST_F(TcpReassemblerTest, RetransmissionsAndOverlapsIgnored) {
  Send(100, "", decode::kTcpSyn);
  Send(101, kInvite.substr(0, 30));
  Send(101, kInvite.substr(0, 30));   // exact retransmission
  Send(111, kInvite.substr(10, 40));  // overlaps 20 old bytes + 20 new
  Send(101 + 50, kInvite.substr(50));
  Send(101, kInvite);  // whole message again after delivery
  EXPECT_EQ(got_, std::vector<std::string>({kInvite}));
  EXPECT_EQ(r_.drops()[SipTransportDrop::kTcpRetransmission], 2u);
}

TEST_F(TcpReassemblerTest, MidStreamPickupResynchronisesOnStartLine) {
  // No SYN: the capture starts in the middle of a message.
  const std::string tail = "ength: 0\r\n\r\n";
  Send(5000, tail + "garbage line\r\n" + kOk);
  EXPECT_EQ(got_, std::vector<std::string>({kOk}));
  EXPECT_EQ(r_.drops()[SipTransportDrop::kTcpResyncSkipped], 1u);
  // Picked up exactly at a message boundary: nothing skipped.
  Send(9000, kBye, decode::kTcpAck, /*reverse=*/true);
  EXPECT_EQ(got_.back(), kBye);
  EXPECT_EQ(r_.drops()[SipTransportDrop::kTcpResyncSkipped], 1u);
}

TEST_F(TcpReassemblerTest, ResyncAcrossSegmentBoundaryInsideStartLine) {
  Send(5000, "xx\r\n" + kInvite.substr(0, 19));  // ends inside "SIP/2.0"
  Send(5000 + 23, kInvite.substr(19));
  EXPECT_EQ(got_, std::vector<std::string>({kInvite}));
}

TEST_F(TcpReassemblerTest, LongStatusLineWithoutLineFeedMakesProgress) {
  // Regression (found by sip_tcp_fuzz): a status line longer than 512 bytes with no LF
  // used to bounce between kSip and kResync forever.
  Send(100, "", decode::kTcpSyn);
  Send(101, "SIP/2.0 200 " + std::string(600, 'x'));
  Send(713, std::string(3000, 'y') + "\r\n" + kOk);
  EXPECT_EQ(got_, std::vector<std::string>({kOk}));
}

TEST_F(TcpReassemblerTest, GapNeverFilledIsSkippedAfterTimeout) {
  Send(100, "", decode::kTcpSyn);
  Send(101, kInvite.substr(0, 20));          // a partial message...
  Send(101 + 40, kInvite.substr(40) + kOk);  // ...a hole at [20, 40)...
  EXPECT_TRUE(got_.empty());
  Expire(ts_ + 200 * kMs);  // ...never filled
  EXPECT_EQ(r_.drops()[SipTransportDrop::kTcpGapNeverFilled], 1u);
  EXPECT_EQ(got_, std::vector<std::string>({kOk}));  // resynchronised after the hole
  Send(101 + uint32_t(kInvite.size() + kOk.size()), kBye);
  EXPECT_EQ(got_.back(), kBye);
}

TEST_F(TcpReassemblerTest, HoldWindowIsBounded) {
  Send(100, "", decode::kTcpSyn);
  Send(101 + 10000, "far ahead");  // beyond max_buffer from next_seq
  EXPECT_EQ(r_.drops()[SipTransportDrop::kTcpOutOfWindow], 1u);
  for (int i = 0; i < TcpReassembler::kMaxHeld + 1; ++i) Send(200 + 10 * i, "0123");
  EXPECT_EQ(r_.drops()[SipTransportDrop::kTcpOutOfWindow], 2u);
}

TEST_F(TcpReassemblerTest, BufferOverflowAndFramingErrorsCounted) {
  Send(100, "", decode::kTcpSyn);
  // Headers that never end: above max_message_bytes (2048) -> framing error.
  std::string big = "INVITE sip:x@y SIP/2.0\r\n";
  while (big.size() < 3000) big += "X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
  Send(101, big);
  EXPECT_GE(r_.drops()[SipTransportDrop::kTcpFramingError], 1u);
  // Content-Length over the limit.
  Send(101 + uint32_t(big.size()), "\r\n\r\n" + kOk);
  EXPECT_EQ(got_, std::vector<std::string>({kOk}));
}

TEST_F(TcpReassemblerTest, FinAndRstCloseStreamsIdleOnesExpire) {
  Send(100, "", decode::kTcpSyn);
  Send(1, "", decode::kTcpSyn | decode::kTcpAck, /*reverse=*/true);
  EXPECT_EQ(r_.active_streams(), 2u);
  Send(101, kInvite.substr(0, 10));
  Send(111, "", decode::kTcpFin | decode::kTcpAck);
  EXPECT_EQ(r_.active_streams(), 1u);
  EXPECT_EQ(r_.drops()[SipTransportDrop::kTcpClosedWithPartial], 1u);
  Send(2, "", decode::kTcpRst, /*reverse=*/true);
  EXPECT_EQ(r_.active_streams(), 0u);
  Send(7000, kOk);  // mid-stream, then idle
  EXPECT_EQ(r_.active_streams(), 1u);
  Expire(ts_ + 11ull * 1000 * kMs);
  EXPECT_EQ(r_.active_streams(), 0u);
  EXPECT_EQ(r_.stats().streams_expired, 1u);
}

TEST_F(TcpReassemblerTest, ConnectionTableFull) {
  for (uint16_t p = 1; p <= 9; ++p) {
    a_.port = p;
    Send(1, kOk);
  }
  EXPECT_EQ(r_.active_streams(), 8u);  // 4 connections = 8 directions
  EXPECT_EQ(r_.drops()[SipTransportDrop::kTcpTableFull], 1u);
  EXPECT_EQ(got_.size(), 8u);
}

TEST_F(TcpReassemblerTest, SequenceWrapAround) {
  const uint32_t isn = 0xffffffe0u;
  Send(isn, "", decode::kTcpSyn);
  Send(isn + 1, kInvite.substr(0, 40));  // crosses 2^32
  Send(isn + 41, kInvite.substr(40));
  EXPECT_EQ(got_, std::vector<std::string>({kInvite}));
}

TEST_F(TcpReassemblerTest, TlsCountedPerSegment) {
  Send(100, "", decode::kTcpSyn);
  Send(101, std::string("\x16\x03\x01\x00\x30", 5) + std::string(48, 'x'));
  Send(154, std::string("\x17\x03\x03\x00\x10", 5) + std::string(16, 'y'));
  EXPECT_TRUE(got_.empty());
  EXPECT_EQ(r_.drops()[SipTransportDrop::kSipOverTls], 2u);
}

std::string WsFrame(std::string_view payload, bool mask, uint8_t first = 0x81) {
  std::string f;
  f += char(first);
  const uint8_t m = mask ? 0x80 : 0;
  if (payload.size() < 126) {
    f += char(m | payload.size());
  } else {
    f += char(m | 126);
    f += char(payload.size() >> 8);
    f += char(payload.size() & 0xff);
  }
  const char key[4] = {0x12, 0x34, 0x56, 0x78};
  if (mask) f.append(key, 4);
  for (std::size_t i = 0; i < payload.size(); ++i) {
    f += mask ? char(payload[i] ^ key[i & 3]) : payload[i];
  }
  return f;
}

TEST_F(TcpReassemblerTest, WebSocketUpgradeThenMaskedFrames) {
  // RFC 7118: HTTP upgrade with Sec-WebSocket-Protocol: sip, then one SIP message per
  // WebSocket message; client frames are masked (RFC 6455 §5.3).
  const std::string upgrade =
      "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Protocol: sip\r\n\r\n";
  const std::string response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
  Send(100, "", decode::kTcpSyn);
  Send(101, upgrade);
  Send(1, response, decode::kTcpAck, /*reverse=*/true);
  std::string frames = WsFrame(kInvite, true) + WsFrame("", true, 0x89) +  // + a ping
                       WsFrame(kBye, true);
  uint32_t seq = 101 + uint32_t(upgrade.size());
  Send(seq, frames.substr(0, 9));  // frame split across segments
  Send(seq + 9, frames.substr(9));
  Send(1 + uint32_t(response.size()), WsFrame(kOk, false), decode::kTcpAck, true);
  EXPECT_EQ(got_, std::vector<std::string>({kInvite, kBye, kOk}));
  EXPECT_EQ(meta_[0].transport, Transport::kWebSocket);
  EXPECT_EQ(r_.stats().websocket_messages, 3u);
  // Fragmented WS messages are counted, not parsed.
  Send(seq + uint32_t(frames.size()), WsFrame("part", true, 0x01));
  EXPECT_EQ(r_.drops()[SipTransportDrop::kWebSocketFragmented], 1u);
}

TEST_F(TcpReassemblerTest, PlainHttpIsNotSip) {
  Send(100, "", decode::kTcpSyn);
  const std::string get = "GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n";
  Send(101, get);
  Send(101 + uint32_t(get.size()), "more");
  EXPECT_TRUE(got_.empty());
  EXPECT_EQ(r_.drops()[SipTransportDrop::kTcpNotSip], 2u);
}

// Beyond max_message_frames the frames of an incomplete message are not kept (counted);
// the message is still delivered with the frames that were kept plus the last one.
class TcpEvidenceBoundTest : public TcpReassemblerTest {
 protected:
  static TcpReassemblerOptions Small() {
    TcpReassemblerOptions o = Options();
    o.max_message_frames = 3;
    return o;
  }
  TcpEvidenceBoundTest() : TcpReassemblerTest(Small()) {}
};

TEST_F(TcpEvidenceBoundTest, FramesBeyondTheBoundAreCounted) {
  Send(100, "", decode::kTcpSyn);  // 1
  uint32_t seq = 101;
  for (std::size_t i = 0; i < kInvite.size(); i += 10) {  // frames 2..8
    std::string part = kInvite.substr(i, 10);
    Send(seq, part);
    seq += uint32_t(part.size());
  }
  const std::size_t segments = (kInvite.size() + 9) / 10;
  ASSERT_GT(segments, 4u);
  ASSERT_EQ(got_, std::vector<std::string>({kInvite}));
  EXPECT_EQ(evidence_[0], Frames({2, 3, 4, 1 + segments}));
  EXPECT_EQ(r_.drops()[SipTransportDrop::kTcpEvidenceFrameLimit], segments - 4);
  EXPECT_EQ(meta_[0].segments, segments);  // all of them carried bytes
  // The log is empty again: the next message is bounded afresh.
  Send(seq, kBye.substr(0, 10));
  Send(seq + 10, kBye.substr(10));
  EXPECT_EQ(evidence_[1].size(), 2u);
}

}  // namespace
}  // namespace callvault::sip
