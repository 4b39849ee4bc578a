#include "appliance/export/sdes_crypto.h"

#include <sodium.h>

#include <charconv>

namespace callvault::exporter {
namespace {

struct SuiteInfo {
  std::string_view name;
  std::size_t key_salt;
};
// RFC 4568 §6.2 (AES_CM_128), RFC 6188 §7 (AES_192/256_CM), RFC 7714 §12 (AEAD GCM:
// 96-bit salt).
constexpr SuiteInfo kSuites[] = {
    {"AES_CM_128_HMAC_SHA1_80", 30}, {"AES_CM_128_HMAC_SHA1_32", 30},
    {"AES_192_CM_HMAC_SHA1_80", 38}, {"AES_192_CM_HMAC_SHA1_32", 38},
    {"AES_256_CM_HMAC_SHA1_80", 46}, {"AES_256_CM_HMAC_SHA1_32", 46},
    {"AEAD_AES_128_GCM", 28},        {"AEAD_AES_256_GCM", 44},
};

std::string_view Token(std::string_view* s) {
  std::size_t b = s->find_first_not_of(" \t");
  if (b == std::string_view::npos) {
    *s = {};
    return {};
  }
  std::size_t e = s->find_first_of(" \t", b);
  std::string_view t = s->substr(b, e == std::string_view::npos ? std::string_view::npos : e - b);
  *s = e == std::string_view::npos ? std::string_view() : s->substr(e);
  return t;
}

template <typename T>
bool Number(std::string_view s, T* out) {
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

bool Base64(std::string_view text, std::vector<uint8_t>* out) {
  out->assign(text.size(), 0);
  std::size_t n = 0;
  for (int variant : {sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING}) {
    if (sodium_base642bin(out->data(), out->size(), text.data(), text.size(), nullptr, &n,
                          nullptr, variant) == 0) {
      out->resize(n);
      return true;
    }
  }
  return false;
}

// "inline:<key||salt>[|lifetime][|MKI:length]" (RFC 4568 §6.1).
bool ParseKeyParam(std::string_view kp, SdesKey* key) {
  constexpr std::string_view kInline = "inline:";
  if (kp.size() < kInline.size()) return false;
  for (std::size_t i = 0; i < kInline.size(); ++i) {
    if ((kp[i] | 0x20) != kInline[i] && kp[i] != kInline[i]) return false;
  }
  kp.remove_prefix(kInline.size());
  std::size_t bar = kp.find('|');
  if (!Base64(kp.substr(0, bar), &key->master) || key->master.empty()) return false;
  while (bar != std::string_view::npos) {
    kp.remove_prefix(bar + 1);
    bar = kp.find('|');
    std::string_view f = kp.substr(0, bar);
    if (std::size_t colon = f.find(':'); colon != std::string_view::npos) {
      uint32_t len = 0;
      if (!Number(f.substr(0, colon), &key->mki) || !Number(f.substr(colon + 1), &len) ||
          len == 0 || len > 128) {
        return false;
      }
      key->mki_length = uint8_t(len);
    } else if (f.starts_with("2^")) {
      uint32_t e = 0;
      if (!Number(f.substr(2), &e) || e > 63) return false;
      key->lifetime = uint64_t(1) << e;
    } else if (!Number(f, &key->lifetime)) {
      return false;
    }
  }
  return true;
}

}  // namespace

SdesCrypto::~SdesCrypto() {
  for (SdesKey& k : keys) sodium_memzero(k.master.data(), k.master.size());
}

std::size_t SuiteKeySaltBytes(std::string_view suite) {
  for (const SuiteInfo& s : kSuites) {
    if (s.name == suite) return s.key_salt;
  }
  return 0;
}

bool ParseCryptoAttribute(std::string_view value, SdesCrypto* out) {
  *out = SdesCrypto();
  std::string_view rest = value;
  while (!rest.empty() && (rest.back() == '\r' || rest.back() == '\n')) rest.remove_suffix(1);
  if (!Number(Token(&rest), &out->tag)) return false;
  out->suite = std::string(Token(&rest));
  if (out->suite.empty()) return false;
  std::string_view kps = Token(&rest);
  std::size_t want = SuiteKeySaltBytes(out->suite);
  while (!kps.empty()) {
    std::size_t semi = kps.find(';');
    SdesKey k;
    if (!ParseKeyParam(kps.substr(0, semi), &k)) return false;
    if (want != 0 && k.master.size() != want) {
      sodium_memzero(k.master.data(), k.master.size());
      return false;
    }
    out->keys.push_back(std::move(k));
    kps = semi == std::string_view::npos ? std::string_view() : kps.substr(semi + 1);
  }
  if (out->keys.empty()) return false;
  for (std::string_view p = Token(&rest); !p.empty(); p = Token(&rest)) {
    if (p == "UNENCRYPTED_SRTP") {
      out->unencrypted_srtp = true;
    } else if (p == "UNAUTHENTICATED_SRTP") {
      out->unauthenticated_srtp = true;
    } else if (p.starts_with("KDR=")) {
      if (!Number(p.substr(4), &out->kdr)) return false;
    }
  }
  return true;
}

}  // namespace callvault::exporter
