// RtpStream and RtcpStream: the media of one direction of one call, produced lazily one
// packet at a time so that thousands of calls merge through a heap in O(log n) per packet.
//
// RtpStream: one packet per 20 ms slot from media start to media end. Slots are G.711
// audio (a precomputed tone frame, so the RTP path is a template copy and a few stores)
// or RFC 4733 telephone-events: per key press a start packet with the marker bit,
// updates with growing duration, and the end packet sent three times with the E bit
// (RFC 4733 §2.5.1.4), all with the event's start timestamp; audio pauses meanwhile,
// as phones do. Seq increments per packet; timestamps follow the 8 kHz clock; the marker
// is set on the first audio packet. Codec switches at a given time (re-INVITE).
// Impairments, drawn from the stream's own seeded RNG: loss (never sent), reorder (the
// packet arrives 40 us after its successor), duplicate (a second copy 2 us later), jitter
// (0..N us). Emission times never decrease, so the merged file stays in time order.
//
// RtcpStream: RFC 3550 §6.4.1 SR + §6.5 SDES CNAME compound packet every 5 s on port+1,
// counting what the sender sent (before loss).
#ifndef CALLVAULT_TESTS_TOOLS_CALLGEN_RTP_STREAM_H_
#define CALLVAULT_TESTS_TOOLS_CALLGEN_RTP_STREAM_H_

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "tests/tools/callgen/call_plan.h"
#include "tests/tools/callgen/frame_builder.h"
#include "tests/tools/callgen/g711.h"
#include "tests/tools/callgen/pcap_writer.h"

namespace callvault::callgen {

struct RtpStreamConfig {
  Host src, dst;
  uint16_t sport = 0, dport = 0;
  uint32_t ssrc = 0, seq0 = 0, ts0 = 0;
  uint16_t ip_id0 = 0;
  uint64_t start_ns = 0, end_ns = 0;  // slots at start + k * 20 ms, strictly before end
  Codec codec = Codec::kPcmu;
  Codec switch_codec = Codec::kPcmu;
  uint64_t switch_ns = UINT64_MAX;  // slots at or after this time use switch_codec
  const TonePayload* tone[2] = {};  // [0] for codec, [1] for switch_codec
  // From this slot on the stream restarts: new SSRC, sequence and timestamp bases, marker.
  uint32_t change_slot = UINT32_MAX;
  uint32_t ssrc2 = 0, seq2 = 0, ts2 = 0;
  // Hold: slots [pause_first_slot, + pause_slots) are not sent; the sequence number
  // continues without a gap, the timestamp follows the clock, the marker is set after.
  uint32_t pause_first_slot = UINT32_MAX, pause_slots = 0;

  // Packets sent in slots [0, n): the slots minus those paused.
  uint32_t SentIn(uint32_t n) const {
    if (n <= pause_first_slot) return n;
    return n - std::min(n - pause_first_slot, pause_slots);
  }
  std::vector<DtmfDigit> dtmf;
  double loss_pct = 0, reorder_pct = 0, duplicate_pct = 0;
  int jitter_us = 0;
  uint64_t rng_seed = 0;
};

struct StreamCounts {
  uint64_t generated = 0;  // packets the sender sent (before loss)
  uint64_t lost = 0;
  uint64_t duplicated = 0;  // extra copies written
  uint64_t reordered = 0;
  uint64_t written = 0;       // frames in the file = generated - lost + duplicated
  uint64_t dtmf_packets = 0;  // telephone-event packets the sender sent
  // Of the above, packets of the second SSRC (after --ssrc-change-at).
  uint64_t generated_after_change = 0, lost_after_change = 0, written_after_change = 0;
};

inline constexpr uint8_t kDtmfPayloadType = 101;

class RtpStream {
 public:
  RtpStream(RtpStreamConfig cfg, const FrameBuilder& fb);

  bool done() const { return q_len_ == 0; }
  uint64_t next_time() const { return q_[q_head_].t; }
  // Writes the next packet and advances.
  void EmitNext(PcapWriter& w);

  const StreamCounts& counts() const { return counts_; }
  uint32_t slots() const { return slots_; }

 private:
  struct Emission {
    uint64_t t;
    uint32_t slot;
  };
  void Refill();
  void Push(uint32_t slot, uint64_t t);
  uint64_t SlotTime(uint32_t slot);
  // SSRC, sequence number and RTP timestamp of the packet of a slot.
  struct Ids {
    uint32_t ssrc;
    uint16_t seq;
    uint32_t ts;
    bool marker;  // first packet of its SSRC, or first after a hold
  };
  Ids IdsOf(uint32_t slot) const;
  // DTMF packet index (0..6) of a slot, or -1 for audio; sets *digit.
  int DtmfIndex(uint32_t slot, const DtmfDigit** digit) const;

  RtpStreamConfig cfg_;
  Rng rng_;
  uint32_t slots_ = 0;
  uint32_t next_slot_ = 0;
  bool held_ = false;
  uint32_t held_slot_ = 0;
  std::array<Emission, 8> q_{};
  size_t q_head_ = 0, q_len_ = 0;
  std::vector<uint8_t> tmpl_;  // L2 + IPv4/IPv6 + UDP + RTP header
  size_t l2_ = 0;
  uint16_t ip_id_ = 0;
  StreamCounts counts_;
  size_t next_dtmf_ = 0;  // hint for DtmfIndex lookups (slots are visited in order)
};

class RtcpStream {
 public:
  // `rtp` is the stream whose sender this SR describes (same ssrc, port + 1).
  RtcpStream(const RtpStreamConfig& rtp, const FrameBuilder& fb, std::string cname);

  bool done() const { return next_ns_ >= cfg_.end_ns; }
  uint64_t next_time() const { return next_ns_; }
  void EmitNext(PcapWriter& w);
  uint64_t sent() const { return sent_; }

 private:
  RtpStreamConfig cfg_;
  const FrameBuilder& fb_;
  std::string cname_;
  uint64_t next_ns_;
  uint64_t sent_ = 0;
  uint16_t ip_id_;
};

}  // namespace callvault::callgen

#endif  // CALLVAULT_TESTS_TOOLS_CALLGEN_RTP_STREAM_H_
