#include "storage/segment/block_codec.h"

#include <sodium.h>

#include <cstring>

#include <fmt/format.h>

#include "appliance/common/status.h"

namespace callvault {
namespace {

template <typename T>
void Put(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof v);
}
template <typename T>
T Get(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

std::string BlockName(const BlockInfo& i) {
  return fmt::format("call {} {} leg {} seq {}", i.call_id.ToString(), StreamKindName(i.kind),
                     i.leg, i.seq);
}

BlockCipher PreferredBlockCipher() {
  return crypto_aead_aes256gcm_is_available() != 0 ? BlockCipher::kAes256Gcm
                                                   : BlockCipher::kXChaCha20Poly1305;
}

const char* BlockCipherName(BlockCipher c) {
  return c == BlockCipher::kAes256Gcm ? "aes256gcm" : "xchacha20poly1305";
}

BlockSealer::BlockSealer(BlockCipher cipher) : BlockSealer(cipher, false) {}

BlockSealer::BlockSealer(BlockCipher cipher, bool force_sodium_aes)
    : cipher_(cipher),
      aes_(force_sodium_aes || cipher != BlockCipher::kAes256Gcm),
      used_(sizeof pool_) {}

void BlockSealer::Nonce(uint8_t* out, std::size_t n) {
  if (sizeof pool_ - used_ < n) {
    randombytes_buf(pool_, sizeof pool_);
    used_ = 0;
  }
  std::memcpy(out, pool_ + used_, n);
  used_ += n;
}

bool BlockSealer::Seal(const BlockInfo& info, std::span<const uint8_t> payload,
                       const uint8_t* dek, std::vector<uint8_t>& out) {
  std::size_t base = out.size();
  out.resize(base + SealedBlockSize(payload.size()));
  uint8_t* h = out.data() + base;
  std::memcpy(h, "CVBK", 4);
  Put<uint16_t>(h + 4, uint16_t(cipher_));
  Put<uint16_t>(h + 6, uint16_t(kBlockHeaderBytes));
  Put<uint64_t>(h + 8, info.call_id.value);
  Put<uint16_t>(h + 16, info.leg);
  h[18] = info.direction;
  h[19] = uint8_t(info.kind);
  Put<uint32_t>(h + 20, info.seq);
  Put<uint64_t>(h + 24, info.first_ts_ns);
  Put<uint64_t>(h + 32, info.last_ts_ns);
  Put<uint32_t>(h + 40, info.frames);
  Put<uint32_t>(h + 44, uint32_t(payload.size()));
  std::memset(h + 48, 0, 24);
  Put<uint64_t>(h + 72, 0);
  bool ok;
  if (cipher_ == BlockCipher::kAes256Gcm) {
    Nonce(h + 48, crypto_aead_aes256gcm_NPUBBYTES);
    ok = aes_.Encrypt(dek, h + 48, h, kBlockHeaderBytes, payload.data(), payload.size(),
                      h + kBlockHeaderBytes);
  } else {
    unsigned long long clen = 0;
    Nonce(h + 48, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
    ok = crypto_aead_xchacha20poly1305_ietf_encrypt(h + kBlockHeaderBytes, &clen, payload.data(),
                                                    payload.size(), h, kBlockHeaderBytes,
                                                    nullptr, h + 48, dek) == 0;
  }
  if (!ok) out.resize(base);
  return ok;
}

absl::StatusOr<BlockHeader> ParseBlockHeader(std::span<const uint8_t> b) {
  if (b.size() < kBlockHeaderBytes) {
    return IntegrityError(fmt::format("block truncated: {} bytes, header needs {}", b.size(),
                                      kBlockHeaderBytes));
  }
  const uint8_t* h = b.data();
  BlockHeader out;
  out.info.call_id.value = Get<uint64_t>(h + 8);
  out.info.leg = Get<uint16_t>(h + 16);
  out.info.direction = h[18];
  out.info.kind = StreamKind(h[19]);
  out.info.seq = Get<uint32_t>(h + 20);
  out.info.first_ts_ns = Get<uint64_t>(h + 24);
  out.info.last_ts_ns = Get<uint64_t>(h + 32);
  out.info.frames = Get<uint32_t>(h + 40);
  out.payload_len = Get<uint32_t>(h + 44);
  out.version = Get<uint16_t>(h + 4);
  if (std::memcmp(h, "CVBK", 4) != 0) {
    return IntegrityError("block header: bad magic (not a sealed block, or corrupt)");
  }
  if (out.version > kBlockFormatVersion) {
    return absl::FailedPreconditionError(fmt::format(
        "{}: block format version {} is newer than this build supports ({})",
        BlockName(out.info), out.version, kBlockFormatVersion));
  }
  if (out.version == 0 || Get<uint16_t>(h + 6) != kBlockHeaderBytes ||
      out.payload_len > kMaxBlockPayload || h[19] > uint8_t(StreamKind::kOther)) {
    return IntegrityError(fmt::format("{}: block header corrupt", BlockName(out.info)));
  }
  return out;
}

absl::Status OpenBlock(std::span<const uint8_t> sealed, const uint8_t* dek, PlainBlock* out) {
  ASSIGN_OR_RETURN(BlockHeader h, ParseBlockHeader(sealed));
  if (sealed.size() != SealedBlockSize(h.payload_len)) {
    return IntegrityError(fmt::format("{}: sealed length {} does not match header ({})",
                                      BlockName(h.info), sealed.size(),
                                      SealedBlockSize(h.payload_len)));
  }
  const bool aes = h.version == uint16_t(BlockCipher::kAes256Gcm);
  if (aes && crypto_aead_aes256gcm_is_available() == 0) {
    return absl::FailedPreconditionError(fmt::format(
        "{}: sealed with AES-256-GCM (block format 2), which needs a CPU with AES-NI and "
        "PCLMUL; open this store on such a machine",
        BlockName(h.info)));
  }
  out->info = h.info;
  out->payload.resize(h.payload_len);
  unsigned long long mlen = 0;
  const uint8_t* c = sealed.data() + kBlockHeaderBytes;
  const unsigned long long clen = h.payload_len + kBlockTagBytes;
  const int rc =
      aes ? crypto_aead_aes256gcm_decrypt(out->payload.data(), &mlen, nullptr, c, clen,
                                          sealed.data(), kBlockHeaderBytes, sealed.data() + 48,
                                          dek)
          : crypto_aead_xchacha20poly1305_ietf_decrypt(out->payload.data(), &mlen, nullptr, c,
                                                       clen, sealed.data(), kBlockHeaderBytes,
                                                       sealed.data() + 48, dek);
  if (rc != 0) {
    out->payload.clear();
    return IntegrityError(
        fmt::format("{}: block failed authentication (tampered or corrupt)", BlockName(h.info)));
  }
  return absl::OkStatus();
}

}  // namespace callvault
