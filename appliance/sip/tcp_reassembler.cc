// TCP stream reassembly for SIP (RFC 3261 §18.3), TLS detection, WebSocket (RFC 7118).
#include "appliance/sip/tcp_reassembler.h"

#include <algorithm>
#include <cstring>

#include "appliance/config/config.h"
#include "appliance/sip/text.h"

namespace callvault::sip {
namespace {

constexpr uint64_t kNsPerMs = 1000000ull;
constexpr uint64_t kNsPerS = 1000000000ull;
constexpr std::size_t kMaxHttpHeader = 8192;

// Signed distance a - b in sequence space (RFC 793 §3.3 modular arithmetic).
int64_t SeqDiff(uint32_t a, uint32_t b) { return int32_t(a - b); }

bool StartsWith(const uint8_t* d, std::size_t n, std::string_view prefix) {
  return n >= prefix.size() && std::memcmp(d, prefix.data(), prefix.size()) == 0;
}

// A TLS record header (RFC 8446 §5.1): content type 20..23, legacy version 3.x.
bool LooksLikeTls(const uint8_t* d, std::size_t n) {
  return n >= 3 && d[0] >= 20 && d[0] <= 23 && d[1] == 3 && d[2] <= 4;
}

bool ContainsIgnoreCase(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    if (EqualsIgnoreCase(hay.substr(i, needle.size()), needle)) return true;
  }
  return false;
}

constexpr std::size_t kMaxStartLine = 512;  // LooksLikeSip() looks this far

constexpr int kMaxMethodTries = 8;

bool IsUpper(uint8_t c) { return c >= 'A' && c <= 'Z'; }

// Finds the first SIP start line at or after `from`, also one glued to the end of a body
// that did not end in CRLF ("...helloSIP/2.0 200 OK"): every "SIP/2.0" is either the
// head of a status line or the tail of a request line, whose method is the run of
// upper-case letters before the first space. Returns npos if none is complete yet.
std::size_t FindStartLine(const uint8_t* data, std::size_t n, std::size_t from) {
  std::string_view text = AsText(data, n);
  for (std::size_t k = text.find("SIP/2.0", from); k != std::string_view::npos;
       k = text.find("SIP/2.0", k + 1)) {
    std::span<const uint8_t> at(data + k, n - k);
    if (k + 7 < n && text[k + 7] == ' ') {
      if (LooksLikeSip(at)) return k;
      continue;
    }
    // Request line: METHOD SP Request-URI SP SIP/2.0 — back up to the line start.
    std::size_t line = k;
    while (line > from && text[line - 1] != '\n' && k - line < kMaxStartLine) --line;
    // Bounded: at most kMaxMethodTries candidates per "SIP/2.0", so hostile bytes cost
    // O(bytes) on the packet path.
    int tries = 0;
    for (std::size_t j = line; j < k && tries < kMaxMethodTries; ++j) {
      if (!IsUpper(data[j]) || (j > line && IsUpper(data[j - 1]))) continue;
      ++tries;
      if (LooksLikeSip({data + j, n - j})) return j;
    }
  }
  return std::string_view::npos;
}

// One frame in an evidence log (or after a held segment's bytes): this header, then
// caplen bytes. In memory only, host byte order.
struct LogEntry {
  uint32_t start = 0;  // stream bytes [start, end) the frame carried
  uint32_t end = 0;
  uint64_t ts_ns = 0;
  uint32_t wirelen = 0;
  uint32_t caplen = 0;
  uint16_t port = 0;
  uint16_t queue = 0;
  uint16_t link = 0;
  uint16_t pad = 0;
};

std::size_t LogEntrySize(const Frame& f) { return sizeof(LogEntry) + f.caplen; }

void AppendLogEntry(std::vector<uint8_t>& out, const Frame& f, uint32_t start, uint32_t end) {
  LogEntry e;
  e.start = start;
  e.end = end;
  e.ts_ns = f.ts_ns;
  e.wirelen = f.wirelen;
  e.caplen = f.data ? f.caplen : 0;
  e.port = f.port;
  e.queue = f.queue;
  e.link = static_cast<uint16_t>(f.link);
  const auto* h = reinterpret_cast<const uint8_t*>(&e);
  out.insert(out.end(), h, h + sizeof(e));
  if (e.caplen > 0) out.insert(out.end(), f.data, f.data + e.caplen);
}

// Reads the entry at `off` into `e` and a Frame view of its bytes; returns the offset of
// the next entry.
std::size_t ReadLogEntry(const std::vector<uint8_t>& b, std::size_t off, LogEntry* e, Frame* f) {
  std::memcpy(e, b.data() + off, sizeof(LogEntry));
  f->data = b.data() + off + sizeof(LogEntry);
  f->caplen = e->caplen;
  f->wirelen = e->wirelen;
  f->ts_ns = e->ts_ns;
  f->port = e->port;
  f->queue = e->queue;
  f->link = static_cast<LinkType>(e->link);
  return off + sizeof(LogEntry) + e->caplen;
}

}  // namespace

std::string_view TransportName(Transport t) {
  switch (t) {
    case Transport::kUdp:
      return "udp";
    case Transport::kTcp:
      return "tcp";
    case Transport::kWebSocket:
      return "websocket";
    case Transport::kSctp:
      return "sctp";
  }
  return "unknown";
}

std::string_view DropName(SipTransportDrop reason) {
  switch (reason) {
    case SipTransportDrop::kTcpTableFull:
      return "tcp_table_full";
    case SipTransportDrop::kTcpBufferOverflow:
      return "tcp_buffer_overflow";
    case SipTransportDrop::kTcpOutOfWindow:
      return "tcp_out_of_window";
    case SipTransportDrop::kTcpGapNeverFilled:
      return "tcp_gap_never_filled";
    case SipTransportDrop::kTcpRetransmission:
      return "tcp_retransmission";
    case SipTransportDrop::kTcpResyncSkipped:
      return "tcp_resync_skipped";
    case SipTransportDrop::kTcpFramingError:
      return "tcp_framing_error";
    case SipTransportDrop::kTcpClosedWithPartial:
      return "tcp_closed_with_partial";
    case SipTransportDrop::kTcpNotSip:
      return "tcp_not_sip";
    case SipTransportDrop::kSipOverTls:
      return "sip_over_tls";
    case SipTransportDrop::kWebSocketFragmented:
      return "websocket_fragmented";
    case SipTransportDrop::kWebSocketBadFrame:
      return "websocket_bad_frame";
    case SipTransportDrop::kSctpNotSip:
      return "sctp_not_sip";
    case SipTransportDrop::kSctpFragmented:
      return "sctp_fragmented";
    case SipTransportDrop::kSctpBadChunk:
      return "sctp_bad_chunk";
    case SipTransportDrop::kTcpEvidenceFrameLimit:
      return "tcp_evidence_frame_limit";
    case SipTransportDrop::kCount:
      break;
  }
  return "unknown";
}

TcpReassemblerOptions TcpReassemblerOptions::FromConfig(const SipConfig& config) {
  TcpReassemblerOptions o;
  o.max_connections = config.tcp_max_connections;
  o.max_buffer = config.tcp_max_buffer;
  o.idle_timeout_s = config.tcp_idle_timeout_s;
  o.max_message_bytes = config.max_message_bytes;
  o.max_frame_log_bytes = 2 * config.tcp_max_buffer;
  return o;
}

TcpReassembler::TcpReassembler(const TcpReassemblerOptions& options) : options_(options) {
  options_.max_connections = std::max<uint32_t>(options_.max_connections, 1);
  options_.max_buffer = std::max<uint32_t>(options_.max_buffer, 1024);
  limits_.max_message_bytes = options_.max_message_bytes;
  const uint32_t max_streams = options_.max_connections * 2;
  streams_.Reset(max_streams);
  free_streams_.reserve(max_streams);
  open_.reserve(max_streams);
  for (uint32_t i = max_streams; i > 0; --i) free_streams_.push_back(i - 1);
  index_.reserve(max_streams);
  free_buffers_.reserve(std::size_t(max_streams) * (kMaxHeld + 1));
  for (uint32_t i = 0; i < options_.prealloc_buffers; ++i) {
    pool_.emplace_back();
    pool_.back().reserve(std::min<uint32_t>(options_.max_buffer, 16384));
    free_buffers_.push_back(int32_t(i));
  }
  scratch_.resize(options_.max_message_bytes);
  options_.max_message_frames = std::clamp<uint32_t>(options_.max_message_frames, 1, 4096);
  frames_.reserve(std::size_t(options_.max_message_frames) + 1);
}

int32_t TcpReassembler::AcquireBuffer() {
  if (!free_buffers_.empty()) {
    int32_t i = free_buffers_.back();
    free_buffers_.pop_back();
    return i;
  }
  pool_.emplace_back();  // growth phase only: the pool keeps its high-water mark
  pool_.back().reserve(std::min<uint32_t>(options_.max_buffer, 16384));
  return int32_t(pool_.size() - 1);
}

void TcpReassembler::ReleaseBuffer(int32_t* index) {
  if (*index < 0) return;
  pool_[std::size_t(*index)].clear();
  free_buffers_.push_back(*index);
  *index = -1;
}

TcpReassembler::Stream* TcpReassembler::Lookup(const Endpoint& src, const Endpoint& dst) {
  auto it = index_.find(Key{src, dst});
  return it == index_.end() ? nullptr : &streams_[it->second];
}

bool TcpReassembler::Tracks(const Endpoint& src, const Endpoint& dst) const {
  return index_.contains(Key{src, dst});
}

TcpReassembler::Stream* TcpReassembler::Open(const Endpoint& src, const Endpoint& dst,
                                             uint64_t ts_ns) {
  if (free_streams_.empty()) return nullptr;
  uint32_t i = free_streams_.back();
  free_streams_.pop_back();
  streams_.Ensure(i);
  Stream& s = streams_[i];
  s = Stream();
  s.src = src;
  s.dst = dst;
  s.in_use = true;
  s.open_pos = uint32_t(open_.size());
  open_.push_back(i);
  s.last_ts_ns = ts_ns;
  index_.emplace(Key{src, dst}, i);
  ++stats_.streams_opened;
  return &s;
}

void TcpReassembler::DropPending(Stream* s) {
  ReleaseBuffer(&s->buf);
  ReleaseBuffer(&s->log);
  s->log_count = 0;
  s->pending_segments = 0;
}

void TcpReassembler::Reset(Stream* s) {
  DropPending(s);
  for (int i = 0; i < s->held_count; ++i) ReleaseBuffer(&s->held[std::size_t(i)].buf);
  s->held_count = 0;
  s->held_bytes = 0;
}

void TcpReassembler::LogCurrentFrame(Stream* s) {
  if (cur_frame_ == nullptr || cur_start_ == cur_end_) return;
  const std::size_t have = s->log >= 0 ? pool_[std::size_t(s->log)].size() : 0;
  if (s->log_count >= options_.max_message_frames ||
      have + LogEntrySize(*cur_frame_) > options_.max_frame_log_bytes) {
    drops_.Inc(SipTransportDrop::kTcpEvidenceFrameLimit);
    return;
  }
  if (s->log < 0) s->log = AcquireBuffer();
  AppendLogEntry(pool_[std::size_t(s->log)], *cur_frame_, cur_start_, cur_end_);
  ++s->log_count;
}

void TcpReassembler::PruneLog(Stream* s, uint32_t upto) {
  if (s->log < 0) return;
  std::vector<uint8_t>& b = pool_[std::size_t(s->log)];
  // Entries are in stream order: the frames wholly consumed form a prefix.
  std::size_t off = 0;
  uint16_t gone = 0;
  while (off < b.size()) {
    LogEntry e;
    Frame f;
    std::size_t next = ReadLogEntry(b, off, &e, &f);
    if (SeqDiff(e.end, upto) > 0) break;
    off = next;
    ++gone;
  }
  if (off >= b.size()) {
    ReleaseBuffer(&s->log);
    s->log_count = 0;
    return;
  }
  b.erase(b.begin(), b.begin() + std::ptrdiff_t(off));
  s->log_count = uint16_t(s->log_count - gone);
}

void TcpReassembler::Close(Stream* s) {
  if (s->buf >= 0 && !pool_[std::size_t(s->buf)].empty() &&
      (s->state == State::kSip || s->state == State::kWebSocket)) {
    drops_.Inc(SipTransportDrop::kTcpClosedWithPartial);
  }
  Reset(s);
  s->in_use = false;
  index_.erase(Key{s->src, s->dst});
  const uint32_t slot = uint32_t(s - streams_.data());
  const uint32_t last = open_.back();  // swap-remove from the dense open list
  open_[s->open_pos] = last;
  streams_[last].open_pos = s->open_pos;
  open_.pop_back();
  free_streams_.push_back(slot);
}

void TcpReassembler::Emit(const Stream& s, Transport t, const uint8_t* data, std::size_t n,
                          uint64_t first_ts_ns, uint64_t ts_ns, uint32_t segments,
                          uint32_t seq_begin, uint32_t seq_end, MessageFn fn) {
  // Evidence: the logged frames of earlier segments and the frame being delivered,
  // each if it carried a byte of [seq_begin, seq_end).
  frames_.clear();
  auto overlaps = [&](uint32_t start, uint32_t end) {
    return SeqDiff(end, seq_begin) > 0 && SeqDiff(start, seq_end) < 0;
  };
  if (s.log >= 0) {
    const std::vector<uint8_t>& b = pool_[std::size_t(s.log)];
    for (std::size_t off = 0; off < b.size();) {
      LogEntry e;
      Frame f;
      off = ReadLogEntry(b, off, &e, &f);
      if (overlaps(e.start, e.end) && frames_.size() < frames_.capacity()) frames_.push_back(f);
    }
  }
  if (cur_frame_ != nullptr && overlaps(cur_start_, cur_end_) &&
      frames_.size() < frames_.capacity()) {
    frames_.push_back(*cur_frame_);
  }
  // Capture order (held segments may have been captured before the ones filling the
  // hole); insertion sort: a handful of frames, no allocation.
  for (std::size_t i = 1; i < frames_.size(); ++i) {
    for (std::size_t j = i; j > 0 && frames_[j].ts_ns < frames_[j - 1].ts_ns; --j) {
      std::swap(frames_[j], frames_[j - 1]);
    }
  }
  TransportMessage m;
  m.frames = frames_;
  m.bytes = {data, n};
  m.transport = t;
  m.src = s.src;
  m.dst = s.dst;
  m.first_ts_ns = first_ts_ns;
  m.last_ts_ns = ts_ns;
  m.segments = std::max<uint32_t>(segments, 1);
  ++stats_.messages;
  if (t == Transport::kWebSocket) ++stats_.websocket_messages;
  fn(m);
}

void TcpReassembler::OnSegment(const decode::DecodedPacket& pkt, MessageFn fn) {
  ++stats_.segments;
  const uint64_t ts = pkt.frame ? pkt.frame->ts_ns : 0;
  const uint8_t flags = pkt.tcp_flags;
  const uint8_t* data = pkt.payload.data();
  std::size_t n = pkt.payload.size();
  uint32_t seq = pkt.tcp_seq;

  Stream* s = Lookup(pkt.src, pkt.dst);
  if (flags & decode::kTcpRst) {
    if (s) {
      ++stats_.streams_closed;
      Close(s);
    }
    if (Stream* r = Lookup(pkt.dst, pkt.src)) {
      ++stats_.streams_closed;
      Close(r);
    }
    return;
  }
  if ((flags & decode::kTcpSyn) && s) {  // a new connection on the same 4-tuple
    Close(s);
    s = nullptr;
  }
  if (!s) {
    if (n == 0 && !(flags & decode::kTcpSyn)) return;  // pure ACK/FIN: nothing to track
    s = Open(pkt.src, pkt.dst, ts);
    if (!s) {
      drops_.Inc(SipTransportDrop::kTcpTableFull);
      return;
    }
    // SYN consumes one sequence number (RFC 793 §3.3).
    s->next_seq = (flags & decode::kTcpSyn) ? seq + 1 : seq;
  }
  s->last_ts_ns = ts;
  if (flags & decode::kTcpSyn) {
    seq += 1;
    if (n == 0) return;
  }

  int64_t diff = SeqDiff(seq, s->next_seq);
  if (diff < 0) {
    if (uint64_t(-diff) >= n) {
      if (n > 0) drops_.Inc(SipTransportDrop::kTcpRetransmission);
      return;  // an old FIN or keep-alive probe changes nothing
    }
    data += -diff;  // overlap: keep only the new tail
    n -= std::size_t(-diff);
    diff = 0;
  }
  if (diff > 0) {
    if (n == 0) return;
    if (uint64_t(diff) + n > options_.max_buffer || s->held_count >= kMaxHeld ||
        s->held_bytes + n > options_.max_buffer) {
      drops_.Inc(SipTransportDrop::kTcpOutOfWindow);
      return;
    }
    for (int i = 0; i < s->held_count; ++i) {  // same segment again: a retransmission
      if (s->held[std::size_t(i)].seq == seq) {
        drops_.Inc(SipTransportDrop::kTcpRetransmission);
        return;
      }
    }
    Held& h = s->held[s->held_count++];
    h.seq = seq;
    h.len = uint32_t(n);
    h.ts_ns = ts;
    h.buf = AcquireBuffer();
    std::vector<uint8_t>& hb = pool_[std::size_t(h.buf)];
    hb.assign(data, data + n);
    if (pkt.frame != nullptr) AppendLogEntry(hb, *pkt.frame, seq, seq + uint32_t(n));
    s->held_bytes += uint32_t(n);
    if (s->held_count == 1) s->gap_since_ns = ts;
    ++stats_.held_segments;
    return;
  }
  if (n > 0) {
    Deliver(s, data, n, ts, pkt.frame, fn);
    s->next_seq += uint32_t(n);
    DrainHeld(s, fn);
  }
  if ((flags & decode::kTcpFin) && s->held_count == 0) {
    ++stats_.streams_closed;
    Close(s);
  } else if (s->held_count > 0 && ts > s->gap_since_ns &&
             ts - s->gap_since_ns > uint64_t(options_.gap_timeout_ms) * kNsPerMs) {
    SkipGap(s, fn);
  }
}

void TcpReassembler::DrainHeld(Stream* s, MessageFn fn) {
  bool progress = true;
  while (progress && s->held_count > 0) {
    progress = false;
    for (int i = 0; i < s->held_count; ++i) {
      Held h = s->held[std::size_t(i)];
      int64_t diff = SeqDiff(h.seq, s->next_seq);
      if (diff > 0) continue;
      // Remove slot i first (Deliver may not touch held slots, but keep it simple).
      s->held[std::size_t(i)] = s->held[std::size_t(s->held_count - 1)];
      --s->held_count;
      std::vector<uint8_t>& b = pool_[std::size_t(h.buf)];
      s->held_bytes -= h.len;
      if (uint64_t(-diff) < h.len) {
        std::size_t skip = std::size_t(-diff);
        Frame f;
        const Frame* fp = nullptr;
        if (b.size() > h.len) {
          LogEntry e;
          ReadLogEntry(b, h.len, &e, &f);
          fp = &f;
        }
        // Its bytes became usable when the hole before them was filled: at the latest
        // segment's time (a message completed here has that as its last_ts_ns).
        Deliver(s, b.data() + skip, h.len - skip, std::max(h.ts_ns, s->last_ts_ns), fp, fn);
        s->next_seq += uint32_t(h.len - skip);
      }
      ReleaseBuffer(&h.buf);
      progress = true;
      break;
    }
  }
  if (s->held_count > 0) {
    uint64_t oldest = s->held[0].ts_ns;
    for (int i = 1; i < s->held_count; ++i)
      oldest = std::min(oldest, s->held[std::size_t(i)].ts_ns);
    s->gap_since_ns = std::max(s->gap_since_ns, oldest);
  }
}

void TcpReassembler::SkipGap(Stream* s, MessageFn fn) {
  // The hole will not be filled: whatever was pending is lost; restart at the first held
  // byte and hunt for a start line (the bytes after a hole rarely begin a message).
  drops_.Inc(SipTransportDrop::kTcpGapNeverFilled);
  DropPending(s);
  uint32_t first = s->held[0].seq;
  for (int i = 1; i < s->held_count; ++i) {
    if (SeqDiff(s->held[std::size_t(i)].seq, first) < 0) first = s->held[std::size_t(i)].seq;
  }
  s->next_seq = first;
  if (s->state == State::kSip || s->state == State::kWebSocket) {
    s->state = State::kResync;
  }
  DrainHeld(s, fn);
}

void TcpReassembler::Expire(uint64_t now_ns, MessageFn fn) {
  const uint64_t idle = uint64_t(options_.idle_timeout_s) * kNsPerS;
  const uint64_t gap = uint64_t(options_.gap_timeout_ms) * kNsPerMs;
  // Backwards over the open list: Close() moves the last entry into the closed one's
  // place, which this walk has already visited.
  for (std::size_t k = open_.size(); k-- > 0;) {
    if (k >= open_.size()) continue;  // SkipGap() closed more than one stream
    Stream& s = streams_[open_[k]];
    if (now_ns > s.last_ts_ns && now_ns - s.last_ts_ns > idle) {
      ++stats_.streams_expired;
      Close(&s);
      continue;
    }
    if (s.held_count > 0 && now_ns > s.gap_since_ns && now_ns - s.gap_since_ns > gap) {
      SkipGap(&s, fn);
    }
  }
}

void TcpReassembler::Deliver(Stream* s, const uint8_t* data, std::size_t n, uint64_t ts,
                             const Frame* frame, MessageFn fn) {
  cur_frame_ = frame;
  cur_start_ = s->next_seq;
  cur_end_ = s->next_seq + uint32_t(n);
  if (s->state == State::kStart) {
    if (LooksLikeTls(data, n)) {
      s->state = State::kTls;
    } else if (StartsWith(data, n, "GET ") || StartsWith(data, n, "HTTP/1.")) {
      s->state = State::kHttpUpgrade;
    } else {
      s->state = State::kSip;  // kSip itself falls back to kResync if it is not SIP
    }
  }
  if (s->state == State::kTls) {
    drops_.Inc(SipTransportDrop::kSipOverTls);
    return;
  }
  if (s->state == State::kNotSip) {
    drops_.Inc(SipTransportDrop::kTcpNotSip);
    return;
  }
  if (s->buf < 0) {
    // Fast path: frame straight out of the segment; copy only an incomplete tail.
    std::size_t used = Process(s, data, n, s->next_seq, ts, ts, 1, fn);
    if (used < n && s->state != State::kNotSip && s->state != State::kTls) {
      if (n - used > options_.max_buffer) {
        drops_.Inc(SipTransportDrop::kTcpBufferOverflow);
        s->state = State::kResync;
        return;
      }
      s->buf = AcquireBuffer();
      pool_[std::size_t(s->buf)].assign(data + used, data + n);
      s->pending_first_ts_ns = ts;
      s->pending_segments = 1;
      LogCurrentFrame(s);
    }
    return;
  }
  std::vector<uint8_t>& b = pool_[std::size_t(s->buf)];
  if (b.size() + n > options_.max_buffer) {
    drops_.Inc(SipTransportDrop::kTcpBufferOverflow);
    DropPending(s);
    s->state = State::kResync;
    Deliver(s, data, n, ts, frame, fn);
    return;
  }
  b.insert(b.end(), data, data + n);
  ++s->pending_segments;
  // The buffer holds stream bytes up to next_seq + n (next_seq moves after Deliver).
  const uint32_t base = s->next_seq + uint32_t(n) - uint32_t(b.size());
  std::size_t used =
      Process(s, b.data(), b.size(), base, s->pending_first_ts_ns, ts, s->pending_segments, fn);
  if (s->buf < 0) {  // released by a state change inside Process
    DropPending(s);
    return;
  }
  std::vector<uint8_t>& b2 = pool_[std::size_t(s->buf)];
  if (used >= b2.size() || s->state == State::kNotSip || s->state == State::kTls) {
    DropPending(s);
  } else {
    if (used > 0) {
      b2.erase(b2.begin(), b2.begin() + std::ptrdiff_t(used));
      s->pending_first_ts_ns = ts;
      s->pending_segments = 1;
    }
    PruneLog(s, base + uint32_t(used));
    LogCurrentFrame(s);
  }
}

std::size_t TcpReassembler::Process(Stream* s, const uint8_t* data, std::size_t n,
                                    uint32_t base, uint64_t first_ts, uint64_t ts,
                                    uint32_t segments, MessageFn fn) {
  std::size_t pos = 0;
  while (pos < n) {
    switch (s->state) {
      case State::kResync: {
        std::size_t found = FindStartLine(data, n, pos);
        if (found != std::string_view::npos) {
          if (found > pos) drops_.Inc(SipTransportDrop::kTcpResyncSkipped);
          pos = found;
          s->state = State::kSip;
          break;
        }
        // No start line yet. One may be arriving: it cannot contain '\n' and is at most
        // 512 bytes long, so keep only what follows the last LF, capped at 512 bytes.
        const uint8_t* last_lf = static_cast<const uint8_t*>(memrchr(data + pos, '\n', n - pos));
        std::size_t keep_from = last_lf ? std::size_t(last_lf - data) + 1 : pos;
        if (n - keep_from > kMaxStartLine) keep_from = n - kMaxStartLine;
        if (keep_from > pos) drops_.Inc(SipTransportDrop::kTcpResyncSkipped);
        return keep_from;
      }
      case State::kSip: {
        while (pos < n && (data[pos] == '\r' || data[pos] == '\n')) ++pos;  // keep-alives
        if (pos >= n) return n;
        std::span<const uint8_t> rest(data + pos, n - pos);
        const void* lf = std::memchr(rest.data(), '\n', rest.size());
        if (!lf && rest.size() < kMaxStartLine) return pos;  // start line incomplete
        if (!LooksLikeSip(rest)) {
          // Not a start line here: hunt from the next byte (always make progress, since
          // FindStartLine and LooksLikeSip agree on what a start line is).
          s->state = State::kResync;
          pos += 1;
          break;
        }
        FrameResult fr = MeasureMessage(rest, limits_);
        if (fr.status == FrameStatus::kNeedMore) return pos;
        if (fr.status == FrameStatus::kError) {
          drops_.Inc(SipTransportDrop::kTcpFramingError);
          s->state = State::kResync;
          // Step past this whole start line so resync does not find it again.
          pos += lf ? std::size_t(static_cast<const uint8_t*>(lf) - rest.data()) + 1 : 1;
          break;
        }
        Emit(*s, Transport::kTcp, rest.data(), fr.length, first_ts, ts, segments,
             base + uint32_t(pos), base + uint32_t(pos + fr.length), fn);
        first_ts = ts;
        segments = 1;
        pos += fr.length;
        break;
      }
      case State::kHttpUpgrade: {
        std::string_view text = AsText(data + pos, n - pos);
        std::size_t end = text.find("\r\n\r\n");
        if (end == std::string_view::npos) {
          if (text.size() > kMaxHttpHeader) {
            s->state = State::kNotSip;
            drops_.Inc(SipTransportDrop::kTcpNotSip);
            return n;
          }
          return pos;
        }
        std::string_view head = text.substr(0, end);
        if (ContainsIgnoreCase(head, "websocket")) {
          s->state = State::kWebSocket;  // RFC 6455 §4: frames follow the handshake
        } else {
          s->state = State::kNotSip;
          drops_.Inc(SipTransportDrop::kTcpNotSip);
          return n;
        }
        pos += end + 4;
        break;
      }
      case State::kWebSocket: {
        bool need_more = false;
        std::size_t used = ProcessWebSocket(s, data + pos, n - pos, base + uint32_t(pos), first_ts,
                                            ts, fn, &need_more);
        if (need_more) return pos;
        pos += used;
        first_ts = ts;
        break;
      }
      case State::kStart:
      case State::kTls:
      case State::kNotSip:
        return n;
    }
  }
  return pos;
}

std::size_t TcpReassembler::ProcessWebSocket(Stream* s, const uint8_t* d, std::size_t n,
                                             uint32_t base, uint64_t first_ts, uint64_t ts,
                                             MessageFn fn, bool* need_more) {
  // RFC 6455 §5.2 base framing.
  if (n < 2) {
    *need_more = true;
    return 0;
  }
  const bool fin = d[0] & 0x80;
  const uint8_t opcode = d[0] & 0x0f;
  const bool masked = d[1] & 0x80;
  uint64_t len = d[1] & 0x7f;
  std::size_t hdr = 2;
  if (len == 126) {
    if (n < 4) {
      *need_more = true;
      return 0;
    }
    len = (uint64_t(d[2]) << 8) | d[3];
    hdr = 4;
  } else if (len == 127) {
    if (n < 10) {
      *need_more = true;
      return 0;
    }
    len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | d[2 + i];
    hdr = 10;
  }
  const uint8_t* key = nullptr;
  if (masked) {
    if (n < hdr + 4) {
      *need_more = true;
      return 0;
    }
    key = d + hdr;
    hdr += 4;
  }
  const bool known = opcode <= 2 || (opcode >= 8 && opcode <= 10);
  if (!known || len > options_.max_message_bytes) {
    drops_.Inc(SipTransportDrop::kWebSocketBadFrame);
    s->state = State::kResync;
    return 1;
  }
  if (n - hdr < len) {
    *need_more = true;
    return 0;
  }
  const std::size_t total = hdr + std::size_t(len);
  if (opcode >= 8) return total;  // close / ping / pong
  if (!fin || opcode == 0) {
    drops_.Inc(SipTransportDrop::kWebSocketFragmented);
    return total;
  }
  const uint8_t* payload = d + hdr;
  if (masked) {  // RFC 6455 §5.3
    for (std::size_t i = 0; i < len; ++i) scratch_[i] = payload[i] ^ key[i & 3];
    payload = scratch_.data();
  }
  Emit(*s, Transport::kWebSocket, payload, std::size_t(len), first_ts, ts, 1, base,
       base + uint32_t(total), fn);
  return total;
}

}  // namespace callvault::sip
