// MediaEngine, rule 3: RTP that no signalling announced becomes an `orphan` call.
#include <cstring>
#include <string>

#include "appliance/media/media_engine.h"
#include "appliance/media/rtp.h"

namespace callvault::media {
namespace {

std::size_t ProbationSlot(const Endpoint& src, const Endpoint& dst, std::size_t slots) {
  return (HashEndpoint(src) * 31 + HashEndpoint(dst)) & (slots - 1);
}

}  // namespace

bool MediaEngine::HoldProbation(Probation& p, const decode::DecodedPacket& pkt) {
  const Frame& f = *pkt.frame;
  const uint8_t* base = f.data;
  // The payload must lie inside the frame (not a reassembly buffer) and fit the slot.
  if (p.held >= p.frames.size() || f.caplen > kProbationFrameBytes ||
      pkt.payload.data() < base || pkt.payload.data() + pkt.payload.size() > base + f.caplen) {
    drops_.Inc(MediaDrop::kOrphanProbation);
    return false;
  }
  uint8_t k = p.held++;
  std::memcpy(p.bytes[k].data(), f.data, f.caplen);
  p.frames[k] = f;
  p.frames[k].data = p.bytes[k].data();
  p.payload_off[k] = uint16_t(pkt.payload.data() - base);
  p.payload_len[k] = uint16_t(pkt.payload.size());
  return true;
}

void MediaEngine::ReleaseProbation(Probation& p, uint32_t session, uint8_t sender) {
  for (uint8_t k = 0; k < p.held; ++k) {
    decode::DecodedPacket held;
    held.frame = &p.frames[k];
    held.l4 = decode::L4Proto::kUdp;
    held.src = p.src;
    held.dst = p.dst;
    held.payload = {p.frames[k].data + p.payload_off[k], p.payload_len[k]};
    RecordMatched(held, session, 0, sender);
  }
  p.used = false;
  p.held = 0;
}

bool MediaEngine::HandleOrphan(const decode::DecodedPacket& pkt) {
  if (!opt_.record_orphans) {
    drops_.Inc(MediaDrop::kNoSession);
    return false;
  }
  // Heuristic (like Wireshark's rtp heuristic): RTP v2, plausible payload type, no
  // well-known ports, a payload.
  RtpHeader h;
  if (ClassifyMediaPacket(pkt.payload) != MediaPacketKind::kRtp ||
      ParseRtp(pkt.payload, &h) != RtpError::kOk || !PlausibleRtpPayloadType(h.payload_type) ||
      h.payload.empty() || pkt.src.port < 1024 || pkt.dst.port < 1024) {
    drops_.Inc(MediaDrop::kNotRtp);
    return false;
  }
  Probation& p = (*probation_)[ProbationSlot(pkt.src, pkt.dst, kProbationSlots)];
  if (p.used && !(p.src == pkt.src && p.dst == pkt.dst)) {
    drops_.Inc(MediaDrop::kOrphanProbation, p.held);  // evicted by another flow
    p.used = false;
  }
  if (p.used) {
    uint16_t step = uint16_t(h.seq - p.last_seq);
    if (h.ssrc != p.ssrc || step == 0 || step > kOrphanMaxStep) {
      drops_.Inc(MediaDrop::kOrphanProbation, p.held);  // not a consistent stream (yet)
      p.used = false;
    }
  }
  if (!p.used) {
    p.used = true;
    p.src = pkt.src;
    p.dst = pkt.dst;
    p.ssrc = h.ssrc;
    p.last_seq = h.seq;
    p.count = 1;
    p.held = 0;
    return HoldProbation(p, pkt);
  }
  p.last_seq = h.seq;
  if (++p.count < kOrphanPackets) return HoldProbation(p, pkt);

  // Promote: an orphan call keyed by its two endpoints (either order gives one call).
  int32_t sa = AllocSession();
  if (sa < 0) {
    drops_.Inc(MediaDrop::kSessionTableFull, p.held + 1u);
    p.used = false;
    return false;
  }
  uint32_t s = uint32_t(sa);
  Session& ses = sessions_[s];
  ses.orphan = true;
  session_due_[s] = 0;  // the idle timer is checked on every scan
  const Endpoint& lo = pkt.src < pkt.dst ? pkt.src : pkt.dst;
  const Endpoint& hi = pkt.src < pkt.dst ? pkt.dst : pkt.src;
  uint64_t start_ns = p.held ? p.frames[0].ts_ns : pkt.frame->ts_ns;
  ses.call = CallId::Make(start_ns, "orphan " + lo.ToString() + " " + hi.ToString());
  ses.first_packet_ns = start_ns;
  StreamState& st = ses.streams[0];
  st.used = true;
  st.side[0].rtp = pkt.src;  // side A: the first sender seen
  st.side[1].rtp = pkt.dst;
  // RTCP by the RFC 3550 §11 convention when the RTP port is even.
  if (pkt.src.port % 2 == 0) st.side[0].rtcp = {pkt.src.ip, uint16_t(pkt.src.port + 1)};
  if (pkt.dst.port % 2 == 0) st.side[1].rtcp = {pkt.dst.ip, uint16_t(pkt.dst.port + 1)};
  if (!table_.Insert(pkt.src, {s, 0, 0, 0, 1}) || !table_.Insert(pkt.dst, {s, 0, 1, 0, 1})) {
    table_.Erase(pkt.src, s);
    drops_.Inc(MediaDrop::kEndpointTableFull, p.held + 1u);
    p.used = false;
    uint32_t idx = ses.active_index;
    uint32_t last = active_sessions_.back();
    active_sessions_[idx] = last;
    sessions_[last].active_index = idx;
    active_sessions_.pop_back();
    ses.used = false;
    free_sessions_.push_back(s);
    return false;
  }
  for (int side = 0; side < 2; ++side) {
    if (st.side[side].rtcp.port != 0) {
      table_.Insert(st.side[side].rtcp, {s, 0, uint8_t(side), 1, 1});
    }
  }
  events_.Inc(MediaEvent::kOrphanCall);
  if (observer_) {
    CallRecord rec;
    rec.call_id = ses.call;
    rec.start_ns = start_ns;
    rec.state = CallState::kOrphan;
    observer_->OnOrphanStarted(rec);
  }
  ReleaseProbation(p, s, 0);
  // The reverse flow may be on probation too: its held frames belong to this call.
  Probation& r = (*probation_)[ProbationSlot(pkt.dst, pkt.src, kProbationSlots)];
  if (r.used && r.src == pkt.dst && r.dst == pkt.src) ReleaseProbation(r, s, 1);
  return RecordMatched(pkt, s, 0, 0);
}

}  // namespace callvault::media
