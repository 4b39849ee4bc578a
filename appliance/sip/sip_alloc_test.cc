// Proves the SIP packet path allocates nothing in steady state: after a warm-up, UDP
// messages and TCP messages (whole, and split across segments so the pooled buffers are
// used) go through SipExtractor with zero calls to operator new.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "appliance/config/config.h"
#include "appliance/sip/sip_extractor.h"

namespace {
std::atomic<uint64_t> g_news{0};
}

void* operator new(std::size_t n) {
  g_news.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace callvault::sip {
namespace {

const std::string kInvite =
    "INVITE sip:+12025550143@gw SIP/2.0\r\n"
    "Via: SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bK1\r\n"
    "From: \"Agent\" <sip:2001@pbx>;tag=a\r\nTo: <sip:+12025550143@gw>\r\n"
    "Call-ID: alloc-test\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\n"
    "Content-Length: 34\r\n\r\nv=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 1\r\n";

TEST(SipAllocTest, SteadyStateAllocatesNothing) {
  SipConfig cfg;
  cfg.tcp_max_connections = 64;
  SipExtractor ex(cfg);
  // Real frame bytes: split and out-of-order segments copy their frames as evidence.
  std::vector<uint8_t> wire(54 + kInvite.size(), 0x5a);
  Frame frame;
  frame.data = wire.data();
  frame.caplen = frame.wirelen = uint32_t(wire.size());
  uint64_t messages = 0;
  uint32_t seq = 1000;
  auto run = [&](int rounds) {
    for (int i = 0; i < rounds; ++i) {
      frame.ts_ns += 1000000;
      decode::DecodedPacket p;
      p.frame = &frame;
      p.src = Endpoint{IpAddress::FromV4(0x0a000001), 5060};
      p.dst = Endpoint{IpAddress::FromV4(0x0a000002), 5060};
      p.l4 = decode::L4Proto::kUdp;
      p.payload = {reinterpret_cast<const uint8_t*>(kInvite.data()), kInvite.size()};
      auto fn = [&](const Message& m, const TransportMessage&) {
        messages += !m.call_id().empty();
      };
      ex.OnPacket(p, fn);
      p.l4 = decode::L4Proto::kTcp;
      p.tcp_flags = decode::kTcpAck;
      p.src.port = 40000;
      p.tcp_seq = seq;
      ex.OnPacket(p, fn);  // whole message in one segment: zero-copy path
      seq += uint32_t(kInvite.size());
      p.payload = p.payload.first(50);  // split: pooled-buffer path
      p.tcp_seq = seq;
      ex.OnPacket(p, fn);
      p.payload = {reinterpret_cast<const uint8_t*>(kInvite.data()) + 50, kInvite.size() - 50};
      p.tcp_seq = seq + 50;
      ex.OnPacket(p, fn);
      seq += uint32_t(kInvite.size());
      // Out of order: tail (held with its frame) before head.
      p.tcp_seq = seq + 50;
      ex.OnPacket(p, fn);
      p.payload = {reinterpret_cast<const uint8_t*>(kInvite.data()), 50};
      p.tcp_seq = seq;
      ex.OnPacket(p, fn);
      seq += uint32_t(kInvite.size());
      ex.Advance(frame.ts_ns, fn);
    }
  };
  run(10);  // warm-up: stream table entries and pool buffers come into use
  const uint64_t before = g_news.load();
  const uint64_t messages_before = messages;
  run(1000);
  EXPECT_EQ(g_news.load() - before, 0u);
  EXPECT_EQ(messages - messages_before, 4000u);
}

}  // namespace
}  // namespace callvault::sip
