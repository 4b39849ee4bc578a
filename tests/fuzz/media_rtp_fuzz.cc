// libFuzzer target: the RTP / RTCP / STUN / ZRTP parsers and the media engine's packet
// path on arbitrary UDP payloads (matched to a published session, and as orphans).
#include <cstddef>
#include <cstdint>
#include <memory>

#include "appliance/media/media_engine.h"
#include "appliance/media/rtp.h"
#include "appliance/media/test_util.h"

using namespace callvault;
using namespace callvault::media;

namespace {

struct World {
  testing::CollectingSink sink;
  std::unique_ptr<MediaEngine> eng;
  World() {
    MediaEngineOptions o;
    o.max_legs = 32;
    o.limits.block_bytes = 4096;
    eng = std::make_unique<MediaEngine>(o, &sink, nullptr);
    sink.recycle_to = &eng->pool();
    calls::MediaSession s;
    s.call_id = CallId::Make(1, "fuzz");
    for (int side = 0; side < 2; ++side) {
      calls::MediaStream m;
      m.rtp = testing::Ep(0x0a000001u + uint32_t(side), 16384);
      m.rtcp = m.rtp;
      m.payload_types = {{0, "PCMU", 8000, 1}, {101, "telephone-event", 8000, 1}};
      s.side[side].streams.push_back(m);
    }
    eng->OnMediaChanged(s);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World w;
  std::span<const uint8_t> in(data, size);
  RtpHeader h;
  if (ParseRtp(in, &h) == RtpError::kOk) {
    if (h.payload.data() < data || h.payload.data() + h.payload.size() > data + size) __builtin_trap();
  }
  RtcpSummary r;
  ParseRtcp(in, &r);
  IsStun(in);
  IsZrtp(in);
  ClassifyMediaPacket(in);
  static uint64_t ts = 1;
  std::vector<uint8_t> payload(data, data + size);
  uint16_t port = size > 0 ? uint16_t(2000 + data[0]) : 2000;
  testing::TestPacket matched(testing::Ep(0x0a000001u, 16384), testing::Ep(0x0a000002u, 16384),
                              payload, ts += 1000000);
  w.eng->OnPacket(matched.pkt);
  testing::TestPacket orphan(testing::Ep(0x0c000001u, port), testing::Ep(0x0c000002u, 40000),
                             payload, ts += 1000000);
  w.eng->OnPacket(orphan.pkt);
  w.eng->Advance(ts);
  if (w.sink.pushed > 1000) w.sink.pushed = 0;
  return 0;
}
