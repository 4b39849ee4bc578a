#include "appliance/media/media_engine.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

#include "appliance/media/leg_events.h"
#include "appliance/media/rtp.h"

namespace callvault::media {
namespace {

uint64_t DialogKey(CallId call, uint16_t dialog) {
  // The call id's low 20 bits are a hash; fold the dialog index into the top bits of a
  // 64-bit mix so that (call, dialog) pairs of one call never collide.
  return call.value * 0x9E3779B97F4A7C15ull + dialog;
}

bool Bindable(const Endpoint& e) { return e.port != 0 && !e.ip.is_unspecified(); }

}  // namespace

MediaEngineOptions MediaEngineOptions::From(const MediaConfig& m, const StoreConfig& s) {
  MediaEngineOptions o;
  o.max_legs = m.max_legs;
  o.reorder_window = m.reorder_window;
  o.grace_ns = uint64_t(m.grace_ms) * 1000000ull;
  o.idle_ns = uint64_t(m.rtp_idle_timeout_s) * 1000000000ull;
  o.record_orphans = m.record_orphans;
  o.limits.block_bytes = s.block_bytes;
  o.limits.block_ns = uint64_t(s.block_ms) * 1000000ull;
  return o;
}

MediaEngine::MediaEngine(const MediaEngineOptions& options, BlockSink* sink,
                         MediaObserver* observer)
    : opt_(options),
      sink_(sink),
      observer_(observer),
      pool_(options.pool_buffers ? options.pool_buffers
                                   : std::min<uint32_t>(options.max_legs, kDefaultPoolBuffers),
            options.limits.block_bytes + 2048),
      table_(std::size_t(options.max_legs) * 4),
      probation_(std::make_unique<std::array<Probation, kProbationSlots>>()) {
  std::size_t max_sessions = std::max<uint32_t>(1, opt_.max_legs / 2);
  sessions_.resize(max_sessions);
  free_sessions_.reserve(max_sessions);
  for (std::size_t i = max_sessions; i-- > 0;) free_sessions_.push_back(uint32_t(i));
  active_sessions_.reserve(max_sessions);
  legs_.resize(opt_.max_legs);
  free_legs_.reserve(opt_.max_legs);
  for (std::size_t i = opt_.max_legs; i-- > 0;) free_legs_.push_back(uint32_t(i));
  active_legs_.reserve(opt_.max_legs);
  by_dialog_.reserve(max_sessions);
}

MediaEngine::~MediaEngine() = default;

int32_t MediaEngine::AllocSession() {
  if (free_sessions_.empty()) return -1;
  uint32_t s = free_sessions_.back();
  free_sessions_.pop_back();
  Session& ses = sessions_[s];
  ses = Session{};
  ses.used = true;
  ses.active_index = uint32_t(active_sessions_.size());
  active_sessions_.push_back(s);
  return int32_t(s);
}

void MediaEngine::BindSession(uint32_t s) {
  Session& ses = sessions_[s];
  for (int i = 0; i < kMaxStreams; ++i) {
    StreamState& st = ses.streams[i];
    if (!st.used) continue;
    for (uint8_t side = 0; side < 2; ++side) {
      const SideStream& ss = st.side[side];
      uint8_t learned = ses.orphan ? 1 : 0;
      if (Bindable(ss.rtp)) table_.Insert(ss.rtp, {s, uint8_t(i), side, 0, learned});
      if (Bindable(ss.rtcp) && !(ss.rtcp == ss.rtp)) {
        table_.Insert(ss.rtcp, {s, uint8_t(i), side, 1, learned});
      }
      if (ss.latched) table_.Insert(ss.latched_rtp, {s, uint8_t(i), side, 0, 1});
    }
  }
}

void MediaEngine::OnMediaChanged(const calls::MediaSession& ms) {
  uint64_t key = DialogKey(ms.call_id, ms.dialog);
  auto it = by_dialog_.find(key);
  if (ms.ended) {
    if (it != by_dialog_.end()) {
      Session& ses = sessions_[it->second];
      ses.close_at_ns = ms.ts_ns + opt_.grace_ns;
      if (ses.close_at_ns == 0) ses.close_at_ns = 1;
    }
    return;
  }
  uint32_t s;
  if (it == by_dialog_.end()) {
    int32_t a = AllocSession();
    if (a < 0) {
      drops_.Inc(MediaDrop::kSessionTableFull);
      return;
    }
    s = uint32_t(a);
    by_dialog_[key] = s;
    sessions_[s].call = ms.call_id;
    sessions_[s].dialog = ms.dialog;
  } else {
    s = it->second;
  }
  Session& ses = sessions_[s];
  ses.close_at_ns = 0;  // re-announced: open again
  ses.agent_side = ms.agent_side;
  // New per-stream endpoints; old ones keep matching for the grace time (RTP lags SIP).
  std::array<StreamState, kMaxStreams> next = ses.streams;
  for (int i = 0; i < kMaxStreams; ++i) {
    next[i].srtp = false;
    for (int side = 0; side < 2; ++side) {
      SideStream& ns = next[i].side[side];
      ns.pt_count = 0;
      const auto& streams = ms.side[side].streams;
      const calls::MediaStream* m = nullptr;
      for (const auto& cand : streams) {
        if (cand.index == i) m = &cand;
      }
      if (m == nullptr || !m->rtp_based || m->rejected()) continue;
      next[i].used = true;
      if (!(ns.rtp == m->rtp)) ns.latched = false;  // new address: latch again
      ns.rtp = m->rtp;
      ns.rtcp = m->rtcp;
      next[i].srtp = next[i].srtp || m->srtp;
      for (const auto& p : m->payload_types) {
        if (ns.pt_count == kMaxPayloadTypes) break;
        ns.pts[ns.pt_count++] = {p.pt, CodecFromName(p.encoding), p.clock_rate};
      }
    }
  }
  // Endpoints that disappear retire after the grace time.
  for (int i = 0; i < kMaxStreams; ++i) {
    for (int side = 0; side < 2; ++side) {
      const SideStream& os = ses.streams[i].side[side];
      const SideStream& ns = next[i].side[side];
      for (const Endpoint* e : {&os.rtp, &os.rtcp, &os.latched_rtp}) {
        if (!Bindable(*e) || *e == ns.rtp || *e == ns.rtcp || (ns.latched && *e == ns.latched_rtp)) {
          continue;
        }
        if (e == &os.latched_rtp && !os.latched) continue;
        if (ses.retired_count < ses.retired.size()) {
          ses.retired[ses.retired_count++] = {*e, ms.ts_ns + opt_.grace_ns};
        } else {
          table_.Erase(*e, s);
        }
      }
    }
  }
  ses.streams = next;
  BindSession(s);
}

const MediaEngine::PtEntry* MediaEngine::LookupPt(const StreamState& st, uint8_t receiver,
                                                  uint8_t pt) const {
  // RFC 3264 §5.1: payload type numbers are those the receiver announced; fall back to
  // the sender's map, then to the static table.
  for (int k = 0; k < 2; ++k) {
    const SideStream& ss = st.side[k == 0 ? receiver : 1 - receiver];
    for (uint8_t i = 0; i < ss.pt_count; ++i) {
      if (ss.pts[i].pt == pt && ss.pts[i].codec != Codec::kUnknown) return &ss.pts[i];
    }
  }
  return nullptr;
}

int32_t MediaEngine::OpenLeg(uint32_t s, uint8_t stream, uint8_t sender, const Endpoint& src,
                             const Endpoint& dst, uint64_t ts_ns) {
  if (free_legs_.empty()) return -1;
  uint32_t i = free_legs_.back();
  free_legs_.pop_back();
  Session& ses = sessions_[s];
  Leg& l = legs_[i];
  l.used = true;
  l.session = s;
  l.stream = stream;
  l.sender = sender;
  l.active_index = uint32_t(active_legs_.size());
  active_legs_.push_back(i);
  l.meta = MediaLeg{};
  l.meta.leg = uint16_t(ses.dialog * 32 + stream * 2 + sender);
  if (ses.agent_side < 0) {
    l.meta.direction = sender == 0 ? LegDirection::kAToB : LegDirection::kBToA;
  } else {
    l.meta.direction = sender == ses.agent_side ? LegDirection::kAgentToCaller
                                                : LegDirection::kCallerToAgent;
  }
  l.meta.src = src;
  l.meta.dst = dst;
  l.last_codec = Codec::kUnknown;
  l.encrypted = ses.streams[stream].srtp;
  l.first_packet_ns = ts_ns;
  l.last_packet_ns = ts_ns;
  l.rtcp_packets = l.other_packets = 0;
  l.stats = RtpStats(opt_.reorder_window);
  l.dtmf = DtmfTracker();
  BlockInfo info;
  info.call_id = ses.call;
  info.leg = l.meta.leg;
  info.direction = uint8_t(l.meta.direction);
  info.kind = StreamKind::kRtp;
  l.rtp.Reset(info);
  info.kind = StreamKind::kRtcp;
  l.rtcp.Reset(info);
  info.kind = StreamKind::kOther;
  l.other.Reset(info);
  ses.streams[stream].leg[sender] = int32_t(i);
  events_.Inc(MediaEvent::kLegOpened);
  return int32_t(i);
}

void MediaEngine::Append(BlockBuilder& b, const Frame& f) {
  uint32_t refused = 0;
  uint32_t before = b.blocks_pushed();
  uint64_t misses = pool_.misses();
  b.Append(f, opt_.limits, pool_, *sink_, &refused);
  if (refused) drops_.Inc(MediaDrop::kSinkRefused, refused);
  events_.Inc(MediaEvent::kBlocks, b.blocks_pushed() - before);
  events_.Inc(MediaEvent::kPoolMiss, pool_.misses() - misses);
}

void MediaEngine::FlushBuilder(BlockBuilder& b) {
  uint32_t refused = 0;
  uint32_t before = b.blocks_pushed();
  b.Flush(pool_, *sink_, &refused);
  if (refused) drops_.Inc(MediaDrop::kSinkRefused, refused);
  events_.Inc(MediaEvent::kBlocks, b.blocks_pushed() - before);
}

bool MediaEngine::RecordMatched(const decode::DecodedPacket& pkt, uint32_t s, uint8_t stream,
                                uint8_t sender) {
  Session& ses = sessions_[s];
  StreamState& st = ses.streams[stream];
  const Frame& f = *pkt.frame;
  int32_t li = st.leg[sender];
  if (li < 0) {
    li = OpenLeg(s, stream, sender, pkt.src, pkt.dst, f.ts_ns);
    if (li < 0) {
      drops_.Inc(MediaDrop::kLegTableFull);
      return false;
    }
  }
  Leg& leg = legs_[uint32_t(li)];
  leg.last_packet_ns = f.ts_ns;
  ses.last_packet_ns = f.ts_ns;
  uint64_t refused_before = drops_[MediaDrop::kSinkRefused];
  switch (ClassifyMediaPacket(pkt.payload)) {
    case MediaPacketKind::kRtp: {
      RtpHeader h;
      if (ParseRtp(pkt.payload, &h) != RtpError::kOk) {
        events_.Inc(MediaEvent::kRtpMalformed);
        ++leg.other_packets;
        Append(leg.other, f);
        break;
      }
      const PtEntry* e = LookupPt(st, uint8_t(1 - sender), h.payload_type);
      const PayloadEntry& se = static_pts_.Get(h.payload_type);
      Codec codec = e ? e->codec : se.codec;
      uint32_t clock = e ? e->clock : se.clock_rate;
      if (codec == Codec::kTelephoneEvent) {
        std::size_t before = leg.dtmf.events().size();
        leg.dtmf.OnPacket(h.payload, h.timestamp, clock, f.ts_ns);
        events_.Inc(MediaEvent::kDtmf, leg.dtmf.events().size() - before);
      }
      bool not_audio = codec == Codec::kTelephoneEvent || codec == Codec::kComfortNoise;
      uint64_t ssrc_changes = leg.stats.ssrc_changes();
      SeqVerdict v = leg.stats.Update(h.ssrc, h.seq, h.timestamp, h.payload_type,
                                      not_audio ? 0 : clock, f.ts_ns,
                                      codec == Codec::kComfortNoise);
      if (v == SeqVerdict::kDuplicate) events_.Inc(MediaEvent::kDuplicate);
      if (v == SeqVerdict::kLate) events_.Inc(MediaEvent::kLate);
      events_.Inc(MediaEvent::kSsrcChange, leg.stats.ssrc_changes() - ssrc_changes);
      if (!not_audio && codec != Codec::kUnknown) leg.last_codec = codec;
      events_.Inc(MediaEvent::kRtp);
      Append(leg.rtp, f);
      break;
    }
    case MediaPacketKind::kRtcp:
      events_.Inc(MediaEvent::kRtcp);
      ++leg.rtcp_packets;
      Append(leg.rtcp, f);
      break;
    case MediaPacketKind::kStun:
      events_.Inc(MediaEvent::kStun);
      ++leg.other_packets;
      Append(leg.other, f);
      break;
    case MediaPacketKind::kZrtp:
      events_.Inc(MediaEvent::kZrtp);
      leg.encrypted = true;
      ++leg.other_packets;
      Append(leg.other, f);
      break;
    case MediaPacketKind::kDtls:
      events_.Inc(MediaEvent::kDtls);
      leg.encrypted = true;
      ++leg.other_packets;
      Append(leg.other, f);
      break;
    case MediaPacketKind::kUnknown:
      events_.Inc(MediaEvent::kUnknownOnMediaPort);
      ++leg.other_packets;
      Append(leg.other, f);
      break;
  }
  return drops_[MediaDrop::kSinkRefused] == refused_before;
}

bool MediaEngine::OnPacket(const decode::DecodedPacket& pkt) {
  if (pkt.l4 != decode::L4Proto::kUdp || pkt.frame == nullptr) {
    drops_.Inc(MediaDrop::kNotUdp);
    return false;
  }
  // Rule 1: destination announced (or latched) by the receiving side.
  if (const EndpointBinding* b = table_.Find(pkt.dst)) {
    uint32_t s = b->session;
    uint8_t stream = b->stream;
    uint8_t sender = uint8_t(1 - b->side);
    if (!b->learned && b->rtcp == 0) {
      SideStream& snd = sessions_[s].streams[stream].side[sender];
      if (!snd.latched && !(pkt.src == snd.rtp) && !(pkt.src == snd.rtcp) &&
          table_.Find(pkt.src) == nullptr) {
        // NAT: the sender's packets come from an address its SDP did not announce.
        // Latch it (first packet wins) so the reverse direction matches too.
        if (table_.Insert(pkt.src, {s, stream, sender, 0, 1})) {
          snd.latched = true;
          snd.latched_rtp = pkt.src;
          events_.Inc(MediaEvent::kLatched);
        }
      }
    }
    return RecordMatched(pkt, s, stream, sender);
  }
  // Rule 2: sent from an announced address (symmetric RTP).
  if (const EndpointBinding* b = table_.Find(pkt.src)) {
    events_.Inc(MediaEvent::kMatchedBySource);
    return RecordMatched(pkt, b->session, b->stream, b->side);
  }
  return HandleOrphan(pkt);
}

MediaLeg MediaEngine::CloseLeg(uint32_t i) {
  Leg& l = legs_[i];
  Session& ses = sessions_[l.session];
  FlushBuilder(l.rtp);
  FlushBuilder(l.rtcp);
  FlushBuilder(l.other);
  l.dtmf.Finish();
  events_.Inc(MediaEvent::kDtmf, 0);
  LegSummary sum;
  l.meta.codec = std::string(CodecName(l.last_codec));
  if (l.last_codec == Codec::kUnknown) l.meta.codec.clear();
  l.meta.packets = l.stats.packets();
  l.meta.lost = l.stats.lost();
  l.meta.duplicates = l.stats.duplicates();
  l.meta.jitter_ms = l.stats.jitter_ms();
  l.meta.encrypted_media = l.encrypted;
  sum.leg = l.meta;
  sum.first_ns = l.first_packet_ns;
  sum.last_ns = l.last_packet_ns;
  sum.reordered = l.stats.reordered();
  sum.late = l.stats.late();
  sum.ssrc_changes = l.stats.ssrc_changes();
  sum.comfort_noise = l.stats.comfort_noise();
  sum.rtcp_packets = l.rtcp_packets;
  sum.other_packets = l.other_packets;
  sum.max_jitter_ms = l.stats.max_jitter_ms();
  const StreamState& st = ses.streams[l.stream];
  for (int pt = 0; pt < 128; ++pt) {
    if (!l.stats.pt_seen(uint8_t(pt))) continue;
    sum.payload_types.push_back(uint8_t(pt));
    const PtEntry* e = LookupPt(st, uint8_t(1 - l.sender), uint8_t(pt));
    Codec c = e ? e->codec : static_pts_.Get(uint8_t(pt)).codec;
    if (c != Codec::kUnknown) sum.payload_names.emplace_back(uint8_t(pt), CodecName(c));
  }
  uint64_t call_start_ns = ses.call.start_ms() * 1000000ull;
  for (const DtmfKey& k : l.dtmf.events()) {
    double offset = k.start_ns > call_start_ns ? double(k.start_ns - call_start_ns) / 1e9 : 0;
    sum.dtmf.push_back(DtmfEvent{offset, DtmfDigitName(k.event), k.duration_ms(), "rfc4733"});
  }
  PlainBlock ev;
  ev.info.call_id = ses.call;
  ev.info.leg = l.meta.leg;
  ev.info.direction = uint8_t(l.meta.direction);
  ev.info.kind = StreamKind::kEvents;
  ev.info.seq = 0;
  ev.info.first_ts_ns = l.first_packet_ns;
  ev.info.last_ts_ns = l.last_packet_ns;
  ev.info.frames = 1;
  ev.payload = EncodeLegSummary(sum);
  if (!sink_->Push(std::move(ev))) drops_.Inc(MediaDrop::kSinkRefused);
  if (observer_) observer_->OnLegClosed(ses.call, l.meta, sum.dtmf);
  MediaLeg out = l.meta;
  // Release the slot.
  ses.streams[l.stream].leg[l.sender] = -1;
  uint32_t idx = l.active_index;
  uint32_t last = active_legs_.back();
  active_legs_[idx] = last;
  legs_[last].active_index = idx;
  active_legs_.pop_back();
  l.used = false;
  free_legs_.push_back(i);
  events_.Inc(MediaEvent::kLegClosed);
  return out;
}

void MediaEngine::CloseSession(uint32_t s) {
  Session& ses = sessions_[s];
  CallRecord rec;
  for (int i = 0; i < kMaxStreams; ++i) {
    StreamState& st = ses.streams[i];
    for (int side = 0; side < 2; ++side) {
      if (st.leg[side] >= 0) rec.legs.push_back(CloseLeg(uint32_t(st.leg[side])));
      const SideStream& ss = st.side[side];
      table_.Erase(ss.rtp, s);
      table_.Erase(ss.rtcp, s);
      if (ss.latched) table_.Erase(ss.latched_rtp, s);
    }
  }
  for (uint8_t r = 0; r < ses.retired_count; ++r) table_.Erase(ses.retired[r].ep, s);
  if (ses.orphan) {
    if (observer_) {
      rec.call_id = ses.call;
      rec.start_ns = ses.first_packet_ns;
      rec.end_ns = ses.last_packet_ns;
      rec.state = CallState::kOrphan;
      observer_->OnOrphanEnded(rec);
    }
  } else {
    by_dialog_.erase(DialogKey(ses.call, ses.dialog));
  }
  uint32_t idx = ses.active_index;
  uint32_t last = active_sessions_.back();
  active_sessions_[idx] = last;
  sessions_[last].active_index = idx;
  active_sessions_.pop_back();
  ses.used = false;
  free_sessions_.push_back(s);
}

void MediaEngine::Advance(uint64_t now_ns) {
  if (now_ns < last_scan_ns_ + kScanIntervalNs && last_scan_ns_ != 0) return;
  last_scan_ns_ = now_ns;
  for (uint32_t i : active_legs_) {
    Leg& l = legs_[i];
    for (BlockBuilder* b : {&l.rtp, &l.rtcp, &l.other}) {
      if (!b->empty() && now_ns >= b->first_ts_ns() + opt_.limits.block_ns) FlushBuilder(*b);
    }
  }
  for (std::size_t k = active_sessions_.size(); k-- > 0;) {
    uint32_t s = active_sessions_[k];
    Session& ses = sessions_[s];
    // Retired endpoints (re-INVITE moved the media) stop matching after the grace time.
    for (uint8_t r = 0; r < ses.retired_count;) {
      if (now_ns >= ses.retired[r].expire_ns) {
        table_.Erase(ses.retired[r].ep, s);
        ses.retired[r] = ses.retired[--ses.retired_count];
      } else {
        ++r;
      }
    }
    bool close = ses.close_at_ns != 0 && now_ns >= ses.close_at_ns;
    if (ses.orphan && now_ns >= ses.last_packet_ns + opt_.idle_ns) close = true;
    if (close) CloseSession(s);
  }
}

void MediaEngine::Finish() {
  while (!active_sessions_.empty()) CloseSession(active_sessions_.back());
  for (Probation& p : *probation_) {
    if (p.used) drops_.Inc(MediaDrop::kOrphanProbation, p.held);
    p.used = false;
  }
}

}  // namespace callvault::media
