// SipExtractor: the pipeline's entry point into signalling. Decides whether a decoded
// packet is SIP and turns it into parsed sip::Messages.
//
// Input: DecodedPackets (UDP, TCP, SCTP), bytes valid for the duration of OnPacket().
// Classification (RFC 3261 §18): a packet is SIP when
//  - either port is one of SipConfig.ports (UDP, TCP, SCTP), or 5061 over TCP (SIP over
//    TLS: counted as kSipOverTls, never readable passively);
//  - or, with SipConfig.detect_any_port, its payload starts with a SIP request/status line
//    (LooksLikeSip), or it opens a WebSocket upgrade on any TCP port (RFC 7118);
//  - or it belongs to a TCP stream already being reassembled (either direction).
// UDP payloads are parsed in place; TCP goes through TcpReassembler (framing,
// reordering, WebSocket); SCTP DATA chunks (RFC 9260 §3.3.1) with a complete user
// message (B and E bits) are parsed in place, whatever their PPID; a message split over
// consecutive DATA chunks is rebuilt in one preallocated buffer (one at a time).
// Output: for every message that parses, on_message(message, transport) — both views
// valid only during the callback (see message.h / transport.h ownership).
// Thread: one extractor per worker thread; not thread-safe. No allocation in steady
// state (one Message reused; reassembly buffers pooled), no locks, no syscalls.
// Drop reasons: SipDrop (message parse failures, counted per message) and
// SipTransportDrop (transport; includes the reassembler's).
#ifndef CALLVAULT_APPLIANCE_SIP_SIP_EXTRACTOR_H_
#define CALLVAULT_APPLIANCE_SIP_SIP_EXTRACTOR_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/functional/function_ref.h"
#include "appliance/common/counters.h"
#include "appliance/decode/packet.h"
#include "appliance/sip/message.h"
#include "appliance/sip/tcp_reassembler.h"
#include "appliance/sip/transport.h"

namespace callvault {
struct SipConfig;
}

namespace callvault::sip {

struct SipExtractorStats {
  uint64_t packets = 0;   // packets classified as signalling (OnPacket() == true)
  uint64_t messages = 0;  // messages parsed and handed out
  uint64_t udp_messages = 0;
  uint64_t tcp_messages = 0;
  uint64_t websocket_messages = 0;
  uint64_t sctp_messages = 0;
  uint64_t keepalives = 0;  // CRLF keep-alives (RFC 5626 §4.4.1) on a SIP port
};

class SipExtractor {
 public:
  using MessageFn = absl::FunctionRef<void(const Message&, const TransportMessage&)>;

  explicit SipExtractor(const SipConfig& config);
  SipExtractor(const SipExtractor&) = delete;
  SipExtractor& operator=(const SipExtractor&) = delete;

  // True if the packet is signalling (SIP, or SIP transport such as TLS/WebSocket
  // control frames) and was consumed here; false if it is not SIP (hand it to media).
  bool OnPacket(const decode::DecodedPacket& pkt, MessageFn on_message);

  // Runs TCP timers at capture time now_ns (cheap to call often: acts once per second).
  void Advance(uint64_t now_ns, MessageFn on_message);

  // Signalling handed to another worker (several workers share a MediaBus: one of them
  // runs every dialog). When set, every complete transport message (UDP datagram, also
  // rebuilt from IP fragments; TCP/WebSocket message; SCTP user message) is first offered
  // to `fn`; taken (true) means it is not parsed here, not counted as a message here and
  // the caller's on_message is not called for it. Declined (false): parsed here as usual.
  // Keep-alives never leave. `fn` runs inside OnPacket()/Advance().
  using ForwardFn = std::function<bool(const TransportMessage&)>;
  void set_forward(ForwardFn fn) { forward_ = std::move(fn); }
  // The receiving side: parses a message another worker's extractor forwarded (its
  // bytes and evidence frames valid during the call), counting it as if read here.
  void ParseForwarded(const TransportMessage& tm, MessageFn on_message) {
    Parse(tm, on_message);
  }

  bool IsSipPort(uint16_t port) const;

  const DropCounters<SipDrop>& parse_drops() const { return parse_drops_; }
  // Transport drops: the reassembler's plus SCTP's.
  DropCounters<SipTransportDrop> transport_drops() const;
  const SipExtractorStats& stats() const { return stats_; }
  const TcpReassembler& tcp() const { return tcp_; }

 private:
  void Parse(const TransportMessage& tm, MessageFn fn);
  bool OnUdp(const decode::DecodedPacket& pkt, MessageFn fn);
  bool OnTcp(const decode::DecodedPacket& pkt, MessageFn fn);
  bool OnSctp(const decode::DecodedPacket& pkt, MessageFn fn);

  void OnSctpFragment(const decode::DecodedPacket& pkt, uint8_t flags, uint32_t tsn, uint16_t sid,
                      std::span<const uint8_t> data, MessageFn fn);

  // One SCTP user message under reassembly (fragments carry consecutive TSNs,
  // RFC 9260 §6.9); enough for SIP, whose messages rarely span more than two chunks.
  struct SctpPending {
    bool active = false;
    Endpoint src;
    Endpoint dst;
    uint16_t sid = 0;
    uint32_t next_tsn = 0;
    uint32_t chunks = 0;
    uint64_t first_ts_ns = 0;
  };

  std::vector<uint16_t> ports_;
  bool detect_any_port_ = true;
  ForwardFn forward_;
  Limits limits_;
  TcpReassembler tcp_;
  std::unique_ptr<Message> message_;  // ~6 KiB, reused for every message
  uint64_t next_expire_ns_ = 0;
  SctpPending sctp_pending_;
  std::vector<uint8_t> sctp_buf_;  // capacity max_message_bytes, reserved up front
  DropCounters<SipDrop> parse_drops_;
  DropCounters<SipTransportDrop> sctp_drops_;
  SipExtractorStats stats_;
};

}  // namespace callvault::sip

#endif  // CALLVAULT_APPLIANCE_SIP_SIP_EXTRACTOR_H_
