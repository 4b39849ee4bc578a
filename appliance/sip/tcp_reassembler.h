// TcpReassembler: SIP over TCP (RFC 3261 §18.3) and SIP over WebSocket (RFC 7118) from
// passively captured TCP segments.
//
// Input: DecodedPackets with l4 == kTcp (bytes valid for the duration of OnSegment()).
// Each direction of a connection is a separate stream keyed by (src, dst). Per stream:
//  - in-order bytes are framed into messages by Content-Length (MeasureMessage); several
//    messages in one segment and one message over many segments both work. Whole
//    messages inside one segment are handed out zero-copy; only an incomplete tail is
//    copied into a pooled buffer (bounded by max_buffer).
//  - out-of-order segments are held (at most kMaxHeld per stream, within max_buffer
//    bytes ahead); a hole not filled within gap_timeout_ms is skipped (kTcpGapNeverFilled)
//    and the stream resynchronises on the next SIP start line.
//  - segments wholly before the next expected byte are retransmissions: ignored.
//  - SYN starts a stream at ISN+1; a stream first seen without SYN (capture started
//    mid-connection) starts at that segment and hunts for a start line (LooksLikeSip).
//    FIN (in order) and RST end it; idle streams expire after idle_timeout_s of capture
//    time (Expire()).
//  - evidence frames (RFC 3261 says nothing here; this is callvault's record keeping):
//    every message carries the captured frames that held its bytes
//    (TransportMessage::frames, capture-time order). While a message is incomplete, the
//    frames of its pending bytes are copied into a per-stream pooled log; an out-of-order
//    segment keeps a copy of its frame with its bytes. A segment that ends one message
//    and starts the next is a frame of both. Bounded per stream by max_message_frames and
//    max_frame_log_bytes: a frame beyond either is not kept (kTcpEvidenceFrameLimit), the
//    message is still delivered. Full retransmissions are ignored, so they are not
//    evidence; a segment overlapping old and new bytes is.
//  - first bytes decide the protocol: SIP text, TLS records (counted kSipOverTls for every
//    segment: TLS cannot be read passively), or an HTTP Upgrade to WebSocket, after which
//    WS frames are unmasked (RFC 6455 §5.3) and each text/binary frame is one message.
// Output: TransportMessage via the callback; its bytes are valid only during the call.
// Thread: one reassembler per worker thread; not thread-safe. Memory: the stream table
// and hash index are sized in the constructor; buffers come from a pool that grows to
// its high-water mark and is then recycled (steady state: no allocation). No locks,
// syscalls, exceptions or logging on the segment path.
// Drop reasons: SipTransportDrop (transport.h), kTcp* / kSipOverTls / kWebSocket*.
#ifndef CALLVAULT_APPLIANCE_SIP_TCP_REASSEMBLER_H_
#define CALLVAULT_APPLIANCE_SIP_TCP_REASSEMBLER_H_

#include <array>
#include <cstdint>
#include <deque>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "appliance/common/counters.h"
#include "appliance/common/slot_array.h"
#include "appliance/decode/packet.h"
#include "appliance/sip/message.h"
#include "appliance/sip/transport.h"

namespace callvault {
struct SipConfig;
}

namespace callvault::sip {

struct TcpReassemblerOptions {
  uint32_t max_connections = 65536;  // each has two streams (directions)
  uint32_t max_buffer = 131072;      // pending + held bytes per stream
  uint32_t idle_timeout_s = 900;
  uint32_t max_message_bytes = 65536;
  uint32_t gap_timeout_ms = 2000;  // how long a hole may wait for its segment
  uint32_t prealloc_buffers = 32;  // pool buffers created up front
  uint32_t max_message_frames = 64;       // evidence frames kept per incomplete message
  uint32_t max_frame_log_bytes = 262144;  // bytes of those frames per stream

  static TcpReassemblerOptions FromConfig(const SipConfig& config);
};

struct TcpStats {
  uint64_t segments = 0;  // segments fed
  uint64_t messages = 0;  // messages handed out (TCP and WebSocket)
  uint64_t websocket_messages = 0;
  uint64_t streams_opened = 0;
  uint64_t streams_closed = 0;   // FIN / RST
  uint64_t streams_expired = 0;  // idle
  uint64_t held_segments = 0;    // out-of-order segments held (and later used or not)
};

class TcpReassembler {
 public:
  using MessageFn = absl::FunctionRef<void(const TransportMessage&)>;
  static constexpr int kMaxHeld = 8;

  explicit TcpReassembler(const TcpReassemblerOptions& options);
  TcpReassembler(const TcpReassembler&) = delete;
  TcpReassembler& operator=(const TcpReassembler&) = delete;

  // Feeds one TCP segment; calls on_message for each message it completes.
  void OnSegment(const decode::DecodedPacket& pkt, MessageFn on_message);
  // Expires idle streams and skips holes older than gap_timeout_ms, at capture time
  // now_ns. Skipping a hole may complete messages held behind it.
  void Expire(uint64_t now_ns, MessageFn on_message);

  // True if a stream for this direction is being tracked (lets a classifier keep feeding
  // a connection on a non-SIP port once it was recognised).
  bool Tracks(const Endpoint& src, const Endpoint& dst) const;
  std::size_t active_streams() const { return index_.size(); }

  const DropCounters<SipTransportDrop>& drops() const { return drops_; }
  const TcpStats& stats() const { return stats_; }

 private:
  enum class State : uint8_t { kStart, kSip, kResync, kTls, kHttpUpgrade, kWebSocket, kNotSip };

  struct Held {
    uint32_t seq = 0;
    uint32_t len = 0;  // payload bytes at the start of buf; the frame's log entry follows
    int32_t buf = -1;
    uint64_t ts_ns = 0;
  };

  struct Stream {
    Endpoint src;
    Endpoint dst;
    State state = State::kStart;
    bool in_use = false;
    uint32_t open_pos = 0;  // index in open_ while in_use
    uint32_t next_seq = 0;
    uint64_t last_ts_ns = 0;
    uint64_t pending_first_ts_ns = 0;
    uint32_t pending_segments = 0;
    int32_t buf = -1;  // pool index of pending in-order bytes, -1 = none
    int32_t log = -1;  // pool index of the frames of the pending bytes (evidence log)
    uint16_t log_count = 0;
    uint8_t held_count = 0;
    uint32_t held_bytes = 0;
    uint64_t gap_since_ns = 0;
    std::array<Held, kMaxHeld> held{};
  };

  struct Key {
    Endpoint src;
    Endpoint dst;
    friend bool operator==(const Key&, const Key&) = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const {
      return HashEndpoint(k.src) * 31 + HashEndpoint(k.dst);
    }
  };

  Stream* Lookup(const Endpoint& src, const Endpoint& dst);
  Stream* Open(const Endpoint& src, const Endpoint& dst, uint64_t ts_ns);
  void Close(Stream* s);
  void Reset(Stream* s);        // drops pending and held bytes
  void DropPending(Stream* s);  // drops pending bytes and their frames

  // Evidence log: appends the current frame (stream bytes cur_start_..cur_end_), and
  // forgets frames whose bytes all precede stream sequence number `upto`.
  void LogCurrentFrame(Stream* s);
  void PruneLog(Stream* s, uint32_t upto);

  // Hands in-order bytes (stream sequence numbers next_seq..next_seq+n) to the stream's
  // state machine; `frame` (may be null) is the captured frame that carried them.
  void Deliver(Stream* s, const uint8_t* data, std::size_t n, uint64_t ts_ns, const Frame* frame,
               MessageFn fn);
  // Frames messages out of bytes[0, n), whose first byte has sequence number `base`;
  // returns how many bytes were consumed.
  std::size_t Process(Stream* s, const uint8_t* data, std::size_t n, uint32_t base,
                      uint64_t first_ts_ns, uint64_t ts_ns, uint32_t segments, MessageFn fn);
  std::size_t ProcessWebSocket(Stream* s, const uint8_t* data, std::size_t n, uint32_t base,
                               uint64_t first_ts_ns, uint64_t ts_ns, MessageFn fn,
                               bool* need_more);
  void DrainHeld(Stream* s, MessageFn fn);
  void SkipGap(Stream* s, MessageFn fn);
  // Emits one message whose bytes were stream bytes [seq_begin, seq_end).
  void Emit(const Stream& s, Transport t, const uint8_t* data, std::size_t n, uint64_t first_ts_ns,
            uint64_t ts_ns, uint32_t segments, uint32_t seq_begin, uint32_t seq_end, MessageFn fn);

  int32_t AcquireBuffer();
  void ReleaseBuffer(int32_t* index);

  TcpReassemblerOptions options_;
  Limits limits_;
  SlotArray<Stream> streams_;  // constructed as first handed out (slot_array.h)
  std::vector<uint32_t> free_streams_;
  // Slots of the open streams, dense: Expire() walks these, not every slot.
  std::vector<uint32_t> open_;
  absl::flat_hash_map<Key, uint32_t, KeyHash> index_;
  // A deque: growing the pool never moves buffers others hold references to.
  std::deque<std::vector<uint8_t>> pool_;
  std::vector<int32_t> free_buffers_;
  std::vector<uint8_t> scratch_;  // WebSocket unmasking
  std::vector<Frame> frames_;     // a message's evidence frames (capacity reserved)
  // The frame being delivered and the stream bytes it carries (set by Deliver()).
  const Frame* cur_frame_ = nullptr;
  uint32_t cur_start_ = 0;
  uint32_t cur_end_ = 0;
  DropCounters<SipTransportDrop> drops_;
  TcpStats stats_;
};

}  // namespace callvault::sip

#endif  // CALLVAULT_APPLIANCE_SIP_TCP_REASSEMBLER_H_
