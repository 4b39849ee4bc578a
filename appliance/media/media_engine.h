// MediaEngine: one worker's RTP/RTCP stage — matches media packets to call legs, keeps
// every frame in per-leg blocks, and measures each leg (RFC 3550 loss/jitter, RFC 4733
// DTMF).
//
// Input: decode::DecodedPacket (UDP) of frames that signalling did not take, in capture
// order; MediaSession publications from signalling (appliance/calls/media_session.h)
// through OnMediaChanged(), applied on this worker's thread between bursts; capture time
// through Advance(). Output: PlainBlocks (FrameRecord payloads, StreamKind kRtp / kRtcp /
// kOther, plus one kEvents block per leg at close) to the BlockSink; MediaLeg / DtmfEvent
// metadata and orphan calls to the MediaObserver. Thread: one engine per worker; not
// thread-safe. OnPacket() never allocates in steady state, takes no lock, makes no
// syscall; every frame it does not record increments a MediaDrop.
//
// Legs: a leg is one direction of one m= stream of one dialog. Its number (MediaLeg::leg,
// BlockInfo::leg) is dialog * 32 + stream * 2 + sending side (kSideA 0, kSideB 1), so
// both workers and export agree on it without coordination (streams >= 16 ignored).
// Direction: sent by the agent side -> kAgentToCaller, by the other -> kCallerToAgent;
// unknown agent side -> side A sends kAToB, side B kBToA.
//
// Matching rule, in order (documented in docs/MEDIA.md):
//  1. destination endpoint bound -> the packet is received by that side, sent by the
//     other. If its source is not the sender's announced address, the source is latched
//     (NAT, RFC 4961 symmetric RTP) for that sender and stream: first packet wins, and
//     only while the sender has no latched address yet (re-publication resets it).
//     Packets to the latched address are then matched by rule 1 too.
//  2. source endpoint bound -> sent by that side (symmetric RTP: a side sends from the
//     port it receives on; covers a receiver behind NAT whose public address we never
//     saw in SDP).
//  3. otherwise an orphan candidate: with MediaConfig.record_orphans, a flow (src, dst)
//     whose packets parse as RTP v2 with a plausible payload type, one SSRC and
//     sequence numbers advancing by 1..kOrphanMaxStep over kOrphanPackets packets
//     becomes an `orphan` call keyed by its two endpoints (held frames are recorded
//     first); else a drop.
// RTCP on the a=rtcp / port+1 endpoint, or on the RTP port told apart by RFC 5761 §4.
// STUN/ZRTP/DTLS/unknown datagrams on bound ports are recorded in kOther blocks.
//
// Lifetime: a session published with ended=true (or replaced endpoints) keeps matching
// for MediaConfig.grace_ms of capture time after that publication, then its legs close:
// blocks flushed, one kEvents block, MediaObserver::OnLegClosed. Orphans close after
// MediaConfig.rtp_idle_timeout_s without packets. Finish() closes everything.
//
// Burst path (OnBurst, what the pipeline calls): up to kMaxBurst packets in three passes
// so that their cache misses overlap instead of following one another: (1) hash every
// destination once and prefetch its endpoint-table slot; (2) look the slot up, find the
// leg from the dense per-session leg index and prefetch the kHotLines (3) lines of the
// leg's hot state; (3) prefetch for writing exactly the lines of the leg's block that the
// record will occupy, back to back for the whole burst (their TLB walks and misses
// overlap); then each packet is processed exactly as OnPacket() would, in order (the
// prefetches are hints: state changed by an earlier packet of the burst is re-read).
// Leg state is split: LegHot (RTP block builder, the leg's caches of the payload-type map
// and of the latch check, then RtpStats whose in-order fields come first) is what a
// steady-state RTP packet touches, within its first 3 cache lines; Leg (descriptive
// fields, DTMF, RTCP/other builders) is cold. The steady-state RTP path reads no Session,
// no rare counter and no bitmap line (reorder windows <= 64, see rtp_stats.h), and
// block_due_ only when a frame opens a block. A plain RTP header (0x80, no CSRC,
// extension or padding) is classified and parsed in one step (rtp.h ParsePlainRtp).
//
// Memory (stated, bounded, from config at start-up): per leg slot sizeof(LegHot) +
// sizeof(Leg) (~1.3 KiB: stats, DTMF, 3 block builders); per session slot sizeof(Session)
// (~1.4 KiB) + 32 B of leg index; endpoint table 2 x 4 x max_legs slots of 32 B; a block
// buffer (StoreConfig.block_bytes) per open block from the pool (see block_builder.h and
// pool_buffers). So an active leg costs <= 1.3 KiB + block_bytes for RTP, and a call of
// hours never grows: blocks leave as they fill.
#ifndef CALLVAULT_APPLIANCE_MEDIA_MEDIA_ENGINE_H_
#define CALLVAULT_APPLIANCE_MEDIA_MEDIA_ENGINE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "appliance/calls/media_session.h"
#include "appliance/common/block.h"
#include "appliance/common/call_record.h"
#include "appliance/common/slot_array.h"
#include "appliance/config/config.h"
#include "appliance/decode/packet.h"
#include "appliance/media/block_builder.h"
#include "appliance/media/codec.h"
#include "appliance/media/dtmf.h"
#include "appliance/media/endpoint_table.h"
#include "appliance/media/media_drop.h"
#include "appliance/media/rtp_stats.h"

namespace callvault::media {

// Receives leg metadata when legs close, and orphan calls (which signalling never saw).
class MediaObserver {
 public:
  virtual ~MediaObserver() = default;
  virtual void OnLegClosed(CallId call, const MediaLeg& leg,
                           std::span<const DtmfEvent> dtmf) = 0;
  // An orphan call started (state kOrphan, no SIP) / ended (legs filled in).
  virtual void OnOrphanStarted(const CallRecord& call) = 0;
  virtual void OnOrphanEnded(const CallRecord& call) = 0;
};

struct MediaEngineOptions {
  uint32_t max_legs = 100000;
  uint32_t reorder_window = 64;
  uint64_t grace_ns = 2000ull * 1000 * 1000;
  uint64_t idle_ns = 300ull * 1000 * 1000 * 1000;
  bool record_orphans = true;
  BlockLimits limits;
  // Block buffers preallocated (0 = min(max_legs, kDefaultPoolBuffers)). A consumer that
  // recycles payloads (pool().Recycle) keeps the steady state allocation-free; one that
  // does not (the store seals and frees them) makes each new block allocate once. A pool
  // of one buffer per leg slot would reserve max_legs x block_bytes up front and touch a
  // fresh buffer for every block until all were used: RSS grew with call time.
  uint32_t pool_buffers = 0;
  static MediaEngineOptions From(const MediaConfig& media, const StoreConfig& store);
};

class MediaEngine {
 public:
  static constexpr uint32_t kDefaultPoolBuffers = 1024;
  static constexpr int kMaxStreams = 4;
  static constexpr int kMaxPayloadTypes = 12;
  static constexpr int kOrphanPackets = 3;
  static constexpr int kOrphanMaxStep = 4;
  static constexpr std::size_t kProbationSlots = 1024;
  static constexpr std::size_t kProbationFrameBytes = 1600;
  static constexpr uint64_t kScanIntervalNs = 20ull * 1000 * 1000;
  static constexpr std::size_t kMaxBurst = 32;  // OnBurst() works in chunks of this size
  static constexpr std::size_t kMinPrefetchBurst = 4;  // smaller bursts: no prefetch passes

  MediaEngine(const MediaEngineOptions& options, BlockSink* sink, MediaObserver* observer);
  ~MediaEngine();
  MediaEngine(const MediaEngine&) = delete;
  MediaEngine& operator=(const MediaEngine&) = delete;

  // Control: a dialog's media (re)announced. Replaces the previous publication.
  void OnMediaChanged(const calls::MediaSession& session);
  // Per packet. Returns true when the frame was recorded (or is held as an orphan
  // candidate), false when it was dropped (reason counted).
  bool OnPacket(const decode::DecodedPacket& pkt);
  // Per burst: the same as OnPacket() on each packet in order, with the cache misses of
  // the whole burst overlapped (see "Burst path" above). Returns the frames recorded.
  std::size_t OnBurst(std::span<const decode::DecodedPacket> pkts);
  // Timers by capture time: block_ms flushes, grace and idle expiry.
  void Advance(uint64_t now_ns);
  // Closes every leg and session (end of input, shutdown).
  void Finish();

  BufferPool& pool() { return pool_; }  // the consumer recycles block buffers here
  const MediaDrops& drops() const { return drops_; }
  const MediaEvents& events() const { return events_; }
  std::size_t active_legs() const { return active_legs_.size(); }
  std::size_t active_sessions() const { return active_sessions_.size(); }
  // Capture time of the last packet matched to the session of (call, dialog), 0 if none or
  // closed. Control rate: DialogTracker asks it when an answered call's idle deadline
  // passes (appliance/calls/media_activity.h), not per packet.
  uint64_t LastPacketNs(CallId call, uint16_t dialog);

 private:
  struct PtEntry {
    uint8_t pt = 0;
    Codec codec = Codec::kUnknown;
    uint32_t clock = 0;
  };
  struct SideStream {
    Endpoint rtp, rtcp;
    bool latched = false;
    Endpoint latched_rtp;
    std::array<PtEntry, kMaxPayloadTypes> pts{};
    uint8_t pt_count = 0;
  };
  struct StreamState {
    bool used = false;
    bool srtp = false;
    std::array<SideStream, 2> side;
    // Leg indexes by sending side live in session_legs_ (dense, read per packet).
  };
  struct RetiredEndpoint {
    Endpoint ep;
    uint64_t expire_ns = 0;
  };
  struct Session {
    bool used = false;
    bool orphan = false;
    CallId call;
    uint16_t dialog = 0;
    int agent_side = -1;
    uint64_t close_at_ns = 0;  // 0 = open
    uint64_t first_packet_ns = 0;  // orphans; the last packet is SessionLastPacket()
    std::array<StreamState, kMaxStreams> streams;
    std::array<RetiredEndpoint, 8> retired;
    uint8_t retired_count = 0;
    uint32_t active_index = 0;
  };
  // What a steady-state RTP packet touches, in its first kHotLines lines (OnBurst
  // prefetches those): the RTP block builder (line 0), the leg's identity and caches, the
  // hot part of RtpStats. The rest of RtpStats (rare counters, long-window bitmap)
  // follows and is read only on rare events and at close.
  struct alignas(64) LegHot {
    static constexpr uint8_t kPtCached = 1, kSrcCached = 2, kSrcLatched = 4;
    BlockBuilder rtp;
    uint32_t session = 0;
    uint8_t stream = 0;
    uint8_t sender = 0;
    uint8_t flags = 0;        // caches below valid; cleared by OnMediaChanged/OpenLeg
    uint8_t cached_pt = 0;    // payload type -> codec/clock (LookupPt + static table)
    Codec cached_codec = Codec::kUnknown;
    Codec last_codec = Codec::kUnknown;
    Endpoint cached_src;      // the sender's announced RTP address (latch check)
    uint32_t cached_clock = 0;
    uint64_t last_packet_ns = 0;
    uint64_t stamp = 0;       // engine packet number of this leg's last packet
    RtpStats stats;
  };
  static constexpr std::size_t kHotLines = 3;
  static_assert(sizeof(BlockBuilder) == 64, "the RTP block builder is one cache line");
  static_assert(offsetof(LegHot, stats) + RtpStats::kHotBytes <= kHotLines * 64,
                "steady-state leg state: at most kHotLines cache lines");
  struct Leg {
    bool used = false;
    uint32_t active_index = 0;
    MediaLeg meta;              // leg number, direction, endpoints; counters at close
    bool encrypted = false;
    uint64_t first_packet_ns = 0;
    uint64_t rtcp_packets = 0;
    uint64_t other_packets = 0;
    DtmfTracker dtmf;
    BlockBuilder rtcp, other;
  };
  struct Probation {
    bool used = false;
    Endpoint src, dst;
    uint32_t ssrc = 0;
    uint16_t last_seq = 0;
    uint8_t count = 0;
    uint8_t held = 0;
    std::array<Frame, kOrphanPackets - 1> frames{};
    std::array<uint16_t, kOrphanPackets - 1> payload_off{};
    std::array<uint16_t, kOrphanPackets - 1> payload_len{};
    std::array<std::array<uint8_t, kProbationFrameBytes>, kOrphanPackets - 1> bytes{};
  };

  bool OnPacketHashed(const decode::DecodedPacket& pkt, uint64_t dst_hash);
  void PrefetchWrite(const decode::DecodedPacket& pkt, int32_t leg) const;
  bool RecordMatched(const decode::DecodedPacket& pkt, uint32_t session, uint8_t stream,
                     uint8_t sender);
  int32_t& LegOf(uint32_t session, uint8_t stream, uint8_t sender) {
    return session_legs_[(std::size_t(session) * kMaxStreams + stream) * 2 + sender];
  }
  void InvalidateLegCaches(uint32_t session);
  uint64_t SessionLastPacket(uint32_t session);
  bool HandleOrphan(const decode::DecodedPacket& pkt);
  int32_t OpenLeg(uint32_t session, uint8_t stream, uint8_t sender, const Endpoint& src,
                  const Endpoint& dst, uint64_t ts_ns);
  MediaLeg CloseLeg(uint32_t leg);
  void CloseSession(uint32_t session);
  int32_t AllocSession();
  void BindSession(uint32_t s);
  void Append(BlockBuilder& b, const Frame& f, uint32_t leg);
  void FlushBuilder(BlockBuilder& b);
  bool HoldProbation(Probation& p, const decode::DecodedPacket& pkt);
  void ReleaseProbation(Probation& p, uint32_t session, uint8_t sender);
  const PtEntry* LookupPt(const StreamState& st, uint8_t receiver, uint8_t pt) const;

  MediaEngineOptions opt_;
  BlockSink* sink_;
  MediaObserver* observer_;
  BufferPool pool_;
  EndpointTable table_;
  // Leg and session slots: reserved for max_legs, constructed as first handed out
  // (appliance/common/slot_array.h), so start-up and idle memory do not pay for them.
  SlotArray<Session> sessions_;
  std::vector<uint32_t> free_sessions_;
  std::vector<uint32_t> active_sessions_;
  std::vector<int32_t> session_legs_;  // (session, stream, sender) -> leg, -1 = none
  SlotArray<LegHot> hot_;
  // Lower bounds for Advance(): the first frame time of a leg's oldest open block, and
  // the earliest timer of a session (close, retired endpoint, orphan idle); UINT64_MAX
  // = none. A scan skips what cannot be due.
  std::vector<uint64_t> block_due_;
  std::vector<uint64_t> session_due_;
  SlotArray<Leg> legs_;
  std::vector<uint32_t> free_legs_;
  std::vector<uint32_t> active_legs_;
  std::unique_ptr<std::array<Probation, kProbationSlots>> probation_;
  absl::flat_hash_map<uint64_t, uint32_t> by_dialog_;  // (call id, dialog) -> session
  MediaDrops drops_;
  MediaEvents events_;
  uint64_t last_scan_ns_ = 0;
  uint64_t packet_stamp_ = 0;
  PayloadMap static_pts_;
};

}  // namespace callvault::media

#endif  // CALLVAULT_APPLIANCE_MEDIA_MEDIA_ENGINE_H_
