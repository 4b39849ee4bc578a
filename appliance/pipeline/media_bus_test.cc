// MediaBus: per-pair FIFO order, a full queue refuses without losing what it holds,
// capacity rounding, Pending() / Drain() on an empty bus, messages moved whole (their
// vectors arrive intact), and producers and a consumer on real threads (run under TSan:
// -Db_sanitize=thread) with every message delivered exactly once and in order per pair.
#include "appliance/pipeline/media_bus.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace callvault {
namespace {

BusMessage Activity(uint64_t call, uint64_t ns) {
  BusMessage m;
  BusActivity a;
  a.entries.push_back({CallId{call}, 0, ns});
  m.body = std::move(a);
  return m;
}

uint64_t CallOf(const BusMessage& m) {
  return std::get<BusActivity>(m.body).entries.at(0).call.value;
}

// A SIP message handed over: its bytes and evidence frames are copied, survive the
// sender's buffers and the moves through the bus, and come back as they were; worker 0's
// acknowledgement is seen by the sender.
TEST(MediaBus, SipMessageCopiedThroughTheBusAndAcknowledged) {
  std::vector<uint8_t> frame_a(60, 0xa1), frame_b(40, 0xb2);
  std::string text = "BYE sip:x@y SIP/2.0\r\n\r\n";
  Frame frames[2];
  frames[0].data = frame_a.data();
  frames[0].caplen = frames[0].wirelen = 60;
  frames[0].ts_ns = 100;
  frames[1].data = frame_b.data();
  frames[1].caplen = 40;
  frames[1].wirelen = 1500;  // snapped
  frames[1].ts_ns = 200;
  frames[1].queue = 1;
  sip::TransportMessage tm;
  tm.bytes = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  tm.transport = sip::Transport::kTcp;
  tm.first_ts_ns = 100;
  tm.last_ts_ns = 200;
  tm.segments = 2;
  tm.frames = frames;
  MediaBus bus(2, 4);
  BusMessage m;
  m.body = BusSip::CopyOf(tm, 1);
  ASSERT_TRUE(bus.Send(1, 0, std::move(m)));
  std::fill(frame_a.begin(), frame_a.end(), 0);  // the sender's buffers are reused
  std::fill(frame_b.begin(), frame_b.end(), 0);
  text.assign(text.size(), 'x');
  size_t got = 0;
  bus.Drain(0, [&](BusMessage&& r) {
    ++got;
    ASSERT_EQ(r.kind(), BusKind::kSip);
    const BusSip& s = std::get<BusSip>(r.body);
    const sip::TransportMessage v = s.View();
    EXPECT_EQ(std::string(v.bytes.begin(), v.bytes.end()), "BYE sip:x@y SIP/2.0\r\n\r\n");
    EXPECT_EQ(v.transport, sip::Transport::kTcp);
    EXPECT_EQ(v.segments, 2u);
    EXPECT_EQ(v.last_ts_ns, 200u);
    ASSERT_EQ(v.frames.size(), 2u);
    EXPECT_EQ(std::vector<uint8_t>(v.frames[0].data, v.frames[0].data + 60),
              std::vector<uint8_t>(60, 0xa1));
    EXPECT_EQ(std::vector<uint8_t>(v.frames[1].data, v.frames[1].data + 40),
              std::vector<uint8_t>(40, 0xb2));
    EXPECT_EQ(v.frames[1].wirelen, 1500u);
    EXPECT_EQ(v.frames[1].queue, 1u);
    bus.AckSip(r.from, s.seq);
  });
  EXPECT_EQ(got, 1u);
  EXPECT_EQ(bus.SipAcked(1), 1u);
  EXPECT_EQ(bus.SipAcked(0), 0u);
}

TEST(MediaBus, CapacityIsRoundedToAPowerOfTwo) {
  EXPECT_EQ(MediaBus(2, 0).capacity(), 2u);
  EXPECT_EQ(MediaBus(2, 5).capacity(), 8u);
  EXPECT_EQ(MediaBus(3, 4096).capacity(), 4096u);
  EXPECT_EQ(MediaBus(3, 4096).workers(), 3u);
}

TEST(MediaBus, FifoPerPairFullQueueRefusesAndKeepsTheMessage) {
  MediaBus bus(3, 4);
  EXPECT_FALSE(bus.Pending(0));
  int calls = 0;
  EXPECT_EQ(bus.Drain(0, [&](BusMessage&&) { ++calls; }), 0u);
  for (uint64_t i = 1; i <= 4; ++i) ASSERT_TRUE(bus.Send(1, 0, Activity(i, i)));
  BusMessage fifth = Activity(5, 5);
  EXPECT_FALSE(bus.Send(1, 0, std::move(fifth)));
  EXPECT_EQ(CallOf(fifth), 5u);  // refused: left to the caller
  ASSERT_TRUE(bus.Send(2, 0, Activity(100, 1)));  // another pair has its own queue
  EXPECT_FALSE(bus.Send(0, 0, Activity(7, 7)));   // no queue to oneself
  EXPECT_TRUE(bus.Pending(0));
  EXPECT_FALSE(bus.Pending(1));
  std::vector<std::pair<unsigned, uint64_t>> got;
  EXPECT_EQ(bus.Drain(0, [&](BusMessage&& m) { got.emplace_back(m.from, CallOf(m)); }), 5u);
  const std::vector<std::pair<unsigned, uint64_t>> want = {
      {1, 1}, {1, 2}, {1, 3}, {1, 4}, {2, 100}};
  EXPECT_EQ(got, want);
  EXPECT_FALSE(bus.Pending(0));
  ASSERT_TRUE(bus.Send(1, 0, std::move(fifth)));  // room again
  EXPECT_EQ(bus.Drain(0, [&](BusMessage&& m) { EXPECT_EQ(CallOf(m), 5u); }), 1u);
}

TEST(MediaBus, MessagesArriveWhole) {
  MediaBus bus(2, 2);
  BusMessage s;
  BusSession session;
  session.session.call_id = CallId{42};
  session.session.dialog = 3;
  session.session.side[1].streams.resize(2);
  session.session.side[1].streams[1].payload_types.push_back({8, "PCMA", 8000, 1});
  s.body = std::move(session);
  ASSERT_TRUE(bus.Send(0, 1, std::move(s)));
  BusMessage l;
  BusLegReport leg;
  leg.call = CallId{42};
  leg.leg.leg = 97;
  leg.leg.codec = "PCMA";
  leg.leg.packets = 1234;
  leg.dtmf.push_back(DtmfEvent{1.5, "7", 100, "rfc4733"});
  leg.has_events = true;
  leg.events.payload.assign(300, 0xab);
  l.body = std::move(leg);
  ASSERT_TRUE(bus.Send(0, 1, std::move(l)));
  std::vector<BusMessage> got;
  bus.Drain(1, [&](BusMessage&& m) { got.push_back(std::move(m)); });
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].kind(), BusKind::kSession);
  const calls::MediaSession& ms = std::get<BusSession>(got[0].body).session;
  EXPECT_EQ(ms.call_id.value, 42u);
  EXPECT_EQ(ms.dialog, 3u);
  ASSERT_EQ(ms.side[1].streams.size(), 2u);
  EXPECT_EQ(ms.side[1].streams[1].payload_types.at(0).encoding, "PCMA");
  EXPECT_EQ(got[1].kind(), BusKind::kLegReport);
  const BusLegReport& r = std::get<BusLegReport>(got[1].body);
  EXPECT_EQ(r.leg.leg, 97u);
  EXPECT_EQ(r.leg.packets, 1234u);
  EXPECT_EQ(r.dtmf.at(0).digit, "7");
  EXPECT_EQ(r.events.payload.size(), 300u);
  EXPECT_EQ(BusKindName(BusKind::kLegReport), "leg");
}

TEST(MediaBus, ThreadsDeliverEveryMessageOnceInOrder) {
  constexpr unsigned kWorkers = 3;
  constexpr uint64_t kPerPair = 20000;
  MediaBus bus(kWorkers, 64);
  std::atomic<bool> go{false};
  std::vector<std::vector<uint64_t>> next(kWorkers, std::vector<uint64_t>(kWorkers, 0));
  std::vector<uint64_t> refused(kWorkers, 0);
  std::vector<std::thread> threads;
  for (unsigned me = 0; me < kWorkers; ++me) {
    threads.emplace_back([&, me] {
      while (!go.load()) std::this_thread::yield();
      std::vector<uint64_t> sent(kWorkers, 0);
      uint64_t received = 0;
      const uint64_t want = kPerPair * (kWorkers - 1);
      auto drain = [&] {
        received += bus.Drain(me, [&](BusMessage&& m) {
          // Each pair's messages arrive in the order sent, each exactly once.
          EXPECT_EQ(CallOf(m), next[me][m.from]);
          ++next[me][m.from];
        });
      };
      bool sending = true;
      while (sending || received < want) {
        sending = false;
        for (unsigned to = 0; to < kWorkers; ++to) {
          if (to == me || sent[to] == kPerPair) continue;
          sending = true;
          if (bus.Send(me, to, Activity(sent[to], me))) {
            ++sent[to];
          } else {
            ++refused[me];  // full: the consumer is behind; retry after draining
          }
        }
        drain();
      }
    });
  }
  go.store(true);
  for (auto& t : threads) t.join();
  for (unsigned to = 0; to < kWorkers; ++to) {
    for (unsigned from = 0; from < kWorkers; ++from) {
      if (from == to) continue;
      EXPECT_EQ(next[to][from], kPerPair) << from << " -> " << to;
    }
  }
}

}  // namespace
}  // namespace callvault
