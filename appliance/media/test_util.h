// Test helpers (tests only): synthetic Ethernet/IPv4/UDP/RTP frames and collecting sinks.
#ifndef CALLVAULT_APPLIANCE_MEDIA_TEST_UTIL_H_
#define CALLVAULT_APPLIANCE_MEDIA_TEST_UTIL_H_

#include <cstdint>
#include <cstring>
#include <deque>
#include <vector>

#include "appliance/common/block.h"
#include "appliance/common/call_record.h"
#include "appliance/common/frame.h"
#include "appliance/decode/packet.h"
#include "appliance/media/block_builder.h"
#include "appliance/media/media_engine.h"

namespace callvault::media::testing {

inline Endpoint Ep(uint32_t ip_host_order, uint16_t port) {
  return Endpoint{IpAddress::FromV4(ip_host_order), port};
}

inline std::vector<uint8_t> RtpBytes(uint16_t seq, uint32_t ts, uint32_t ssrc, uint8_t pt,
                                     const std::vector<uint8_t>& payload, bool marker = false) {
  std::vector<uint8_t> r(12 + payload.size());
  r[0] = 0x80;
  r[1] = uint8_t((marker ? 0x80 : 0) | pt);
  r[2] = uint8_t(seq >> 8);
  r[3] = uint8_t(seq);
  for (int i = 0; i < 4; ++i) r[4 + i] = uint8_t(ts >> (24 - 8 * i));
  for (int i = 0; i < 4; ++i) r[8 + i] = uint8_t(ssrc >> (24 - 8 * i));
  if (!payload.empty()) std::memcpy(r.data() + 12, payload.data(), payload.size());
  return r;
}

// An owned Ethernet + IPv4 + UDP frame with a DecodedPacket view of it.
struct TestPacket {
  std::vector<uint8_t> bytes;
  Frame frame;
  decode::DecodedPacket pkt;

  TestPacket(const Endpoint& src, const Endpoint& dst, const std::vector<uint8_t>& udp_payload,
             uint64_t ts_ns) {
    bytes.assign(14 + 20 + 8, 0);
    bytes[12] = 0x08;  // IPv4
    uint8_t* ip = bytes.data() + 14;
    ip[0] = 0x45;
    uint16_t tot = uint16_t(20 + 8 + udp_payload.size());
    ip[2] = uint8_t(tot >> 8);
    ip[3] = uint8_t(tot);
    ip[8] = 64;
    ip[9] = 17;
    std::memcpy(ip + 12, &src.ip.bytes[12], 4);
    std::memcpy(ip + 16, &dst.ip.bytes[12], 4);
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2) sum += uint32_t(ip[i] << 8 | ip[i + 1]);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    ip[10] = uint8_t(~sum >> 8);
    ip[11] = uint8_t(~sum);
    uint8_t* udp = ip + 20;
    udp[0] = uint8_t(src.port >> 8);
    udp[1] = uint8_t(src.port);
    udp[2] = uint8_t(dst.port >> 8);
    udp[3] = uint8_t(dst.port);
    uint16_t ulen = uint16_t(8 + udp_payload.size());
    udp[4] = uint8_t(ulen >> 8);
    udp[5] = uint8_t(ulen);
    bytes.insert(bytes.end(), udp_payload.begin(), udp_payload.end());
    frame.data = bytes.data();
    frame.caplen = frame.wirelen = uint32_t(bytes.size());
    frame.ts_ns = ts_ns;
    pkt.frame = &frame;
    pkt.ip_version = 4;
    pkt.l4 = decode::L4Proto::kUdp;
    pkt.src = src;
    pkt.dst = dst;
    pkt.l3 = {bytes.data() + 14, bytes.size() - 14};
    pkt.payload = {bytes.data() + 42, udp_payload.size()};
  }
  TestPacket(const TestPacket&) = delete;
};

// Keeps every block; optionally gives buffers back to a pool (a recycling store).
class CollectingSink : public BlockSink {
 public:
  bool Push(PlainBlock&& block) override {
    if (refuse) return false;
    if (recycle_to != nullptr) {
      ++pushed;
      frames += block.info.frames;
      recycle_to->Recycle(std::move(block.payload));
      return true;
    }
    blocks.push_back(std::move(block));
    return true;
  }
  std::vector<PlainBlock> blocks;
  BufferPool* recycle_to = nullptr;
  bool refuse = false;
  uint64_t pushed = 0;
  uint64_t frames = 0;
};

class CollectingObserver : public MediaObserver {
 public:
  struct Closed {
    CallId call;
    MediaLeg leg;
    std::vector<DtmfEvent> dtmf;
  };
  void OnLegClosed(CallId call, const MediaLeg& leg, std::span<const DtmfEvent> d) override {
    closed.push_back({call, leg, {d.begin(), d.end()}});
  }
  void OnOrphanStarted(const CallRecord& c) override { orphans_started.push_back(c); }
  void OnOrphanEnded(const CallRecord& c) override { orphans_ended.push_back(c); }
  std::vector<Closed> closed;
  std::vector<CallRecord> orphans_started, orphans_ended;
};

}  // namespace callvault::media::testing

#endif  // CALLVAULT_APPLIANCE_MEDIA_TEST_UTIL_H_
