// SDES parsing (RFC 4568), SRTP decryption at export (RFC 3711 via libsrtp2), and the
// keys of a call re-read from its SIP frames. SRTP packets are produced here with
// libsrtp2's own srtp_protect() under keys the test chooses, so the expected plaintext
// is the test's own construction.
#include <gtest/gtest.h>
#include <sodium.h>
#include <srtp2/srtp.h>

#include <string>

#include <fmt/format.h>
#include <vector>

#include "appliance/export/call_keys.h"
#include "appliance/export/sdes_crypto.h"
#include "appliance/export/srtp_decryptor.h"
#include "appliance/media/test_util.h"

namespace callvault::exporter {
namespace {

using media::testing::Ep;
using media::testing::RtpBytes;
using media::testing::TestPacket;

std::string B64(const std::vector<uint8_t>& key) {
  std::string out(sodium_base64_ENCODED_LEN(key.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), key.data(), key.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

std::vector<uint8_t> Key(std::size_t n, uint8_t seed) {
  std::vector<uint8_t> k(n);
  for (std::size_t i = 0; i < n; ++i) k[i] = uint8_t(seed + i * 7);
  return k;
}

// A sender: libsrtp2 protect with the given suite and master key (+ optional MKI).
class Sender {
 public:
  Sender(const std::string& suite, const std::vector<uint8_t>& key, int mki_len = 0,
         uint32_t mki = 0)
      : key_(key) {
    srtp_init();
    srtp_policy_t p{};
    if (suite == "AES_CM_128_HMAC_SHA1_80") srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtp);
    if (suite == "AES_CM_128_HMAC_SHA1_32") srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&p.rtp);
    if (suite == "AES_256_CM_HMAC_SHA1_80") srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(&p.rtp);
    if (suite == "AEAD_AES_128_GCM") srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtp);
    if (suite == "AEAD_AES_256_GCM") srtp_crypto_policy_set_aes_gcm_256_16_auth(&p.rtp);
    p.rtcp = p.rtp;
    p.ssrc.type = ssrc_any_outbound;
    srtp_master_key_t mk{};
    srtp_master_key_t* mks[1] = {&mk};
    mki_.assign(std::size_t(mki_len), 0);
    for (int b = 0; b < mki_len && b < 4; ++b) mki_[std::size_t(mki_len - 1 - b)] = uint8_t(mki >> (8 * b));
    if (mki_len > 0) {
      mk.key = key_.data();
      mk.mki_id = mki_.data();
      mk.mki_size = unsigned(mki_len);
      p.keys = mks;
      p.num_master_keys = 1;
    } else {
      p.key = key_.data();
    }
    EXPECT_EQ(srtp_create(&ctx_, &p), srtp_err_status_ok);
    use_mki_ = mki_len > 0;
  }
  ~Sender() { srtp_dealloc(ctx_); }
  std::vector<uint8_t> Protect(std::vector<uint8_t> rtp) {
    int len = int(rtp.size());
    rtp.resize(rtp.size() + SRTP_MAX_TRAILER_LEN);
    EXPECT_EQ(srtp_protect_mki(ctx_, rtp.data(), &len, use_mki_ ? 1 : 0, 0), srtp_err_status_ok);
    rtp.resize(std::size_t(len));
    return rtp;
  }

 private:
  std::vector<uint8_t> key_, mki_;
  srtp_t ctx_ = nullptr;
  bool use_mki_ = false;
};

std::vector<uint8_t> Payload(int i) {
  std::vector<uint8_t> p(160);
  for (int k = 0; k < 160; ++k) p[std::size_t(k)] = uint8_t(i * 3 + k);
  return p;
}

SdesCrypto Crypto(const std::string& line) {
  SdesCrypto c;
  EXPECT_TRUE(ParseCryptoAttribute(line, &c)) << line;
  return c;
}

TEST(SdesCrypto, ParsesRfc4568Example) {
  // RFC 4568 §9.1 example key-params, with lifetime and MKI.
  SdesCrypto c;
  ASSERT_TRUE(ParseCryptoAttribute(
      "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4", &c));
  EXPECT_EQ(c.tag, 1u);
  EXPECT_EQ(c.suite, "AES_CM_128_HMAC_SHA1_80");
  ASSERT_EQ(c.keys.size(), 1u);
  EXPECT_EQ(c.keys[0].master.size(), 30u);
  EXPECT_EQ(c.keys[0].master[0], 0x3d);  // 'PS1u' -> 3d 2d 6e
  EXPECT_EQ(c.keys[0].master[1], 0x2d);
  EXPECT_EQ(c.keys[0].lifetime, uint64_t(1) << 20);
  EXPECT_EQ(c.keys[0].mki, 1u);
  EXPECT_EQ(c.keys[0].mki_length, 4);
  // Two keys (MKI 1 and 2), decimal lifetime, session parameters.
  std::string k1 = B64(Key(30, 1)), k2 = B64(Key(30, 2));
  ASSERT_TRUE(ParseCryptoAttribute(
      "7 AES_CM_128_HMAC_SHA1_32 inline:" + k1 + "|1048576|1:1;inline:" + k2 +
          "|2:1 UNENCRYPTED_SRTP KDR=0\r",
      &c));
  EXPECT_EQ(c.tag, 7u);
  ASSERT_EQ(c.keys.size(), 2u);
  EXPECT_EQ(c.keys[0].lifetime, 1048576u);
  EXPECT_EQ(c.keys[1].mki, 2u);
  EXPECT_EQ(c.keys[1].master, Key(30, 2));
  EXPECT_TRUE(c.unencrypted_srtp);
}

TEST(SdesCrypto, RejectsMalformed) {
  SdesCrypto c;
  std::string k = B64(Key(30, 1));
  EXPECT_FALSE(ParseCryptoAttribute("", &c));
  EXPECT_FALSE(ParseCryptoAttribute("x AES_CM_128_HMAC_SHA1_80 inline:" + k, &c));  // tag
  EXPECT_FALSE(ParseCryptoAttribute("1 AES_CM_128_HMAC_SHA1_80", &c));             // no key
  EXPECT_FALSE(ParseCryptoAttribute("1 AES_CM_128_HMAC_SHA1_80 uri:" + k, &c));
  EXPECT_FALSE(ParseCryptoAttribute("1 AES_CM_128_HMAC_SHA1_80 inline:@@@@", &c));
  // A 256-bit suite with a 128-bit key: wrong length.
  EXPECT_FALSE(ParseCryptoAttribute("1 AES_256_CM_HMAC_SHA1_80 inline:" + k, &c));
  EXPECT_FALSE(ParseCryptoAttribute("1 AES_CM_128_HMAC_SHA1_80 inline:" + k + "|1:0", &c));
  EXPECT_FALSE(ParseCryptoAttribute("1 AES_CM_128_HMAC_SHA1_80 inline:" + k + "|2^99", &c));
  // Truncated base64.
  EXPECT_FALSE(ParseCryptoAttribute("1 AES_CM_128_HMAC_SHA1_80 inline:" + k.substr(0, 20), &c));
}

struct SuiteCase {
  const char* suite;
  std::size_t key_bytes;
};

class SrtpSuites : public ::testing::TestWithParam<SuiteCase> {};

TEST_P(SrtpSuites, DecryptsWhatLibsrtpProtectedAndRejectsTampering) {
  const SuiteCase& sc = GetParam();
  std::vector<uint8_t> key = Key(sc.key_bytes, 9);
  Sender tx(sc.suite, key);
  SrtpDecryptor d;
  d.AddCandidate(0, Crypto(fmt::format("1 {} inline:{}", sc.suite, B64(key))));
  ASSERT_TRUE(d.has_keys());
  std::vector<uint8_t> out;
  for (int i = 0; i < 50; ++i) {
    std::vector<uint8_t> rtp = RtpBytes(uint16_t(65500 + i), 160u * uint32_t(i), 0xabc, 0, Payload(i));
    std::vector<uint8_t> srtp = tx.Protect(rtp);
    ASSERT_NE(std::vector<uint8_t>(srtp.begin(), srtp.begin() + long(rtp.size())), rtp);
    if (i == 20) {  // tampered on the wire: one payload bit
      std::vector<uint8_t> bad = srtp;
      bad[30] ^= 1;
      EXPECT_EQ(d.Unprotect(uint64_t(i), bad, &out), SrtpResult::kAuthFailed);
      EXPECT_TRUE(out.empty());
    }
    ASSERT_EQ(d.Unprotect(uint64_t(i), srtp, &out), SrtpResult::kOk) << i;
    EXPECT_EQ(out, rtp) << i;  // across the sequence-number wrap (ROC 0 -> 1)
    if (i == 30) {  // a SPAN duplicate
      EXPECT_EQ(d.Unprotect(uint64_t(i), srtp, &out), SrtpResult::kReplay);
    }
  }
  // Truncated packet: no tag.
  std::vector<uint8_t> srtp = tx.Protect(RtpBytes(100, 0, 0xabc, 0, Payload(1)));
  srtp.resize(14);
  EXPECT_EQ(d.Unprotect(0, srtp, &out), SrtpResult::kAuthFailed);
}

INSTANTIATE_TEST_SUITE_P(Suites, SrtpSuites,
                         ::testing::Values(SuiteCase{"AES_CM_128_HMAC_SHA1_80", 30},
                                           SuiteCase{"AES_CM_128_HMAC_SHA1_32", 30},
                                           SuiteCase{"AES_256_CM_HMAC_SHA1_80", 46},
                                           SuiteCase{"AEAD_AES_128_GCM", 28},
                                           SuiteCase{"AEAD_AES_256_GCM", 44}));

TEST(SrtpDecryptor, WrongKeyIsAuthFailureNotAudio) {
  Sender tx("AES_CM_128_HMAC_SHA1_80", Key(30, 1));
  SrtpDecryptor d;
  d.AddCandidate(0, Crypto("1 AES_CM_128_HMAC_SHA1_80 inline:" + B64(Key(30, 2))));
  std::vector<uint8_t> out;
  for (int i = 0; i < 5; ++i) {
    auto srtp = tx.Protect(RtpBytes(uint16_t(i), 160u * uint32_t(i), 7, 0, Payload(i)));
    EXPECT_EQ(d.Unprotect(0, srtp, &out), SrtpResult::kAuthFailed);
  }
  SrtpDecryptor none;
  auto srtp = tx.Protect(RtpBytes(9, 0, 7, 0, Payload(0)));
  EXPECT_EQ(none.Unprotect(0, srtp, &out), SrtpResult::kNoKey);
}

TEST(SrtpDecryptor, FollowsReInviteKeyChangeWithPacketsInFlight) {
  std::vector<uint8_t> k1 = Key(30, 1), k2 = Key(30, 2);
  Sender old_tx("AES_CM_128_HMAC_SHA1_80", k1), new_tx("AES_CM_128_HMAC_SHA1_80", k2);
  SrtpDecryptor d;
  d.AddCandidate(1000, Crypto("1 AES_CM_128_HMAC_SHA1_80 inline:" + B64(k1)));
  d.AddCandidate(5000, Crypto("1 AES_CM_128_HMAC_SHA1_80 inline:" + B64(k2)));
  d.AddCandidate(6000, Crypto("1 AES_CM_128_HMAC_SHA1_80 inline:" + B64(k2)));  // repeated
  std::vector<uint8_t> out;
  auto rtp = [](int i) { return RtpBytes(uint16_t(i), 160u * uint32_t(i), 5, 0, Payload(i)); };
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(d.Unprotect(2000, old_tx.Protect(rtp(i)), &out), SrtpResult::kOk);
    EXPECT_EQ(out, rtp(i));
  }
  // New key from packet 10; packet 9's retransmission-free stream: one late old packet.
  ASSERT_EQ(d.Unprotect(5100, new_tx.Protect(rtp(10)), &out), SrtpResult::kOk);
  EXPECT_EQ(out, rtp(10));
  ASSERT_EQ(d.Unprotect(5100, old_tx.Protect(rtp(11)), &out), SrtpResult::kOk);  // in flight
  ASSERT_EQ(d.Unprotect(5200, new_tx.Protect(rtp(12)), &out), SrtpResult::kOk);
  EXPECT_EQ(out, rtp(12));
  EXPECT_GE(d.key_switches(), 2u);
}

TEST(SrtpDecryptor, MkiSelectsTheMasterKey) {
  std::vector<uint8_t> k1 = Key(30, 1), k2 = Key(30, 2);
  Sender tx("AES_CM_128_HMAC_SHA1_80", k2, 2, 0x0102);
  SrtpDecryptor d;
  d.AddCandidate(0, Crypto("1 AES_CM_128_HMAC_SHA1_80 inline:" + B64(k1) + "|2^31|1:2;inline:" +
                           B64(k2) + "|2^31|258:2"));
  std::vector<uint8_t> out;
  auto rtp = RtpBytes(1, 160, 5, 0, Payload(1));
  ASSERT_EQ(d.Unprotect(0, tx.Protect(rtp), &out), SrtpResult::kOk);
  EXPECT_EQ(out, rtp);
}

// The keys of each leg come from its SENDER's SDP: caller's INVITE offer -> leg 0
// (side A sends), agent's 200 answer -> leg 1; a re-INVITE from the agent adds a key to
// leg 1 only; a DTLS-SRTP m-line is flagged.
TEST(CallKeys, KeysFollowTheSenderAndReInvites) {
  const Endpoint a = Ep(0x0a000001, 5060), b = Ep(0x0a000002, 5060);
  std::string ka = B64(Key(30, 1)), kb = B64(Key(30, 2)), kb2 = B64(Key(30, 3));
  auto sip = [](const std::string& start, const std::string& from_tag, const std::string& to_tag,
                const std::string& cseq, const std::string& sdp) {
    std::string m = start + "\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK" + cseq +
                    "\r\nFrom: <sip:a@x>;tag=" + from_tag + "\r\nTo: <sip:b@x>" +
                    (to_tag.empty() ? "" : ";tag=" + to_tag) +
                    "\r\nCall-ID: c1@x\r\nCSeq: " + cseq +
                    "\r\nContent-Type: application/sdp\r\nContent-Length: " +
                    std::to_string(sdp.size()) + "\r\n\r\n" + sdp;
    return std::vector<uint8_t>(m.begin(), m.end());
  };
  auto sdp = [](int port, const std::string& proto, const std::string& attrs) {
    return "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio " +
           std::to_string(port) + " " + proto + " 0\r\n" + attrs;
  };
  std::vector<std::vector<uint8_t>> msgs = {
      sip("INVITE sip:b@x SIP/2.0", "ta", "", "1 INVITE",
          sdp(4000, "RTP/SAVP", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + ka + "\r\n") +
              "m=video 4002 UDP/TLS/RTP/SAVP 96\r\na=fingerprint:sha-256 AB:CD\r\n"),
      sip("SIP/2.0 200 OK", "ta", "tb", "1 INVITE",
          sdp(6000, "RTP/SAVP", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + kb + "\r\n")),
      // Re-INVITE from the agent (From = b's tag, To = a's).
      sip("INVITE sip:a@x SIP/2.0", "tb", "ta", "1 INVITE",
          sdp(6000, "RTP/SAVP", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + kb2 + "\r\n")),
      sip("SIP/2.0 200 OK", "tb", "ta", "1 INVITE",
          sdp(4000, "RTP/SAVP", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" + ka + "\r\n")),
      sip("INVITE sip:b@x SIP/2.0", "zz", "", "1 INVITE",  // another Call-ID? no: same, bad key
          sdp(4000, "RTP/SAVP", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%%%\r\n")),
  };
  CallKeys keys({"c1@x"});
  uint64_t ts = 1000;
  std::vector<std::unique_ptr<TestPacket>> pkts;
  for (const auto& m : msgs) {
    pkts.push_back(std::make_unique<TestPacket>(a, b, m, ts));
    FrameRecordView v{ts, pkts.back()->frame.wirelen, LinkType::kEthernet, pkts.back()->bytes};
    keys.AddSipFrame(v);
    ts += 1000;
  }
  EXPECT_EQ(keys.sdp_messages(), 5u);
  EXPECT_EQ(keys.malformed_crypto(), 1u);
  const LegKeys& leg0 = keys.ForLeg(0);  // caller -> agent, audio
  ASSERT_EQ(leg0.cryptos.size(), 2u);    // the offer and the re-INVITE's answer (same key)
  EXPECT_EQ(leg0.cryptos[0].crypto.keys[0].master, Key(30, 1));
  const LegKeys& leg1 = keys.ForLeg(1);  // agent -> caller
  ASSERT_EQ(leg1.cryptos.size(), 2u);
  EXPECT_EQ(leg1.cryptos[0].crypto.keys[0].master, Key(30, 2));
  EXPECT_EQ(leg1.cryptos[1].crypto.keys[0].master, Key(30, 3));
  EXPECT_EQ(leg1.cryptos[1].ts_ns, 3000u);
  EXPECT_TRUE(keys.ForLeg(2).dtls);  // caller's video m-line
  EXPECT_TRUE(keys.ForLeg(2).cryptos.empty());
  EXPECT_FALSE(keys.ForLeg(5).sdp_seen);
}

}  // namespace
}  // namespace callvault::exporter
