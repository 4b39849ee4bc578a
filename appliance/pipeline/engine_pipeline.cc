#include "appliance/pipeline/engine_pipeline.h"

#include <algorithm>
#include <array>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "appliance/calls/call_event_sink.h"
#include "appliance/calls/calls_drop.h"
#include "appliance/calls/dialog_tracker.h"
#include "appliance/common/frame_record.h"
#include "appliance/common/status.h"
#include "appliance/common/time_util.h"
#include "appliance/decode/decoder.h"
#include "appliance/media/media_drop.h"
#include "appliance/media/media_engine.h"
#include "appliance/pipeline/media_bus.h"
#include "appliance/pipeline/remote_sessions.h"
#include "appliance/sip/sip_extractor.h"

namespace callvault {
namespace {

constexpr uint64_t kAdvanceEveryNs = 10 * kNsPerMs;
// Extra capture time, beyond the media grace window, before a call's final record is
// handed on: leg close happens on the first Advance() after the grace expires.
constexpr uint64_t kEndSlackNs = 500 * kNsPerMs;
// Non-owners report the media activity of the owners' sessions this often (capture time).
constexpr uint64_t kActivityReportNs = kNsPerSec;
// Leg number = dialog * 32 + stream * 2 + sending side (media_engine.h).
constexpr uint16_t kLegsPerDialog = 32;

enum class PipelineDrop : uint8_t {
  kNotVoice = 0,     // decoded TCP/SCTP/ICMP/other that is not SIP: not recorded
  kSipFrameUnknownCall,
  kSignallingRefused,  // the sink refused a signalling block
  kBusFull,            // a media hand-over message found its queue full (media_bus.h)
  kBusLegUnknownCall,  // a leg relayed by another worker for a call no longer assembled here
  kEventsRefused,      // the sink refused a relayed leg's kEvents block
  kCount
};

std::string_view DropName(PipelineDrop d) {
  switch (d) {
    case PipelineDrop::kNotVoice: return "not_voice";
    case PipelineDrop::kSipFrameUnknownCall: return "sip_frame_unknown_call";
    case PipelineDrop::kSignallingRefused: return "signalling_refused";
    case PipelineDrop::kBusFull: return "bus_full";
    case PipelineDrop::kBusLegUnknownCall: return "bus_leg_unknown_call";
    case PipelineDrop::kEventsRefused: return "events_refused";
    case PipelineDrop::kCount: break;
  }
  return "unknown";
}

// One call as the pipeline assembles it: the tracker's record, the legs and DTMF media
// reports, and the SIP frames not yet pushed as a block.
struct AssembledCall {
  CallRecord record;
  // From media at leg close, by the worker whose MediaEngine closed the leg: a leg whose
  // RTP and RTCP reached two workers is reported by both and combined in Merged().
  std::vector<std::pair<unsigned, MediaLeg>> legs;
  std::vector<DtmfEvent> rfc4733;   // from media
  // (dialog, last packet time) reported by other workers (calls/media_activity.h).
  std::vector<std::pair<uint16_t, uint64_t>> remote_media;
  // (leg, kEvents blocks stored): each report of a leg gets its own block sequence.
  std::vector<std::pair<uint16_t, uint32_t>> events_seq;
  BlockInfo sip_info;               // signalling block being filled
  std::vector<uint8_t> sip_frames;
  bool ended = false;
  uint64_t emit_at_ns = 0;          // capture time at which the final record goes out
  bool emitted = false;
  // Digests of the call's last SIP frames: a TCP segment that ends one message and
  // starts the next is handed over with both, and is stored once.
  std::array<uint64_t, 4> recent_frames{};
  uint8_t recent_next = 0;
};

// FNV-1a over the capture time, lengths and bytes of a frame.
uint64_t FrameDigest(const Frame& f) {
  uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&h](uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h = (h ^ ((v >> (8 * i)) & 0xff)) * 0x100000001b3ull;
    }
  };
  mix(f.ts_ns);
  mix((uint64_t{f.caplen} << 32) | f.wirelen);
  for (uint32_t i = 0; i < f.caplen; ++i) h = (h ^ f.data[i]) * 0x100000001b3ull;
  return h | 1;  // never 0, the empty slot
}

// Two workers' reports of one leg (RTP on one, RTCP on the other; or a flow that moved):
// the one with more RTP packets describes the leg, counts add up, jitter is the worst.
void CombineLeg(MediaLeg& into, const MediaLeg& other) {
  MediaLeg small = other;
  if (other.packets > into.packets) std::swap(into, small);
  into.packets += small.packets;
  into.lost += small.lost;
  into.duplicates += small.duplicates;
  into.jitter_ms = std::max(into.jitter_ms, small.jitter_ms);
  if (into.codec.empty()) into.codec = small.codec;
  into.encrypted_media = into.encrypted_media || small.encrypted_media;
}

class EnginePipeline final : public Pipeline,
                             private calls::CallEventSink,
                             private calls::MediaActivity,
                             private media::MediaObserver {
 public:
  EnginePipeline(const Config& config, PipelineSink* sink, calls::TrackerOptions tracker_opts,
                 PipelineWorker worker)
      : config_(config),
        sink_(sink),
        worker_(worker),
        bus_(worker.bus != nullptr && worker.bus->workers() > 1 ? worker.bus : nullptr),
        media_sink_(this),
        decoder_(config.decode),
        sip_(config.sip),
        tracker_(std::move(tracker_opts), this),
        media_(media::MediaEngineOptions::From(config.media, config.store), &media_sink_, this),
        end_delay_ns_(uint64_t{config.media.grace_ms} * kNsPerMs + kEndSlackNs),
        remote_(0) {
    // Answered calls with RTP but no SIP are not expired (calls/media_activity.h).
    tracker_.set_media_activity(this);
    // Trailing SIP (200 to BYE, retransmissions) of an ended call still comes as evidence
    // while its dialog lingers in the tracker: keep the call's assembly that long.
    keep_after_emit_ns_ = std::max(end_delay_ns_, tracker_.linger_ns() + kEndSlackNs);
    // A replica is remembered as long as its owner keeps the call: its legs close
    // grace_ms after the ended publication and must still find their owner.
    remote_ = RemoteSessions(end_delay_ns_ + keep_after_emit_ns_);
    // Worker 0 runs every dialog: the others hand it each SIP message they read, so
    // B2BUA legs and a dialog's fragmented and unfragmented messages meet in one tracker
    // whatever queue they came in on. Only when the bus is full is a message kept here.
    if (bus_ != nullptr && worker_.index != 0) {
      sip_.set_forward([this](const sip::TransportMessage& tm) { return ForwardSip(tm); });
    }
  }

  void ProcessBurst(Burst frames) override {
    DrainBus();  // publications of other workers before the frames that follow them
    for (const Frame& f : frames) {
      ++frames_;
      decode::DecodedPacket pkt;
      decode::DecodeDrop d = decoder_.Decode(f, &pkt);
      if (f.ts_ns > now_ns_) now_ns_ = f.ts_ns;
      if (d != decode::DecodeDrop::kOk) continue;  // held fragment or counted drop
      current_frame_ = &f;
      bool sip = false;
      if (pkt.l4 == decode::L4Proto::kUdp || pkt.l4 == decode::L4Proto::kTcp ||
          pkt.l4 == decode::L4Proto::kSctp) {
        sip = sip_.OnPacket(pkt, [this](const sip::Message& m, const sip::TransportMessage& t) {
          OnSipMessage(m, t);
        });
      }
      current_frame_ = nullptr;
      if (sip) continue;
      if (pkt.l4 == decode::L4Proto::kUdp) {
        QueueMedia(pkt);
      } else {
        drops_.Inc(PipelineDrop::kNotVoice);
      }
    }
    FlushMedia();
    if (now_ns_ >= last_advance_ns_ + kAdvanceEveryNs) Advance(now_ns_);
  }

  void Advance(uint64_t now_ns) override {
    FlushMedia();
    DrainBus();
    if (now_ns > now_ns_) now_ns_ = now_ns;
    last_advance_ns_ = now_ns_;
    decoder_.Expire(now_ns_);
    sip_.Advance(now_ns_, [this](const sip::Message& m, const sip::TransportMessage& t) {
      OnSipMessage(m, t);
    });
    tracker_.Advance(now_ns_);
    media_.Advance(now_ns_);
    EmitDueEnds(/*all=*/false);
    if (bus_ != nullptr && now_ns_ >= next_report_ns_) ReportActivity();
  }

  void Finish() override {
    RunFinishStep(FinishStep::kSignalling);
    RunFinishStep(FinishStep::kMedia);
    RunFinishStep(FinishStep::kCalls);
  }

  // With a bus every worker runs each step before any runs the next (pipeline.h): ended
  // publications reach every replica before media closes the legs, and relayed legs
  // reach their owners before the final records go out.
  void RunFinishStep(FinishStep step) override {
    FlushMedia();
    DrainBus();
    switch (step) {
      case FinishStep::kSignalling:
        tracker_.Finish();  // every dialog ends: ended publications go on the bus
        break;
      case FinishStep::kMedia:
        media_.Finish();  // every leg closes: remote legs are relayed to their owners
        ReleaseHeldEvents();
        break;
      case FinishStep::kCalls:
        EmitDueEnds(/*all=*/true);
        remote_.Clear();
        break;
    }
  }

  CounterSnapshot Counters() const override {
    CounterSnapshot out;
    const decode::DecodeStats& ds = decoder_.stats();
    out.emplace_back("decode.frames", ds.frames);
    out.emplace_back("decode.bytes", ds.bytes);
    out.emplace_back("decode.decoded", ds.decoded);
    out.emplace_back("decode.held_fragments", ds.held);
    out.emplace_back("decode.bad_ipv4_checksum", ds.bad_ipv4_checksum);
    out.emplace_back("decode.bad_udp_checksum", ds.bad_udp_checksum);
    out.emplace_back("decode.bad_tcp_checksum", ds.bad_tcp_checksum);
    ds.drops.ForEach([&](decode::DecodeDrop r, uint64_t v) {
      out.emplace_back(fmt::format("drop.decode.{}", decode::DropName(r)), v);
    });
    out.emplace_back("sip.messages", sip_.stats().messages);
    sip_.parse_drops().ForEach([&](sip::SipDrop r, uint64_t v) {
      out.emplace_back(fmt::format("drop.sip.{}", sip::DropName(r)), v);
    });
    sip_.transport_drops().ForEach([&](sip::SipTransportDrop r, uint64_t v) {
      out.emplace_back(fmt::format("drop.sip_transport.{}", sip::DropName(r)), v);
    });
    out.emplace_back("calls.started", tracker_.calls_started());
    out.emplace_back("calls.ended", tracker_.calls_ended());
    tracker_.counters().ForEach([&](calls::CallsDrop r, uint64_t v) {
      out.emplace_back(fmt::format("drop.calls.{}", calls::DropName(r)), v);
    });
    media_.drops().ForEach([&](media::MediaDrop r, uint64_t v) {
      out.emplace_back(fmt::format("drop.media.{}", media::DropName(r)), v);
    });
    media_.events().ForEach([&](media::MediaEvent r, uint64_t v) {
      out.emplace_back(fmt::format("media.{}", media::EventName(r)), v);
    });
    drops_.ForEach([&](PipelineDrop r, uint64_t v) {
      out.emplace_back(fmt::format("drop.pipeline.{}", DropName(r)), v);
    });
    for (std::size_t k = 0; k < bus_sent_.size(); ++k) {
      out.emplace_back(fmt::format("bus.sent.{}", BusKindName(BusKind(k))), bus_sent_[k]);
    }
    for (std::size_t k = 0; k < bus_received_.size(); ++k) {
      out.emplace_back(fmt::format("bus.received.{}", BusKindName(BusKind(k))),
                       bus_received_[k]);
    }
    out.emplace_back("bus.remote_sessions", remote_.size());
    out.emplace_back("bus.sip_kept_local", sip_local_);
    return out;
  }

  uint64_t ActiveCalls() const override { return tracker_.calls(); }

  void PollBus() override { DrainBus(); }

  uint64_t PendingSignallingNs() override {
    TrimAckedSip();
    return sip_pending_.empty() ? UINT64_MAX : sip_pending_.front().second;
  }

 private:
  // Media packets of a burst go to MediaEngine::OnBurst together (their cache misses
  // overlap), in capture order and before any SIP message that follows them, so media
  // sees exactly the order it would packet by packet. A datagram rebuilt from fragments
  // lives in the decoder's buffer only until the next Decode(): processed at once.
  void QueueMedia(const decode::DecodedPacket& pkt) {
    if (pkt.reassembled) {
      FlushMedia();
      media_.OnPacket(pkt);
      return;
    }
    media_batch_[media_queued_++] = pkt;
    if (media_queued_ == media_batch_.size()) FlushMedia();
  }
  void FlushMedia() {
    if (media_queued_ == 0) return;
    media_.OnBurst(std::span<const decode::DecodedPacket>(media_batch_.data(), media_queued_));
    media_queued_ = 0;
  }

  void OnSipMessage(const sip::Message& m, const sip::TransportMessage& t) {
    FlushMedia();  // media packets before this message see the media state before it
    calls::SipEvent ev;
    ev.message = &m;
    ev.ts_ns = t.last_ts_ns;
    ev.src = t.src;
    ev.dst = t.dst;
    // Every frame that carried the message (several for SIP over TCP split across
    // segments); the frame being processed if the transport named none.
    ev.frames = t.frames;
    if (ev.frames.empty() && current_frame_ != nullptr) {
      ev.frames = std::span<const Frame>(current_frame_, 1);
    }
    tracker_.OnMessage(ev);
  }

  // --- calls::CallEventSink ----------------------------------------------------------
  void OnCallStarted(const CallRecord& call) override {
    AssembledCall& a = calls_[call.call_id.value];
    a.record = call;
    a.sip_info.call_id = call.call_id;
    a.sip_info.kind = StreamKind::kSignalling;
    sink_->OnCallStarted(Merged(a));
  }

  void OnCallUpdated(const CallRecord& call) override {
    auto it = calls_.find(call.call_id.value);
    if (it == calls_.end()) return;
    it->second.record = call;
    sink_->OnCallUpdated(Merged(it->second));
  }

  void OnMediaChanged(const calls::MediaSession& session) override {
    media_.OnMediaChanged(session);
    if (bus_ == nullptr) return;
    for (unsigned w = 0; w < bus_->workers(); ++w) {  // every replica, owner = this worker
      if (w == worker_.index) continue;
      BusMessage m;
      m.body = BusSession{session};
      SendBus(w, std::move(m));
    }
  }

  void OnSipFrame(CallId call, const Frame& frame) override {
    auto it = calls_.find(call.value);
    if (it == calls_.end()) {
      drops_.Inc(PipelineDrop::kSipFrameUnknownCall);
      return;
    }
    AssembledCall& a = it->second;
    const uint64_t digest = FrameDigest(frame);
    if (std::find(a.recent_frames.begin(), a.recent_frames.end(), digest) !=
        a.recent_frames.end()) {
      return;  // already stored with the previous message
    }
    a.recent_frames[a.recent_next] = digest;
    a.recent_next = uint8_t((a.recent_next + 1) % a.recent_frames.size());
    if (a.sip_info.frames == 0) a.sip_info.first_ts_ns = frame.ts_ns;
    a.sip_info.last_ts_ns = std::max(a.sip_info.last_ts_ns, frame.ts_ns);
    ++a.sip_info.frames;
    AppendFrameRecord(frame, a.sip_frames);
    if (a.sip_frames.size() >= config_.store.block_bytes) FlushSignalling(a);
  }

  void OnCallEnded(const CallRecord& call) override {
    auto it = calls_.find(call.call_id.value);
    if (it == calls_.end()) return;
    AssembledCall& a = it->second;
    a.record = call;
    a.ended = true;
    a.emit_at_ns = now_ns_ + end_delay_ns_;
    pending_ends_.push_back(call.call_id.value);
    FlushSignalling(a);
  }

  // --- calls::MediaActivity ----------------------------------------------------------
  // This worker's media (same thread) and what other workers reported about the dialog.
  uint64_t LastMediaNs(CallId call, uint16_t dialog) override {
    uint64_t last = media_.LastPacketNs(call, dialog);
    auto it = calls_.find(call.value);
    if (it == calls_.end()) return last;
    for (const auto& [d, ns] : it->second.remote_media) {
      if (d == dialog) last = std::max(last, ns);
    }
    return last;
  }

  // --- media::MediaObserver ----------------------------------------------------------
  void OnLegClosed(CallId call, const MediaLeg& leg, std::span<const DtmfEvent> dtmf) override {
    auto it = calls_.find(call.value);
    if (it != calls_.end()) {
      MergeLeg(it->second, worker_.index, leg, dtmf);
      return;
    }
    std::optional<unsigned> owner;
    if (bus_ != nullptr) owner = remote_.Owner(call, uint16_t(leg.leg / kLegsPerDialog));
    if (!owner) {  // orphan legs arrive with OnOrphanEnded
      ReleaseHeldEvents();
      return;
    }
    BusLegReport r;
    r.call = call;
    r.leg = leg;
    r.dtmf.assign(dtmf.begin(), dtmf.end());
    if (held_events_ && held_events_->info.call_id == call && held_events_->info.leg == leg.leg) {
      r.has_events = true;
      r.events = std::move(*held_events_);
      held_events_.reset();
    }
    ReleaseHeldEvents();
    BusMessage m;
    m.body = std::move(r);
    if (!SendBus(*owner, std::move(m))) {
      // The owner will not hear of this leg (counted); its summary is still stored.
      BusLegReport& lost = std::get<BusLegReport>(m.body);
      if (lost.has_events && !sink_->Push(std::move(lost.events))) {
        drops_.Inc(PipelineDrop::kEventsRefused);
      }
    }
  }

  void OnOrphanStarted(const CallRecord& call) override { sink_->OnCallStarted(call); }
  void OnOrphanEnded(const CallRecord& call) override { sink_->OnCallEnded(call); }

  // --- the media hand-over (media_bus.h) ----------------------------------------------
  // Media's blocks pass through here: a leg's kEvents block gets its sequence from the
  // call's owner (one block per report of the leg: two workers reporting one leg must not
  // both write seq 0), so a remote call's block is held until OnLegClosed relays it.
  struct MediaBlockSink final : BlockSink {
    explicit MediaBlockSink(EnginePipeline* p) : pipeline(p) {}
    bool Push(PlainBlock&& b) override { return pipeline->PushFromMedia(std::move(b)); }
    EnginePipeline* pipeline;
  };

  bool PushFromMedia(PlainBlock&& b) {
    if (b.info.kind == StreamKind::kEvents) {
      auto it = calls_.find(b.info.call_id.value);
      if (it != calls_.end()) return PushEvents(it->second, std::move(b));
      if (bus_ != nullptr &&
          remote_.Owner(b.info.call_id, uint16_t(b.info.leg / kLegsPerDialog))) {
        ReleaseHeldEvents();
        held_events_ = std::move(b);  // media calls OnLegClosed right after this block
        return true;
      }
    }
    return sink_->Push(std::move(b));
  }

  bool PushEvents(AssembledCall& a, PlainBlock&& b) {
    auto s = std::find_if(a.events_seq.begin(), a.events_seq.end(),
                          [&](const auto& e) { return e.first == b.info.leg; });
    if (s == a.events_seq.end()) {
      a.events_seq.emplace_back(b.info.leg, 0);
      s = a.events_seq.end() - 1;
    }
    b.info.seq = s->second++;
    return sink_->Push(std::move(b));
  }

  void ReleaseHeldEvents() {
    if (!held_events_) return;
    if (!sink_->Push(std::move(*held_events_))) drops_.Inc(PipelineDrop::kEventsRefused);
    held_events_.reset();
  }

  void MergeLeg(AssembledCall& a, unsigned worker, const MediaLeg& leg,
                std::span<const DtmfEvent> dtmf) {
    auto same = std::find_if(a.legs.begin(), a.legs.end(), [&](const auto& l) {
      return l.first == worker && l.second.leg == leg.leg;
    });
    if (same != a.legs.end()) {
      same->second = leg;
    } else {
      a.legs.emplace_back(worker, leg);
    }
    a.rfc4733.insert(a.rfc4733.end(), dtmf.begin(), dtmf.end());
    if (a.emitted) sink_->OnCallUpdated(Merged(a));
  }

  // Hands one SIP transport message, with copies of its evidence frames, to worker 0.
  bool ForwardSip(const sip::TransportMessage& tm) {
    BusMessage m;
    m.body = BusSip::CopyOf(tm, sip_seq_ + 1);
    if (!bus_->Send(worker_.index, 0, std::move(m))) {
      ++sip_local_;  // parsed here instead: the dialog may then be split, never lost
      return false;
    }
    ++sip_seq_;
    ++bus_sent_[std::size_t(BusKind::kSip)];
    TrimAckedSip();  // live ports never ask PendingSignallingNs(): keep the list short
    sip_pending_.emplace_back(sip_seq_, tm.last_ts_ns);
    return true;
  }
  void TrimAckedSip() {
    if (sip_pending_.empty()) return;
    const uint64_t acked = bus_->SipAcked(worker_.index);
    while (!sip_pending_.empty() && sip_pending_.front().first <= acked) sip_pending_.pop_front();
  }

  bool SendBus(unsigned to, BusMessage&& m) {
    const BusKind kind = m.kind();
    if (!bus_->Send(worker_.index, to, std::move(m))) {
      drops_.Inc(PipelineDrop::kBusFull);
      return false;
    }
    ++bus_sent_[std::size_t(kind)];
    return true;
  }

  void DrainBus() {
    if (bus_ == nullptr) return;
    bus_->Drain(worker_.index, [this](BusMessage&& m) { OnBusMessage(std::move(m)); });
  }

  void OnBusMessage(BusMessage&& m) {
    ++bus_received_[std::size_t(m.kind())];
    if (auto* s = std::get_if<BusSession>(&m.body)) {
      media_.OnMediaChanged(s->session);  // this worker's replica
      remote_.OnSession(m.from, s->session);
    } else if (auto* l = std::get_if<BusLegReport>(&m.body)) {
      auto it = calls_.find(l->call.value);
      if (it == calls_.end()) {
        drops_.Inc(PipelineDrop::kBusLegUnknownCall);
        if (l->has_events && !sink_->Push(std::move(l->events))) {
          drops_.Inc(PipelineDrop::kEventsRefused);
        }
        return;
      }
      if (l->has_events && !PushEvents(it->second, std::move(l->events))) {
        drops_.Inc(PipelineDrop::kEventsRefused);
      }
      MergeLeg(it->second, m.from, l->leg, l->dtmf);
    } else if (auto* s = std::get_if<BusSip>(&m.body)) {
      sip_.ParseForwarded(s->View(), [this](const sip::Message& msg, const sip::TransportMessage& t) {
        OnSipMessage(msg, t);
      });
      bus_->AckSip(m.from, s->seq);
    } else if (auto* a = std::get_if<BusActivity>(&m.body)) {
      for (const BusActivityEntry& e : a->entries) {
        auto it = calls_.find(e.call.value);
        if (it == calls_.end()) continue;  // ended and forgotten: nobody asks any more
        auto& seen = it->second.remote_media;
        auto d = std::find_if(seen.begin(), seen.end(),
                              [&](const auto& x) { return x.first == e.dialog; });
        if (d == seen.end()) {
          seen.emplace_back(e.dialog, e.last_packet_ns);
        } else {
          d->second = std::max(d->second, e.last_packet_ns);
        }
      }
    }
  }

  void ReportActivity() {
    next_report_ns_ = now_ns_ + kActivityReportNs;
    remote_.Report(now_ns_, media_, bus_->workers(), &activity_);
    for (unsigned w = 0; w < activity_.size(); ++w) {
      if (activity_[w].entries.empty()) continue;
      BusMessage m;
      m.body = std::move(activity_[w]);
      SendBus(w, std::move(m));
    }
  }

  // --- assembly ----------------------------------------------------------------------
  CallRecord Merged(const AssembledCall& a) const {
    CallRecord r = a.record;
    std::vector<MediaLeg> legs;
    for (const auto& [worker, l] : a.legs) {
      auto same = std::find_if(legs.begin(), legs.end(),
                               [&](const MediaLeg& x) { return x.leg == l.leg; });
      if (same != legs.end()) {
        CombineLeg(*same, l);
      } else {
        legs.push_back(l);
      }
    }
    for (const MediaLeg& l : legs) {
      auto same = std::find_if(r.legs.begin(), r.legs.end(),
                               [&](const MediaLeg& x) { return x.leg == l.leg; });
      if (same != r.legs.end()) {
        *same = l;
      } else {
        r.legs.push_back(l);
      }
    }
    std::sort(r.legs.begin(), r.legs.end(),
              [](const MediaLeg& x, const MediaLeg& y) { return x.leg < y.leg; });
    r.dtmf.insert(r.dtmf.end(), a.rfc4733.begin(), a.rfc4733.end());
    std::stable_sort(r.dtmf.begin(), r.dtmf.end(), [](const DtmfEvent& x, const DtmfEvent& y) {
      return x.offset_s < y.offset_s;
    });
    return r;
  }

  void FlushSignalling(AssembledCall& a) {
    if (a.sip_info.frames == 0) return;
    PlainBlock b;
    b.info = a.sip_info;
    b.payload = std::move(a.sip_frames);
    a.sip_frames.clear();
    ++a.sip_info.seq;
    a.sip_info.frames = 0;
    a.sip_info.first_ts_ns = a.sip_info.last_ts_ns = 0;
    if (!sink_->Push(std::move(b))) drops_.Inc(PipelineDrop::kSignallingRefused);
  }

  // Ends are due in the order they were reported (the delay is constant and capture time
  // only moves forward), so two FIFO queues serve them without walking every open call.
  void EmitDueEnds(bool all) {
    if (all) {
      for (auto& [id, a] : calls_) {
        FlushSignalling(a);  // also trailing SIP of calls already emitted
        if (!a.emitted) {
          sink_->OnCallEnded(Merged(a));
          a.emitted = true;
        }
      }
      calls_.clear();
      pending_ends_.clear();
      forget_.clear();
      return;
    }
    while (!pending_ends_.empty()) {
      auto it = calls_.find(pending_ends_.front());
      if (it == calls_.end()) {
        pending_ends_.pop_front();
        continue;
      }
      AssembledCall& a = it->second;
      if (a.emit_at_ns > now_ns_) break;
      FlushSignalling(a);
      sink_->OnCallEnded(Merged(a));
      a.emitted = true;
      // Kept a while longer so that legs closing late still update the stored record and
      // trailing SIP frames (while the tracker's dialog lingers) are still stored.
      forget_.emplace_back(a.emit_at_ns + keep_after_emit_ns_, it->first);
      pending_ends_.pop_front();
    }
    while (!forget_.empty() && forget_.front().first < now_ns_) {
      auto f = calls_.find(forget_.front().second);
      if (f != calls_.end()) {
        FlushSignalling(f->second);
        calls_.erase(f);
      }
      forget_.pop_front();
    }
  }

  Config config_;
  PipelineSink* sink_;
  PipelineWorker worker_;
  MediaBus* bus_;  // null when alone (or a bus of one worker)
  MediaBlockSink media_sink_;
  decode::Decoder decoder_;
  sip::SipExtractor sip_;
  calls::DialogTracker tracker_;
  media::MediaEngine media_;
  uint64_t end_delay_ns_;
  uint64_t keep_after_emit_ns_ = 0;
  RemoteSessions remote_;  // sessions replicated for calls other workers own
  std::optional<PlainBlock> held_events_;  // a remote leg's kEvents block, until relayed
  std::vector<BusActivity> activity_;      // ReportActivity() scratch, one per worker
  uint64_t next_report_ns_ = 0;
  std::array<uint64_t, std::size_t(BusKind::kCount)> bus_sent_{};
  std::array<uint64_t, std::size_t(BusKind::kCount)> bus_received_{};
  uint64_t sip_seq_ = 0;    // SIP messages handed to worker 0 (their sequence numbers)
  uint64_t sip_local_ = 0;  // SIP messages kept here because the bus to worker 0 was full
  std::deque<std::pair<uint64_t, uint64_t>> sip_pending_;  // (seq, capture time) unacked
  std::unordered_map<uint64_t, AssembledCall> calls_;
  std::deque<uint64_t> pending_ends_;                      // ended, record not yet emitted
  std::deque<std::pair<uint64_t, uint64_t>> forget_;       // (forget at ns, call id)
  DropCounters<PipelineDrop> drops_;
  const Frame* current_frame_ = nullptr;
  std::array<decode::DecodedPacket, media::MediaEngine::kMaxBurst> media_batch_{};
  std::size_t media_queued_ = 0;
  uint64_t now_ns_ = 0;
  uint64_t last_advance_ns_ = 0;
  uint64_t frames_ = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Pipeline>> MakeEnginePipeline(
    const Config& config, PipelineSink* sink, const calls::AgentDirectoryHandle* directory,
    PipelineWorker worker) {
  if (worker.bus != nullptr && worker.index >= worker.bus->workers()) {
    return absl::InvalidArgumentError(fmt::format(
        "pipeline: worker {} of a media bus of {} workers", worker.index, worker.bus->workers()));
  }
  ASSIGN_OR_RETURN(calls::TrackerOptions opts,
                   calls::TrackerOptions::FromConfig(config, directory));
  return std::unique_ptr<Pipeline>(new EnginePipeline(config, sink, std::move(opts), worker));
}

}  // namespace callvault
