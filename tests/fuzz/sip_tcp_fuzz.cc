// libFuzzer target: sip::TcpReassembler (and the parser on what it hands out).
//
// The input is a script of segments on one connection (both directions):
//   byte 0: flags (bit0 FIN, bit1 SYN, bit2 RST, bit6 direction, bit7 "expire now")
//   byte 1-2: sequence offset (big endian) relative to the direction's base
//   byte 3-4: payload length (capped to what is left)
//   then the payload.
// Small limits make overflow, hold-window and gap paths reachable.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "appliance/decode/packet.h"
#include "appliance/sip/message.h"
#include "appliance/sip/tcp_reassembler.h"

using namespace callvault;
using namespace callvault::sip;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  TcpReassemblerOptions o;
  o.max_connections = 2;
  o.max_buffer = 4096;
  o.max_message_bytes = 2048;
  o.gap_timeout_ms = 5;
  o.idle_timeout_s = 1;
  o.prealloc_buffers = 2;
  o.max_message_frames = 4;
  o.max_frame_log_bytes = 512;
  TcpReassembler r(o);
  static Message m;
  Limits limits;
  limits.max_message_bytes = 2048;
  Endpoint a{IpAddress::FromV4(0x0a000001), 5060};
  Endpoint b{IpAddress::FromV4(0x0a000002), 40000};
  const uint32_t base[2] = {1000, 0xfffff000u};  // second one wraps around 2^32
  Frame frame;
  uint64_t ts = 1;
  std::size_t pos = 0;
  auto on_message = [&](const TransportMessage& tm) {
    if (tm.bytes.size() > o.max_buffer && tm.bytes.size() > o.max_message_bytes) {
      __builtin_trap();
    }
    (void)ParseMessage(tm.bytes, limits, &m);
    // Evidence frames: bounded, in capture order, every byte readable (ASan checks the
    // views into the reassembler's logs and held buffers).
    if (tm.frames.size() > o.max_message_frames + 1) __builtin_trap();
    volatile uint8_t sink = 0;
    for (std::size_t i = 0; i < tm.frames.size(); ++i) {
      const Frame& fr = tm.frames[i];
      if (i > 0 && fr.ts_ns < tm.frames[i - 1].ts_ns) __builtin_trap();
      for (uint32_t k = 0; k < fr.caplen; ++k) sink = sink ^ fr.data[k];
    }
    (void)sink;
  };
  while (pos + 5 <= size) {
    const uint8_t f = data[pos];
    const uint16_t off = uint16_t((data[pos + 1] << 8) | data[pos + 2]);
    std::size_t len = std::size_t((data[pos + 3] << 8) | data[pos + 4]);
    pos += 5;
    len = std::min(len, size - pos);
    const int dir = (f >> 6) & 1;
    decode::DecodedPacket pkt;
    ts += 1000000;  // 1 ms per segment
    frame.ts_ns = ts;
    frame.data = data + pos - 5;  // the segment's script bytes stand in for the frame
    frame.caplen = frame.wirelen = uint32_t(len + 5);
    pkt.frame = &frame;
    pkt.l4 = decode::L4Proto::kTcp;
    pkt.src = dir ? b : a;
    pkt.dst = dir ? a : b;
    pkt.tcp_seq = base[dir] + off;
    pkt.tcp_flags = uint8_t((f & 0x01 ? decode::kTcpFin : 0) | (f & 0x02 ? decode::kTcpSyn : 0) |
                            (f & 0x04 ? decode::kTcpRst : 0) | decode::kTcpAck);
    pkt.payload = {data + pos, len};
    r.OnSegment(pkt, on_message);
    pos += len;
    if (f & 0x80) {
      ts += 3000000000ull;
      r.Expire(ts, on_message);
    }
  }
  r.Expire(ts + 10000000000ull, on_message);
  if (r.active_streams() != 0) __builtin_trap();  // everything idle must be gone
  return 0;
}
