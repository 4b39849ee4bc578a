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
  }

  void Expire(uint64_t at) {
    r_.Expire(at, [&](const TransportMessage& m) { Collect(m); });
  }

  Endpoint a_{IpAddress::FromV4(0x0a000001), 40000};
  Endpoint b_{IpAddress::FromV4(0x0a000002), 5060};
  uint64_t ts_ = 1000 * kMs;
  std::deque<Frame> frames_;
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

}  // namespace
}  // namespace callvault::sip
