#include "appliance/sip/sip_extractor.h"

#include <algorithm>

#include "appliance/config/config.h"
#include "appliance/sip/text.h"

namespace callvault::sip {
namespace {

constexpr uint16_t kSipsPort = 5061;  // RFC 3261 §19.1.2: default port for sips (TLS)
constexpr uint64_t kExpireIntervalNs = 1000000000ull;

bool OnlyCrlf(std::span<const uint8_t> p) {
  for (uint8_t c : p) {
    if (c != '\r' && c != '\n') return false;
  }
  return true;
}

bool IsWebSocketUpgrade(std::span<const uint8_t> p) {
  std::string_view t = AsText(p.data(), std::min<std::size_t>(p.size(), 4096));
  if (t.size() < 4 || t.substr(0, 4) != "GET ") return false;
  for (std::size_t i = 0; i + 9 <= t.size(); ++i) {
    if (EqualsIgnoreCase(t.substr(i, 9), "websocket")) return true;
  }
  return false;
}

}  // namespace

SipExtractor::SipExtractor(const SipConfig& config)
    : ports_(config.ports),
      detect_any_port_(config.detect_any_port),
      limits_(Limits::FromConfig(config)),
      tcp_(TcpReassemblerOptions::FromConfig(config)),
      message_(std::make_unique<Message>()) {
  sctp_buf_.reserve(limits_.max_message_bytes);
}

bool SipExtractor::IsSipPort(uint16_t port) const {
  return std::find(ports_.begin(), ports_.end(), port) != ports_.end();
}

DropCounters<SipTransportDrop> SipExtractor::transport_drops() const {
  DropCounters<SipTransportDrop> d = tcp_.drops();
  d.Add(sctp_drops_);
  return d;
}

void SipExtractor::Parse(const TransportMessage& tm, MessageFn fn) {
  if (forward_ && forward_(tm)) return;
  ParseResult r = ParseMessage(tm.bytes, limits_, message_.get());
  if (!r.ok()) {
    parse_drops_.Inc(*r.drop);
    return;
  }
  ++stats_.messages;
  switch (tm.transport) {
    case Transport::kUdp:
      ++stats_.udp_messages;
      break;
    case Transport::kTcp:
      ++stats_.tcp_messages;
      break;
    case Transport::kWebSocket:
      ++stats_.websocket_messages;
      break;
    case Transport::kSctp:
      ++stats_.sctp_messages;
      break;
  }
  fn(*message_, tm);
}

bool SipExtractor::OnPacket(const decode::DecodedPacket& pkt, MessageFn fn) {
  bool sip = false;
  switch (pkt.l4) {
    case decode::L4Proto::kUdp:
      sip = OnUdp(pkt, fn);
      break;
    case decode::L4Proto::kTcp:
      sip = OnTcp(pkt, fn);
      break;
    case decode::L4Proto::kSctp:
      sip = OnSctp(pkt, fn);
      break;
    default:
      break;
  }
  if (sip) ++stats_.packets;
  return sip;
}

bool SipExtractor::OnUdp(const decode::DecodedPacket& pkt, MessageFn fn) {
  const bool port = IsSipPort(pkt.src.port) || IsSipPort(pkt.dst.port);
  if (!port && !(detect_any_port_ && LooksLikeSip(pkt.payload))) return false;
  if (port && OnlyCrlf(pkt.payload)) {
    ++stats_.keepalives;
    return true;
  }
  TransportMessage tm;
  tm.bytes = pkt.payload;
  tm.transport = Transport::kUdp;
  tm.src = pkt.src;
  tm.dst = pkt.dst;
  tm.first_ts_ns = tm.last_ts_ns = pkt.frame ? pkt.frame->ts_ns : 0;
  if (!pkt.fragment_frames.empty()) {
    // An IP-fragmented datagram: every fragment's frame is evidence of the message.
    tm.frames = pkt.fragment_frames;
    tm.first_ts_ns = pkt.fragment_frames.front().ts_ns;
  } else if (pkt.frame != nullptr) {
    tm.frames = {pkt.frame, 1};
  }
  Parse(tm, fn);
  return true;
}

bool SipExtractor::OnTcp(const decode::DecodedPacket& pkt, MessageFn fn) {
  const bool port = IsSipPort(pkt.src.port) || IsSipPort(pkt.dst.port) ||
                    pkt.src.port == kSipsPort || pkt.dst.port == kSipsPort;
  if (!port && !tcp_.Tracks(pkt.src, pkt.dst) && !tcp_.Tracks(pkt.dst, pkt.src)) {
    if (!detect_any_port_ || pkt.payload.empty()) return false;
    if (!LooksLikeSip(pkt.payload) && !IsWebSocketUpgrade(pkt.payload)) return false;
  }
  tcp_.OnSegment(pkt, [&](const TransportMessage& tm) { Parse(tm, fn); });
  return true;
}

bool SipExtractor::OnSctp(const decode::DecodedPacket& pkt, MessageFn fn) {
  // Chunks after the 12-byte common header (decode hands us the chunks), RFC 9260 §3.2.
  std::span<const uint8_t> p = pkt.payload;
  const bool port = IsSipPort(pkt.src.port) || IsSipPort(pkt.dst.port);
  bool any_sip = false;
  std::size_t pos = 0;
  while (pos + 4 <= p.size()) {
    const uint8_t type = p[pos];
    const uint8_t flags = p[pos + 1];
    const std::size_t len = (std::size_t(p[pos + 2]) << 8) | p[pos + 3];
    if (len < 4 || pos + len > p.size()) {
      if (port || any_sip) sctp_drops_.Inc(SipTransportDrop::kSctpBadChunk);
      break;
    }
    if (type == 0 && len >= 16) {  // DATA (§3.3.1): TSN, stream id, SSN, PPID, data
      std::span<const uint8_t> data = p.subspan(pos + 16, len - 16);
      const bool whole = (flags & 0x03) == 0x03;  // B and E bits
      if (!whole) {
        const uint32_t tsn = (uint32_t(p[pos + 4]) << 24) | (uint32_t(p[pos + 5]) << 16) |
                             (uint32_t(p[pos + 6]) << 8) | p[pos + 7];
        const uint16_t sid = uint16_t((p[pos + 8] << 8) | p[pos + 9]);
        const bool first = flags & 0x02;
        if (port || (first && LooksLikeSip(data)) ||
            (!first && sctp_pending_.active && sctp_pending_.src == pkt.src &&
             sctp_pending_.dst == pkt.dst)) {
          any_sip = true;
          OnSctpFragment(pkt, flags, tsn, sid, data, fn);
        }
      } else if (LooksLikeSip(data)) {
        any_sip = true;
        TransportMessage tm;
        tm.bytes = data;
        tm.transport = Transport::kSctp;
        tm.src = pkt.src;
        tm.dst = pkt.dst;
        tm.first_ts_ns = tm.last_ts_ns = pkt.frame ? pkt.frame->ts_ns : 0;
        if (pkt.frame != nullptr) tm.frames = {pkt.frame, 1};
        Parse(tm, fn);
      } else if (port) {
        sctp_drops_.Inc(SipTransportDrop::kSctpNotSip);
      }
    }
    pos += (len + 3) & ~std::size_t(3);  // chunks are padded to 4 bytes
  }
  return any_sip || port;
}

void SipExtractor::OnSctpFragment(const decode::DecodedPacket& pkt, uint8_t flags, uint32_t tsn,
                                  uint16_t sid, std::span<const uint8_t> data, MessageFn fn) {
  const uint64_t ts = pkt.frame ? pkt.frame->ts_ns : 0;
  SctpPending& s = sctp_pending_;
  if (flags & 0x02) {                                                  // B: first fragment
    if (s.active) sctp_drops_.Inc(SipTransportDrop::kSctpFragmented);  // abandoned
    s = SctpPending{true, pkt.src, pkt.dst, sid, tsn + 1, 1, ts};
    sctp_buf_.clear();
  } else if (!s.active || s.src != pkt.src || s.dst != pkt.dst || s.sid != sid ||
             s.next_tsn != tsn) {
    sctp_drops_.Inc(SipTransportDrop::kSctpFragmented);
    return;
  } else {
    ++s.next_tsn;
    ++s.chunks;
  }
  if (sctp_buf_.size() + data.size() > limits_.max_message_bytes) {
    sctp_drops_.Inc(SipTransportDrop::kSctpFragmented);
    s.active = false;
    return;
  }
  sctp_buf_.insert(sctp_buf_.end(), data.begin(), data.end());
  if (!(flags & 0x01)) return;  // not the last fragment yet
  s.active = false;
  TransportMessage tm;
  tm.bytes = sctp_buf_;
  tm.transport = Transport::kSctp;
  tm.src = pkt.src;
  tm.dst = pkt.dst;
  tm.first_ts_ns = s.first_ts_ns;
  tm.last_ts_ns = ts;
  tm.segments = s.chunks;
  // Evidence: only the frame of the last chunk (earlier chunks' frames are not kept).
  if (pkt.frame != nullptr) tm.frames = {pkt.frame, 1};
  Parse(tm, fn);
}

void SipExtractor::Advance(uint64_t now_ns, MessageFn fn) {
  if (now_ns < next_expire_ns_) return;
  next_expire_ns_ = now_ns + kExpireIntervalNs;
  tcp_.Expire(now_ns, [&](const TransportMessage& tm) { Parse(tm, fn); });
}

}  // namespace callvault::sip
