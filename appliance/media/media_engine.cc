#include "appliance/media/media_engine.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>

#include "appliance/common/frame_record.h"
#include "appliance/media/leg_events.h"
#include "appliance/media/rtp.h"

namespace callvault::media {
namespace {

// Prefetch for writing: the block write position is about to be stored to. x86-64's
// PREFETCHW fetches the line in exclusive state (no second request for ownership);
// measured slightly better than a read prefetch here (docs/BENCHMARKS.md).
inline void PrefetchForWrite(const uint8_t* p) {
#if defined(__x86_64__)
  asm volatile("prefetchw %0" : : "m"(*p));
#else
  __builtin_prefetch(p, 1);
#endif
}

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
  sessions_.Reset(max_sessions);
  free_sessions_.reserve(max_sessions);
  for (std::size_t i = max_sessions; i-- > 0;) free_sessions_.push_back(uint32_t(i));
  active_sessions_.reserve(max_sessions);
  session_legs_.assign(max_sessions * kMaxStreams * 2, -1);
  session_due_.assign(max_sessions, UINT64_MAX);
  block_due_.assign(opt_.max_legs, UINT64_MAX);
  hot_.Reset(opt_.max_legs);
  legs_.Reset(opt_.max_legs);
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
  sessions_.Ensure(s);
  Session& ses = sessions_[s];
  ses = Session{};
  ses.used = true;
  for (int k = 0; k < kMaxStreams * 2; ++k) LegOf(s, uint8_t(k / 2), uint8_t(k % 2)) = -1;
  session_due_[s] = UINT64_MAX;
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
      session_due_[it->second] = std::min(session_due_[it->second], ses.close_at_ns);
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
          session_due_[s] = std::min(session_due_[s], ms.ts_ns + opt_.grace_ns);
        } else {
          table_.Erase(*e, s);
        }
      }
    }
  }
  ses.streams = next;
  BindSession(s);
  InvalidateLegCaches(s);
}

void MediaEngine::InvalidateLegCaches(uint32_t s) {
  for (int k = 0; k < kMaxStreams * 2; ++k) {
    int32_t li = LegOf(s, uint8_t(k / 2), uint8_t(k % 2));
    if (li >= 0) hot_[uint32_t(li)].flags = 0;
  }
}

uint64_t MediaEngine::SessionLastPacket(uint32_t s) {
  // The capture time of the session's most recently processed packet: that of the leg
  // with the highest packet stamp (legs only close with their session).
  uint64_t stamp = 0, ts = 0;
  for (int k = 0; k < kMaxStreams * 2; ++k) {
    int32_t li = LegOf(s, uint8_t(k / 2), uint8_t(k % 2));
    if (li >= 0 && hot_[uint32_t(li)].stamp > stamp) {
      stamp = hot_[uint32_t(li)].stamp;
      ts = hot_[uint32_t(li)].last_packet_ns;
    }
  }
  return ts;
}

uint64_t MediaEngine::LastPacketNs(CallId call, uint16_t dialog) {
  auto it = by_dialog_.find(DialogKey(call, dialog));
  return it == by_dialog_.end() ? 0 : SessionLastPacket(it->second);
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
  legs_.Ensure(i);
  hot_.Ensure(i);
  Session& ses = sessions_[s];
  Leg& l = legs_[i];
  LegHot& h = hot_[i];
  l.used = true;
  h.session = s;
  h.stream = stream;
  h.sender = sender;
  h.flags = 0;
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
  h.last_codec = Codec::kUnknown;
  l.encrypted = ses.streams[stream].srtp;
  l.first_packet_ns = ts_ns;
  h.last_packet_ns = ts_ns;
  h.stamp = 0;
  l.rtcp_packets = l.other_packets = 0;
  h.stats = RtpStats(opt_.reorder_window);
  l.dtmf = DtmfTracker();
  BlockInfo info;
  info.call_id = ses.call;
  info.leg = l.meta.leg;
  info.direction = uint8_t(l.meta.direction);
  info.kind = StreamKind::kRtp;
  h.rtp.Reset(info);
  block_due_[i] = UINT64_MAX;
  info.kind = StreamKind::kRtcp;
  l.rtcp.Reset(info);
  info.kind = StreamKind::kOther;
  l.other.Reset(info);
  LegOf(s, stream, sender) = int32_t(i);
  events_.Inc(MediaEvent::kLegOpened);
  return int32_t(i);
}

void MediaEngine::Append(BlockBuilder& b, const Frame& f, uint32_t leg) {
  uint32_t refused = 0;
  uint32_t before = b.blocks_pushed();
  uint64_t misses = pool_.misses();
  b.Append(f, opt_.limits, pool_, *sink_, &refused);
  // block_due_[leg] is a lower bound of the first frame time of the leg's open blocks:
  // only a frame that opened a block can lower it (a random 8-byte read saved per frame).
  if (b.frames() == 1 && b.first_ts_ns() < block_due_[leg]) {
    block_due_[leg] = b.first_ts_ns();
  }
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
  const Frame& f = *pkt.frame;
  int32_t li = LegOf(s, stream, sender);
  if (li < 0) {
    li = OpenLeg(s, stream, sender, pkt.src, pkt.dst, f.ts_ns);
    if (li < 0) {
      drops_.Inc(MediaDrop::kLegTableFull);
      return false;
    }
  }
  LegHot& hot = hot_[uint32_t(li)];
  hot.last_packet_ns = f.ts_ns;
  hot.stamp = ++packet_stamp_;
  uint64_t refused_before = drops_[MediaDrop::kSinkRefused];
  RtpHeader h;
  const bool plain = ParsePlainRtp(pkt.payload, &h);  // classified and parsed: the usual case
  MediaPacketKind kind = plain ? MediaPacketKind::kRtp : ClassifyMediaPacket(pkt.payload);
  if (kind == MediaPacketKind::kRtp) {
    if (!plain && ParseRtp(pkt.payload, &h) != RtpError::kOk) {
      events_.Inc(MediaEvent::kRtpMalformed);
      Leg& leg = legs_[uint32_t(li)];
      ++leg.other_packets;
      Append(leg.other, f, uint32_t(li));
      return drops_[MediaDrop::kSinkRefused] == refused_before;
    }
    if (!(hot.flags & LegHot::kPtCached) || hot.cached_pt != h.payload_type) {
      // The session's payload-type map changes only in OnMediaChanged (which clears the
      // cache): look it up once per payload type change, not per packet.
      const PtEntry* e = LookupPt(sessions_[s].streams[stream], uint8_t(1 - sender),
                                  h.payload_type);
      const PayloadEntry& se = static_pts_.Get(h.payload_type);
      hot.cached_pt = h.payload_type;
      hot.cached_codec = e ? e->codec : se.codec;
      hot.cached_clock = e ? e->clock : se.clock_rate;
      hot.flags |= LegHot::kPtCached;
    }
    Codec codec = hot.cached_codec;
    uint32_t clock = hot.cached_clock;
    if (codec == Codec::kTelephoneEvent) {
      DtmfTracker& dtmf = legs_[uint32_t(li)].dtmf;
      std::size_t before = dtmf.events().size();
      dtmf.OnPacket(h.payload, h.timestamp, clock, f.ts_ns);
      events_.Inc(MediaEvent::kDtmf, dtmf.events().size() - before);
    }
    bool not_audio = codec == Codec::kTelephoneEvent || codec == Codec::kComfortNoise;
    // What RtpStats counts as an SSRC change, from its hot fields (the counter is cold).
    bool ssrc_change = hot.stats.started() && h.ssrc != hot.stats.ssrc();
    SeqVerdict v = hot.stats.Update(h.ssrc, h.seq, h.timestamp, h.payload_type,
                                    not_audio ? 0 : clock, f.ts_ns,
                                    codec == Codec::kComfortNoise);
    if (v == SeqVerdict::kDuplicate) events_.Inc(MediaEvent::kDuplicate);
    if (v == SeqVerdict::kLate) events_.Inc(MediaEvent::kLate);
    if (ssrc_change) events_.Inc(MediaEvent::kSsrcChange);
    if (!not_audio && codec != Codec::kUnknown && hot.last_codec != codec) {
      hot.last_codec = codec;
    }
    events_.Inc(MediaEvent::kRtp);
    Append(hot.rtp, f, uint32_t(li));
    return drops_[MediaDrop::kSinkRefused] == refused_before;
  }
  Leg& leg = legs_[uint32_t(li)];
  switch (kind) {
    case MediaPacketKind::kRtp:
      break;  // handled above
    case MediaPacketKind::kRtcp:
      events_.Inc(MediaEvent::kRtcp);
      ++leg.rtcp_packets;
      Append(leg.rtcp, f, uint32_t(li));
      break;
    case MediaPacketKind::kStun:
      events_.Inc(MediaEvent::kStun);
      ++leg.other_packets;
      Append(leg.other, f, uint32_t(li));
      break;
    case MediaPacketKind::kZrtp:
      events_.Inc(MediaEvent::kZrtp);
      leg.encrypted = true;
      ++leg.other_packets;
      Append(leg.other, f, uint32_t(li));
      break;
    case MediaPacketKind::kDtls:
      events_.Inc(MediaEvent::kDtls);
      leg.encrypted = true;
      ++leg.other_packets;
      Append(leg.other, f, uint32_t(li));
      break;
    case MediaPacketKind::kUnknown:
      events_.Inc(MediaEvent::kUnknownOnMediaPort);
      ++leg.other_packets;
      Append(leg.other, f, uint32_t(li));
      break;
  }
  return drops_[MediaDrop::kSinkRefused] == refused_before;
}

bool MediaEngine::OnPacket(const decode::DecodedPacket& pkt) {
  return OnPacketHashed(pkt, EndpointTable::Hash(pkt.dst));
}

inline void MediaEngine::PrefetchWrite(const decode::DecodedPacket& pkt, int32_t leg) const {
  if (leg < 0 || pkt.frame == nullptr) return;
  const uint8_t* w = hot_[uint32_t(leg)].rtp.write_position();
  if (w == nullptr) return;
  // Every line of [w, w + record size), from the line holding w.
  uintptr_t first = reinterpret_cast<uintptr_t>(w) & ~uintptr_t(63);
  uintptr_t end = reinterpret_cast<uintptr_t>(w) + FrameRecordSize(*pkt.frame);
  for (uintptr_t a = first; a < end; a += 64) {
    PrefetchForWrite(reinterpret_cast<const uint8_t*>(a));
  }
}

std::size_t MediaEngine::OnBurst(std::span<const decode::DecodedPacket> pkts) {
  std::size_t recorded = 0;
  std::array<uint64_t, kMaxBurst> hash;
  std::array<int32_t, kMaxBurst> leg;
  while (!pkts.empty()) {
    const std::size_t n = std::min(pkts.size(), kMaxBurst);
    // Pass 1: hash each destination once; prefetch its home slot.
    for (std::size_t i = 0; i < n; ++i) {
      hash[i] = EndpointTable::Hash(pkts[i].dst);
      table_.Prefetch(hash[i]);
    }
    if (n < kMinPrefetchBurst) {  // too few misses to overlap: the passes would only cost
      for (std::size_t i = 0; i < n; ++i) recorded += OnPacketHashed(pkts[i], hash[i]) ? 1 : 0;
      pkts = pkts.subspan(n);
      continue;
    }
    // Pass 2: the slot is (being) fetched: find the leg of rule 1 and prefetch the lines
    // of its hot state that a steady-state packet touches. Only a hint: processing an
    // earlier packet may change the tables.
    for (std::size_t i = 0; i < n; ++i) {
      leg[i] = -1;
      const EndpointBinding* b = table_.Find(pkts[i].dst, hash[i]);
      if (b == nullptr) continue;
      leg[i] = LegOf(b->session, b->stream, uint8_t(1 - b->side));
      if (leg[i] < 0) continue;
      const char* p = reinterpret_cast<const char*>(&hot_[uint32_t(leg[i])]);
      for (std::size_t line = 0; line < kHotLines; ++line) __builtin_prefetch(p + line * 64);
    }
    // Pass 3: the block write position of each leg (a write: prefetch for ownership).
    // Issued back to back so that their TLB walks and misses overlap.
    for (std::size_t i = 0; i < n; ++i) PrefetchWrite(pkts[i], leg[i]);
    // Pass 4: process in order, exactly as OnPacket().
    for (std::size_t i = 0; i < n; ++i) recorded += OnPacketHashed(pkts[i], hash[i]) ? 1 : 0;
    pkts = pkts.subspan(n);
  }
  return recorded;
}

bool MediaEngine::OnPacketHashed(const decode::DecodedPacket& pkt, uint64_t dst_hash) {
  if (pkt.l4 != decode::L4Proto::kUdp || pkt.frame == nullptr) {
    drops_.Inc(MediaDrop::kNotUdp);
    return false;
  }
  // Rule 1: destination announced (or latched) by the receiving side.
  if (const EndpointBinding* b = table_.Find(pkt.dst, dst_hash)) {
    uint32_t s = b->session;
    uint8_t stream = b->stream;
    uint8_t sender = uint8_t(1 - b->side);
    if (!b->learned && b->rtcp == 0) {
      // The latch check reads the session; the leg caches its outcome (the sender's
      // latched flag and announced address change only in OnMediaChanged or here).
      int32_t li = LegOf(s, stream, sender);
      LegHot* hot = li >= 0 ? &hot_[uint32_t(li)] : nullptr;
      bool settled =
          hot != nullptr && (hot->flags & LegHot::kSrcCached) &&
          ((hot->flags & LegHot::kSrcLatched) || SameEndpoint(pkt.src, hot->cached_src));
      if (!settled) {
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
        if (hot != nullptr) {
          hot->cached_src = snd.rtp;
          hot->flags = uint8_t((hot->flags & LegHot::kPtCached) | LegHot::kSrcCached |
                               (snd.latched ? LegHot::kSrcLatched : 0));
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
  LegHot& h = hot_[i];
  Session& ses = sessions_[h.session];
  FlushBuilder(h.rtp);
  FlushBuilder(l.rtcp);
  FlushBuilder(l.other);
  l.dtmf.Finish();
  events_.Inc(MediaEvent::kDtmf, 0);
  LegSummary sum;
  l.meta.codec = std::string(CodecName(h.last_codec));
  if (h.last_codec == Codec::kUnknown) l.meta.codec.clear();
  l.meta.packets = h.stats.packets();
  l.meta.lost = h.stats.lost();
  l.meta.duplicates = h.stats.duplicates();
  l.meta.jitter_ms = h.stats.jitter_ms();
  l.meta.encrypted_media = l.encrypted;
  sum.leg = l.meta;
  sum.first_ns = l.first_packet_ns;
  sum.last_ns = h.last_packet_ns;
  sum.reordered = h.stats.reordered();
  sum.late = h.stats.late();
  sum.ssrc_changes = h.stats.ssrc_changes();
  sum.comfort_noise = h.stats.comfort_noise();
  sum.rtcp_packets = l.rtcp_packets;
  sum.other_packets = l.other_packets;
  sum.max_jitter_ms = h.stats.max_jitter_ms();
  const StreamState& st = ses.streams[h.stream];
  for (int pt = 0; pt < 128; ++pt) {
    if (!h.stats.pt_seen(uint8_t(pt))) continue;
    sum.payload_types.push_back(uint8_t(pt));
    const PtEntry* e = LookupPt(st, uint8_t(1 - h.sender), uint8_t(pt));
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
  ev.info.last_ts_ns = h.last_packet_ns;
  ev.info.frames = 1;
  ev.payload = EncodeLegSummary(sum);
  if (!sink_->Push(std::move(ev))) drops_.Inc(MediaDrop::kSinkRefused);
  if (observer_) observer_->OnLegClosed(ses.call, l.meta, sum.dtmf);
  MediaLeg out = l.meta;
  // Release the slot.
  LegOf(h.session, h.stream, h.sender) = -1;
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
  const uint64_t last_packet_ns = ses.orphan ? SessionLastPacket(s) : 0;
  for (int i = 0; i < kMaxStreams; ++i) {
    StreamState& st = ses.streams[i];
    for (int side = 0; side < 2; ++side) {
      int32_t li = LegOf(s, uint8_t(i), uint8_t(side));
      if (li >= 0) rec.legs.push_back(CloseLeg(uint32_t(li)));
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
      rec.end_ns = last_packet_ns;
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
  // Only legs whose oldest open block may be due, and sessions with a timer that may have
  // fired, are touched (block_due_ / session_due_ are lower bounds): a scan reads 8 B
  // per leg and per session instead of their state.
  for (uint32_t i : active_legs_) {
    if (block_due_[i] == UINT64_MAX || now_ns < block_due_[i] + opt_.limits.block_ns) continue;
    Leg& l = legs_[i];
    uint64_t oldest = UINT64_MAX;
    for (BlockBuilder* b : {&hot_[i].rtp, &l.rtcp, &l.other}) {
      if (!b->empty() && now_ns >= b->first_ts_ns() + opt_.limits.block_ns) FlushBuilder(*b);
      if (!b->empty()) oldest = std::min(oldest, b->first_ts_ns());
    }
    block_due_[i] = oldest;
  }
  for (std::size_t k = active_sessions_.size(); k-- > 0;) {
    uint32_t s = active_sessions_[k];
    if (session_due_[s] > now_ns) continue;
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
    if (ses.orphan && now_ns >= SessionLastPacket(s) + opt_.idle_ns) close = true;
    if (close) {
      CloseSession(s);
      continue;
    }
    uint64_t due = ses.orphan ? 0 : UINT64_MAX;  // orphans: idle check on every scan
    if (ses.close_at_ns != 0) due = std::min(due, ses.close_at_ns);
    for (uint8_t r = 0; r < ses.retired_count; ++r) {
      due = std::min(due, ses.retired[r].expire_ns);
    }
    session_due_[s] = due;
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
