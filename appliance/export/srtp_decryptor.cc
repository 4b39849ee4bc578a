#include "appliance/export/srtp_decryptor.h"

#include <sodium.h>
#include <srtp2/crypto_types.h>
#include <srtp2/srtp.h>

#include <algorithm>
#include <cstring>
#include <mutex>

namespace callvault::exporter {
namespace {

// srtp_init() reports an error when another part of the process initialised libsrtp
// first; srtp_create() below fails if the library is really unusable.
bool InitLibSrtp() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (srtp_init() != srtp_err_status_ok) {
      // Already initialised (e.g. by a test's own sender): fine.
    }
  });
  return true;
}

// RFC 4568 §6.2, RFC 6188, RFC 7714 suite names -> libsrtp2 crypto policy.
bool SetPolicy(const std::string& suite, srtp_crypto_policy_t* p) {
  if (suite == "AES_CM_128_HMAC_SHA1_80") {
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(p);
  } else if (suite == "AES_CM_128_HMAC_SHA1_32") {
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(p);
  } else if (suite == "AES_192_CM_HMAC_SHA1_80") {
    srtp_crypto_policy_set_aes_cm_192_hmac_sha1_80(p);
  } else if (suite == "AES_192_CM_HMAC_SHA1_32") {
    srtp_crypto_policy_set_aes_cm_192_hmac_sha1_32(p);
  } else if (suite == "AES_256_CM_HMAC_SHA1_80") {
    srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(p);
  } else if (suite == "AES_256_CM_HMAC_SHA1_32") {
    srtp_crypto_policy_set_aes_cm_256_hmac_sha1_32(p);
  } else if (suite == "AEAD_AES_128_GCM") {
    srtp_crypto_policy_set_aes_gcm_128_16_auth(p);
  } else if (suite == "AEAD_AES_256_GCM") {
    srtp_crypto_policy_set_aes_gcm_256_16_auth(p);
  } else {
    return false;
  }
  return true;
}

}  // namespace

struct SrtpDecryptor::Candidate {
  uint64_t sdp_ts_ns = 0;
  SdesCrypto crypto;
  bool use_mki = false;
  bool failed = false;  // libsrtp refused the policy
  srtp_t ctx = nullptr;

  ~Candidate() {
    if (ctx != nullptr) srtp_dealloc(ctx);
  }

  bool Open() {
    if (ctx != nullptr) return true;
    if (failed || !InitLibSrtp()) return false;
    srtp_policy_t pol;
    std::memset(&pol, 0, sizeof pol);
    if (!SetPolicy(crypto.suite, &pol.rtp) || !SetPolicy(crypto.suite, &pol.rtcp)) {
      failed = true;
      return false;
    }
    if (crypto.unencrypted_srtp) pol.rtp.sec_serv = sec_serv_auth;
    if (crypto.unauthenticated_srtp) {
      pol.rtp.sec_serv = crypto.unencrypted_srtp ? sec_serv_none : sec_serv_conf;
      pol.rtp.auth_type = SRTP_NULL_AUTH;
      pol.rtp.auth_key_len = 0;
      pol.rtp.auth_tag_len = 0;
    }
    pol.ssrc.type = ssrc_any_inbound;
    pol.window_size = 4096;  // libsrtp2 accepts 64 .. 0x7fff
    pol.allow_repeat_tx = 0;
    std::vector<srtp_master_key_t> keys(crypto.keys.size());
    std::vector<srtp_master_key_t*> key_ptrs;
    std::vector<std::vector<uint8_t>> mki_bytes(crypto.keys.size());
    use_mki = crypto.keys.size() > 1 || crypto.keys[0].mki_length > 0;
    if (use_mki) {
      for (std::size_t i = 0; i < crypto.keys.size(); ++i) {
        const SdesKey& k = crypto.keys[i];
        if (k.mki_length == 0 || k.mki_length != crypto.keys[0].mki_length) {
          failed = true;  // RFC 4568 §6.1: with several keys every one carries an MKI
          return false;
        }
        mki_bytes[i].assign(k.mki_length, 0);
        for (int b = 0; b < k.mki_length && b < 4; ++b) {  // big-endian value (§6.1)
          mki_bytes[i][k.mki_length - 1 - b] = uint8_t(k.mki >> (8 * b));
        }
        keys[i].key = const_cast<unsigned char*>(k.master.data());
        keys[i].mki_id = mki_bytes[i].data();
        keys[i].mki_size = k.mki_length;
        key_ptrs.push_back(&keys[i]);
      }
      pol.keys = key_ptrs.data();
      pol.num_master_keys = key_ptrs.size();
    } else {
      pol.key = const_cast<unsigned char*>(crypto.keys[0].master.data());
    }
    if (srtp_create(&ctx, &pol) != srtp_err_status_ok) {
      ctx = nullptr;
      failed = true;
      return false;
    }
    return true;
  }
};

SrtpDecryptor::SrtpDecryptor() = default;
SrtpDecryptor::~SrtpDecryptor() = default;

void SrtpDecryptor::AddCandidate(uint64_t sdp_ts_ns, const SdesCrypto& crypto) {
  if (SuiteKeySaltBytes(crypto.suite) == 0 || crypto.keys.empty()) {
    if (std::find(unsupported_.begin(), unsupported_.end(), crypto.suite) == unsupported_.end()) {
      unsupported_.push_back(crypto.suite);
    }
    return;
  }
  for (const auto& c : cands_) {
    if (c->crypto.suite != crypto.suite || c->crypto.keys.size() != crypto.keys.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < crypto.keys.size() && same; ++i) {
      same = c->crypto.keys[i].master == crypto.keys[i].master &&
             c->crypto.keys[i].mki == crypto.keys[i].mki &&
             c->crypto.keys[i].mki_length == crypto.keys[i].mki_length;
    }
    if (same) return;
  }
  auto c = std::make_unique<Candidate>();
  c->sdp_ts_ns = sdp_ts_ns;
  c->crypto = crypto;
  cands_.push_back(std::move(c));
}

bool SrtpDecryptor::Try(Candidate& c, std::span<const uint8_t> packet, std::vector<uint8_t>* out,
                        SrtpResult* result) {
  if (!c.Open()) return false;
  out->assign(packet.begin(), packet.end());
  out->resize(packet.size() + SRTP_MAX_TRAILER_LEN);
  int len = int(packet.size());
  srtp_err_status_t e = srtp_unprotect_mki(c.ctx, out->data(), &len, c.use_mki ? 1 : 0);
  if (e == srtp_err_status_ok) {
    out->resize(std::size_t(len));
    *result = SrtpResult::kOk;
    return true;
  }
  sodium_memzero(out->data(), out->size());
  out->clear();
  if (e == srtp_err_status_replay_fail || e == srtp_err_status_replay_old) {
    *result = SrtpResult::kReplay;
    return true;
  }
  return false;
}

SrtpResult SrtpDecryptor::Unprotect(uint64_t ts_ns, std::span<const uint8_t> packet,
                                    std::vector<uint8_t>* out) {
  if (cands_.empty()) return SrtpResult::kNoKey;
  SrtpResult r = SrtpResult::kAuthFailed;
  if (current_ >= 0 && Try(*cands_[std::size_t(current_)], packet, out, &r)) return r;
  // Newest announcement first (a re-INVITE's new key), skipping keys announced more than
  // a second after this packet (they cannot have been in use yet; the slack absorbs SIP
  // captured on another path than RTP), then the older ones.
  std::vector<int> order;
  for (int i = int(cands_.size()) - 1; i >= 0; --i) {
    if (i != current_ && cands_[std::size_t(i)]->sdp_ts_ns <= ts_ns + 1000000000ull) {
      order.push_back(i);
    }
  }
  for (int i : order) {
    if (Try(*cands_[std::size_t(i)], packet, out, &r)) {
      if (r == SrtpResult::kOk) {
        if (current_ >= 0) ++switches_;
        current_ = i;
      }
      return r;
    }
  }
  return SrtpResult::kAuthFailed;
}

}  // namespace callvault::exporter
