// SDES keys (RFC 4568): the a=crypto attribute of an SDP media section, keys included.
//
// Input: the value of one a=crypto attribute (after "crypto:"), a view into SDP text that
// export re-reads from the call's stored SIP frames (sip::SdpParser drops keys on purpose:
// the capture path never keeps key material outside sealed blocks).
// Output: SdesCrypto, owning its bytes. Key material is plaintext in memory: export wipes
// it (sodium_memzero) when the object dies. Control path (export); allocates.
//
// Grammar (RFC 4568 §9.1): a=crypto:<tag> <crypto-suite> <key-params> [<session-params>]
//   key-params  = key-param *(";" key-param)                  (several MKIs, §6.1)
//   key-param   = "inline:" base64(master key || master salt) ["|" lifetime] ["|" MKI ":" length]
//   lifetime    = decimal | "2^" decimal                       (packets, §6.1)
//   session-params: UNENCRYPTED_SRTP, UNAUTHENTICATED_SRTP (§6.3.2/6.3.3); KDR=n, FEC_ORDER,
//   WSH are read and ignored (libsrtp has no key derivation rate; a KDR other than 0 makes
//   the crypto unusable, see Usable()).
#ifndef CALLVAULT_APPLIANCE_EXPORT_SDES_CRYPTO_H_
#define CALLVAULT_APPLIANCE_EXPORT_SDES_CRYPTO_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace callvault::exporter {

struct SdesKey {
  std::vector<uint8_t> master;  // master key || master salt
  uint64_t lifetime = 0;        // packets; 0 = not given (suite default, 2^31 / 2^48)
  uint32_t mki = 0;             // MKI value; meaningful when mki_length > 0
  uint8_t mki_length = 0;       // bytes of MKI in each packet (1..128); 0 = no MKI
};

struct SdesCrypto {
  uint32_t tag = 0;
  std::string suite;            // "AES_CM_128_HMAC_SHA1_80", ...
  std::vector<SdesKey> keys;
  bool unencrypted_srtp = false;
  bool unauthenticated_srtp = false;
  uint32_t kdr = 0;             // key derivation rate exponent (0 = derive once)

  SdesCrypto() = default;
  SdesCrypto(const SdesCrypto&) = default;
  SdesCrypto& operator=(const SdesCrypto&) = default;
  ~SdesCrypto();
};

// Master key || salt length of a suite (RFC 4568 §6.2, RFC 6188 §7, RFC 7714 §12);
// 0 = a suite export cannot decrypt (F8_128_HMAC_SHA1_80, unknown names).
std::size_t SuiteKeySaltBytes(std::string_view suite);

// Parses one a=crypto value. Returns false (and *out unspecified) when the tag, suite or
// every key-param is malformed; a key of the wrong length for a known suite is an error.
bool ParseCryptoAttribute(std::string_view value, SdesCrypto* out);

}  // namespace callvault::exporter

#endif  // CALLVAULT_APPLIANCE_EXPORT_SDES_CRYPTO_H_
