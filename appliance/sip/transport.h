// What the SIP transport layer hands upward: one complete SIP message with its transport
// context, and the transport layer's named drop reasons.
//
// Ownership: TransportMessage::bytes points into the packet being processed (UDP, SCTP,
// a TCP segment carrying whole messages) or into a reassembly / WebSocket-unmask buffer
// owned by the producer. Either way it is valid ONLY during the callback that receives
// it; a consumer that keeps anything copies it. The same holds for `frames`: views of
// the captured frames that carried the message's bytes (the packet being processed, or
// copies the TCP reassembler keeps while a message is incomplete or a segment is held
// out of order), in capture-time order. A TCP segment carrying the end of one message
// and the start of the next belongs to both messages' frames.
#ifndef CALLVAULT_APPLIANCE_SIP_TRANSPORT_H_
#define CALLVAULT_APPLIANCE_SIP_TRANSPORT_H_

#include <cstdint>
#include <span>
#include <string_view>

#include "appliance/common/frame.h"
#include "appliance/common/net_types.h"

namespace callvault::sip {

enum class Transport : uint8_t { kUdp = 0, kTcp, kWebSocket, kSctp };
std::string_view TransportName(Transport t);

struct TransportMessage {
  std::span<const uint8_t> bytes;  // exactly one SIP message (valid during the callback)
  Transport transport = Transport::kUdp;
  Endpoint src;
  Endpoint dst;
  uint64_t first_ts_ns = 0;  // capture time of the first segment holding its bytes
  uint64_t last_ts_ns = 0;   // capture time of the segment that completed it
  uint32_t segments = 1;     // TCP segments that contributed (1 for UDP/SCTP)
  // Every frame that carried a byte of the message (evidence). For TCP at most
  // TcpReassemblerOptions::max_message_frames (beyond: kTcpEvidenceFrameLimit); full
  // retransmissions are not included. For UDP/SCTP the frame being processed (for an IP-
  // fragmented datagram, the frame that completed it). May be empty in unit tests.
  std::span<const Frame> frames;
};

// Why SIP transport bytes or packets were not turned into messages. Each reason counts
// packets (segments) unless its comment says otherwise.
enum class SipTransportDrop : uint8_t {
  kTcpTableFull = 0,      // new TCP stream but the connection table is full (segment)
  kTcpBufferOverflow,     // a stream's pending bytes exceeded tcp_max_buffer (event)
  kTcpOutOfWindow,        // out-of-order segment beyond the hold window / slots (segment)
  kTcpGapNeverFilled,     // a hole in the stream timed out; bytes skipped (event)
  kTcpRetransmission,     // segment entirely already seen; ignored (segment, not a loss)
  kTcpResyncSkipped,      // non-SIP bytes skipped while hunting for a start line (segment)
  kTcpFramingError,       // Content-Length bad or message over max_message_bytes (event)
  kTcpClosedWithPartial,  // FIN/RST/idle with an incomplete message pending (event)
  kTcpNotSip,             // stream carries another protocol (HTTP without upgrade ...)
  kSipOverTls,            // TLS record on a SIP connection: cannot be read passively
  kWebSocketFragmented,   // fragmented WebSocket message (not reassembled)
  kWebSocketBadFrame,     // reserved opcode / oversize frame
  kSctpNotSip,            // SCTP DATA chunk whose payload is not a SIP message
  kSctpFragmented,        // SCTP fragment out of sequence / abandoned / over limit
  kSctpBadChunk,          // truncated or malformed SCTP chunk
  // A TCP segment whose bytes belong to an incomplete message but whose frame could not
  // be kept as evidence: the message already holds max_message_frames frames or
  // max_frame_log_bytes of them. The message is still parsed; this frame is missing
  // from its stored SIP evidence (segment).
  kTcpEvidenceFrameLimit,
  kCount
};
std::string_view DropName(SipTransportDrop reason);

}  // namespace callvault::sip

#endif  // CALLVAULT_APPLIANCE_SIP_TRANSPORT_H_
