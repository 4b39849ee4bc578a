// CallKeys: the SRTP keys of a call's legs, re-read at export time from the call's
// stored SIP frames (SDES, RFC 4568: the keys travel in the SDP, so a recording whose SIP
// was captured in clear holds them — sealed in the store like every frame).
//
// Input: the call's SIP frames in capture order (AddSipFrame; UDP, fragmented UDP, and
// TCP segments framed by Content-Length), and the call's SIP Call-IDs in dialog order
// (CallRecord::sip_call_ids: dialog index i is the i-th Call-ID, as DialogTracker numbers
// them). Output: per leg, the cryptos its SENDER announced, with the capture time of each
// SDP. A leg's number says who sent it (appliance/media/media_engine.h: dialog * 32 +
// m-line * 2 + sending side), and RFC 4568 §6.1: the key in a side's a=crypto is the key
// that side SENDS with. Sides: side A sent the dialog's first INVITE (its From tag); a
// request whose From tag is A's was sent by A, a response to it by B, and the reverse.
// Also per leg: whether its sender negotiated DTLS-SRTP (UDP/TLS/RTP/SAVP, a=fingerprint)
// or ZRTP (a=zrtp-hash) — keys that never appear in SIP — for the export's message.
// SIP over TLS is never recorded in clear (the capture path counts it), so such calls
// have no SDP at all here.
// Control path (export); allocates; key bytes are wiped when the object dies.
#ifndef CALLVAULT_APPLIANCE_EXPORT_CALL_KEYS_H_
#define CALLVAULT_APPLIANCE_EXPORT_CALL_KEYS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "appliance/common/frame_record.h"
#include "appliance/export/sdes_crypto.h"

namespace callvault::exporter {

struct AnnouncedCrypto {
  uint64_t ts_ns = 0;  // capture time of the SDP
  SdesCrypto crypto;
};

struct LegKeys {
  std::vector<AnnouncedCrypto> cryptos;  // capture order
  bool dtls = false;                     // sender negotiated DTLS-SRTP
  bool zrtp = false;                     // sender announced ZRTP
  bool sdp_seen = false;                 // the sender's SDP for this m-line was seen
};

class CallKeys {
 public:
  explicit CallKeys(std::vector<std::string> sip_call_ids);
  ~CallKeys();
  CallKeys(const CallKeys&) = delete;
  CallKeys& operator=(const CallKeys&) = delete;

  void AddSipFrame(const FrameRecordView& frame);
  // Keys for leg number `leg` (empty LegKeys when nothing was announced).
  const LegKeys& ForLeg(uint16_t leg) const;

  uint64_t messages() const { return messages_; }
  uint64_t sdp_messages() const { return sdp_messages_; }
  uint64_t malformed_crypto() const { return malformed_crypto_; }

 private:
  struct Impl;
  void OnMessage(std::span<const uint8_t> bytes, uint64_t ts_ns);
  std::vector<std::string> call_ids_;
  std::map<std::string, std::string> side_a_tag_;  // Call-ID -> side A's From tag
  std::map<uint16_t, LegKeys> legs_;
  std::unique_ptr<Impl> impl_;
  uint64_t messages_ = 0, sdp_messages_ = 0, malformed_crypto_ = 0;
};

}  // namespace callvault::exporter

#endif  // CALLVAULT_APPLIANCE_EXPORT_CALL_KEYS_H_
