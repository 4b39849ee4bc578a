// MediaSession: what signalling tells media about one dialog's RTP, so that media can
// match RTP/RTCP packets to a call and a side.
//
// Producer: DialogTracker (appliance/calls/dialog_tracker.h), on the thread that runs SIP.
// It publishes a new MediaSession through CallEventSink::OnMediaChanged() every time an
// offer or an answer (RFC 3264) of the dialog carries SDP: the initial INVITE (offer),
// 18x with SDP (early media, RFC 3960), 2xx, re-INVITE / UPDATE (RFC 3311) for hold,
// resume, codec switch or new addresses, and PRACK/ACK when they carry the SDP.
// Consumer: media. Each publication REPLACES the previous one for the same
// (call_id, dialog) pair: endpoints no longer announced are no longer expected (but
// media keeps matching them for MediaConfig.grace_ms, since RTP lags signalling).
// When the dialog ends, one last publication has `ended = true`.
//
// Sides: side[0] (kSideA) is the party that sent the dialog's initial INVITE, side[1]
// (kSideB) the party that answered it. `agent_side` says which of the two is the
// contact-centre agent (AgentSide rules, appliance/calls/agent_directory.h) or -1 when
// unknown; media maps that onto LegDirection: traffic sent by the agent side is
// kAgentToCaller, by the other side kCallerToAgent, and kAToB / kBToA when unknown.
//
// Endpoints: each MediaStream gives the address where THAT side wants to RECEIVE RTP
// (c= + m= port) and RTCP (a=rtcp, port+1, or the RTP port with rtcp-mux). So RTP sent
// by side A goes to side[1].streams[i].rtp, and comes from (usually, symmetric RTP)
// side[0].streams[i].rtp. `signalling_ip` is the IP address the side's SIP came from: a
// NAT hint when SDP announces a private address. A port of 0 means the stream is
// rejected or disabled (RFC 3264 §6, §8.2) and carries no media. Streams are kept in
// m= line order; the same index on both sides is the same stream (RFC 3264 §6).
// A side that has not sent SDP yet has `announced = false` and no streams.
//
// Ownership: plain values; the sink copies what it keeps. Thread: produced and delivered
// on the signalling thread; publishing it to RTP workers (lock-free table) is media's job.
#ifndef CALLVAULT_APPLIANCE_CALLS_MEDIA_SESSION_H_
#define CALLVAULT_APPLIANCE_CALLS_MEDIA_SESSION_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "appliance/common/call_id.h"
#include "appliance/common/net_types.h"

namespace callvault::calls {

inline constexpr int kSideA = 0;  // sent the dialog's initial INVITE (the caller of the dialog)
inline constexpr int kSideB = 1;  // answered it

// Stream direction as announced by its side (RFC 3264 §5.1). kSendOnly/kInactive, or the
// c=0.0.0.0 form, mean the side put the call on hold (RFC 3264 §8.4).
enum class StreamDirection : uint8_t { kSendRecv = 0, kSendOnly, kRecvOnly, kInactive };
std::string_view StreamDirectionName(StreamDirection d);

// One RTP payload type of an m= line: a=rtpmap or the RFC 3551 static table.
struct PayloadType {
  uint8_t pt = 0;           // 0..127
  std::string encoding;     // "PCMU", "PCMA", "G722", "G729", "opus", "telephone-event", "CN"
  uint32_t clock_rate = 0;  // Hz (RTP clock: 8000 for G.722, RFC 3551 §4.5.2)
  uint8_t channels = 1;
};

enum class MediaKind : uint8_t { kAudio = 0, kVideo, kImage, kOther };  // m= media type

struct MediaStream {
  uint8_t index = 0;            // m= line index in the SDP (0-based)
  MediaKind kind = MediaKind::kAudio;
  bool rtp_based = true;        // RTP/AVP(F), RTP/SAVP(F), UDP/TLS/RTP/...; false: udptl...
  Endpoint rtp;                 // where this side receives RTP; port 0 = rejected/disabled
  Endpoint rtcp;                // where this side receives RTCP (== rtp with rtcp_mux)
  bool rtcp_mux = false;        // RFC 5761
  StreamDirection direction = StreamDirection::kSendRecv;
  bool hold_zero_address = false;  // c=0.0.0.0 (RFC 3264 §8.4 legacy hold)
  bool srtp = false;            // RTP/SAVP(F), a=crypto (RFC 4568) or DTLS-SRTP: encrypted
  bool zrtp = false;            // a=zrtp-hash (RFC 6189): may become encrypted mid-call
  std::vector<PayloadType> payload_types;  // m= order (the first is preferred)

  bool rejected() const { return rtp.port == 0; }
  bool on_hold() const {
    return direction == StreamDirection::kSendOnly ||
           direction == StreamDirection::kInactive || hold_zero_address;
  }
  // Payload type `pt` in this stream's map, nullptr if not announced.
  const PayloadType* Find(uint8_t pt) const {
    for (const PayloadType& p : payload_types) {
      if (p.pt == pt) return &p;
    }
    return nullptr;
  }
};

struct SideMedia {
  bool announced = false;       // this side has sent SDP in this dialog
  IpAddress signalling_ip;      // source IP of this side's last SIP message with SDP
  uint64_t sdp_ts_ns = 0;       // capture time of that message
  std::vector<MediaStream> streams;
};

struct MediaSession {
  CallId call_id;               // the callvault call this dialog belongs to
  uint16_t dialog = 0;          // dialog index within the call (0 = first; B2BUA/REFER add)
  uint32_t version = 0;         // increases with every publication for this dialog
  uint64_t ts_ns = 0;           // capture time of the SIP message that caused it
  int agent_side = -1;          // kSideA, kSideB, or -1 = unknown
  bool ended = false;           // dialog over: stop expecting media after the grace time
  int answer_side = -1;         // side whose SDP was the latest answer (RFC 3264), -1 none yet
  std::array<SideMedia, 2> side;

  // The codec currently in use: the latest answer's first non-CN, non-DTMF payload type
  // of the first active audio stream (RFC 3264 §6.1: the answer's order is the one
  // used), "" if no answer yet.
  std::string NegotiatedCodec() const;
  // Either side holds (sendonly/inactive/0.0.0.0 on every non-rejected audio stream).
  bool OnHold() const;
};

}  // namespace callvault::calls

#endif  // CALLVAULT_APPLIANCE_CALLS_MEDIA_SESSION_H_
