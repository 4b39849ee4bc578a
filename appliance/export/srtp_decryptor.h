// SrtpDecryptor: turns one leg's SRTP packets back into RTP at export time (RFC 3711),
// with the SDES keys (RFC 4568) that the leg's SENDER announced in its SDP.
//
// Input: the candidate cryptos of the leg, in the order their SDP was captured (each
// offer/answer, re-INVITE or UPDATE may bring new keys), then the leg's SRTP packets
// (UDP payloads) in capture order. Output: the plain RTP packet, or why not.
// Keys: a context per candidate (libsrtp2, created on first use). A packet is tried with
// the current context first; when its authentication fails, with the other candidates —
// the newest SDP first, as a re-INVITE moves to new keys while packets under the old ones
// are still in flight — and the first that authenticates becomes current. So a packet
// that authenticates under no key (wrong key, tampered, truncated) is reported
// kAuthFailed and never becomes audio. MKI (RFC 3711 §3.1) picks the master key of a
// multi-key crypto; the lifetime is parsed but not enforced (the sender enforces it;
// a recording decrypts what was sent). SRTCP is not decrypted (audio export ignores RTCP).
// Suites: AES_CM_128_HMAC_SHA1_80/_32, AES_192/256_CM_HMAC_SHA1_80/_32 (RFC 6188),
// AEAD_AES_128/256_GCM (RFC 7714); F8 and unknown suites are listed by unsupported().
// Replay window 4096 packets, so reordering and late packets decrypt; a duplicate of a
// packet already decrypted is kReplay. Control path (export); allocates; not thread-safe.
#ifndef CALLVAULT_APPLIANCE_EXPORT_SRTP_DECRYPTOR_H_
#define CALLVAULT_APPLIANCE_EXPORT_SRTP_DECRYPTOR_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "appliance/export/sdes_crypto.h"

namespace callvault::exporter {

enum class SrtpResult : uint8_t { kOk = 0, kAuthFailed, kReplay, kNoKey };

class SrtpDecryptor {
 public:
  SrtpDecryptor();
  ~SrtpDecryptor();
  SrtpDecryptor(const SrtpDecryptor&) = delete;
  SrtpDecryptor& operator=(const SrtpDecryptor&) = delete;

  // A crypto announced by the sender at capture time `sdp_ts_ns`. The same key announced
  // again (every re-INVITE repeats it) is kept once. Unsupported suites are remembered
  // for unsupported() and otherwise ignored.
  void AddCandidate(uint64_t sdp_ts_ns, const SdesCrypto& crypto);
  bool has_keys() const { return !cands_.empty(); }
  const std::vector<std::string>& unsupported() const { return unsupported_; }

  // Decrypts and authenticates one SRTP packet captured at `ts_ns` into *out.
  SrtpResult Unprotect(uint64_t ts_ns, std::span<const uint8_t> packet, std::vector<uint8_t>* out);

  uint64_t key_switches() const { return switches_; }

 private:
  struct Candidate;
  bool Try(Candidate& c, std::span<const uint8_t> packet, std::vector<uint8_t>* out,
           SrtpResult* result);
  std::vector<std::unique_ptr<Candidate>> cands_;
  std::vector<std::string> unsupported_;
  int current_ = -1;
  uint64_t switches_ = 0;
};

}  // namespace callvault::exporter

#endif  // CALLVAULT_APPLIANCE_EXPORT_SRTP_DECRYPTOR_H_
