// Key and value layouts of the RocksDB index, format v1 (docs/ARCHITECTURE.md documents them;
// bump kIndexFormatVersion on any change). All integers in KEYS are big-endian so that
// byte order equals numeric order; `~id` is the bitwise complement of the call id, so a
// forward prefix seek yields newest first. Values are little-endian.
//
//   CF        key                                   value
//   calls     id                                    u8 1 | nonce[24] | AEAD_DEK(record v2; v1 read)
//   time      id (= start ms << 20 | d)             CallSummaryValue (no PII)
//   agent     'n'|blind16|~id  or  'e'|blind16|~id  empty
//   ani       blind16 | ~id                         empty
//   dialled   blind16 | ~id                         empty
//   blocks    id | kind u8 | leg u16 | seq u32      BlockLocation
//   keys      id                                    wrapped DEK (key_ring.h)
//   holds     id                                    u8 1 | nonce[24] | AEAD_DEK(hold v1)
//   usage     'c'|id  -> u64[2] bytes, blocks       (merge: element-wise u64 add)
//             'd'|day u32 -> u64[3] bytes, dead, segments
//             's'|day u32|seg u64 -> u64[3] file bytes, live, dead
//   meta      "format" -> decimal version; "next_segment" -> u64; free for other layers
//             under their own prefix (e.g. "audit/")
// Thread: pure helpers.
#ifndef CALLVAULT_STORAGE_INDEX_INDEX_KEYS_H_
#define CALLVAULT_STORAGE_INDEX_INDEX_KEYS_H_

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "appliance/common/block.h"
#include "appliance/common/call_id.h"
#include "appliance/common/call_record.h"
#include "storage/keys/key_ring.h"

namespace callvault::idx {

inline constexpr uint32_t kIndexFormatVersion = 1;

enum Cf : int { kCalls = 0, kTime, kAgent, kAni, kDialled, kBlocks, kKeys, kHolds, kUsage,
                kMeta, kCfCount };
inline constexpr const char* kCfNames[kCfCount] = {
    "calls", "time", "agent", "ani", "dialled", "blocks", "keys", "holds", "usage", "meta"};

inline void PutBe(std::string& s, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) s.push_back(char(uint8_t(v >> (8 * i))));
}
inline uint64_t GetBe(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | uint8_t(p[i]);
  return v;
}
template <typename T>
inline void PutLe(std::string& s, T v) {
  char b[sizeof v];
  std::memcpy(b, &v, sizeof v);
  s.append(b, sizeof v);
}
template <typename T>
inline T GetLe(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline std::string IdKey(CallId id) {
  std::string k;
  PutBe(k, id.value, 8);
  return k;
}
inline std::string BlindPrefix(char tag, const Blind& b) {
  std::string k;
  if (tag != 0) k.push_back(tag);
  k.append(reinterpret_cast<const char*>(b.data()), b.size());
  return k;
}
inline std::string BlindKey(char tag, const Blind& b, CallId id) {
  std::string k = BlindPrefix(tag, b);
  PutBe(k, ~id.value, 8);
  return k;
}
inline std::string BlockKey(CallId id, StreamKind kind, uint16_t leg, uint32_t seq) {
  std::string k;
  PutBe(k, id.value, 8);
  k.push_back(char(kind));
  PutBe(k, leg, 2);
  PutBe(k, seq, 4);
  return k;
}
inline constexpr std::size_t kBlockKeyBytes = 15;

struct BlockLocation {
  uint8_t direction = 0;
  uint32_t day = 0;
  uint64_t segment = 0;
  uint64_t offset = 0;
  uint32_t length = 0;  // sealed length (header + ciphertext + tag)
  uint64_t first_ts_ns = 0, last_ts_ns = 0;
  uint32_t frames = 0;
};
inline constexpr std::size_t kBlockLocationBytes = 1 + 1 + 4 + 8 + 8 + 4 + 8 + 8 + 4;
inline std::string EncodeLocation(const BlockLocation& l) {
  std::string v;
  v.push_back(1);
  v.push_back(char(l.direction));
  PutLe(v, l.day);
  PutLe(v, l.segment);
  PutLe(v, l.offset);
  PutLe(v, l.length);
  PutLe(v, l.first_ts_ns);
  PutLe(v, l.last_ts_ns);
  PutLe(v, l.frames);
  return v;
}
inline std::optional<BlockLocation> DecodeLocation(std::string_view v) {
  if (v.size() != kBlockLocationBytes || v[0] != 1) return std::nullopt;
  BlockLocation l;
  const char* p = v.data();
  l.direction = uint8_t(p[1]);
  l.day = GetLe<uint32_t>(p + 2);
  l.segment = GetLe<uint64_t>(p + 6);
  l.offset = GetLe<uint64_t>(p + 14);
  l.length = GetLe<uint32_t>(p + 22);
  l.first_ts_ns = GetLe<uint64_t>(p + 26);
  l.last_ts_ns = GetLe<uint64_t>(p + 34);
  l.frames = GetLe<uint32_t>(p + 42);
  return l;
}

// The "time" CF value: what retention and time-only searches need without unsealing,
// plus the blind index entries of the call so they can be deleted without the DEK.
struct SummaryValue {
  uint64_t start_ns = 0, end_ns = 0;
  CallState state = CallState::kActive;
  std::optional<Blind> ani, dialled, name, ext;
};
inline std::string EncodeSummary(const SummaryValue& s) {
  std::string v;
  v.push_back(1);
  PutLe(v, s.start_ns);
  PutLe(v, s.end_ns);
  v.push_back(char(s.state));
  uint8_t flags = (s.ani ? 1 : 0) | (s.dialled ? 2 : 0) | (s.name ? 4 : 0) | (s.ext ? 8 : 0);
  v.push_back(char(flags));
  for (const auto* b : {&s.ani, &s.dialled, &s.name, &s.ext}) {
    if (*b) v.append(reinterpret_cast<const char*>((*b)->data()), kBlindBytes);
  }
  return v;
}
inline std::optional<SummaryValue> DecodeSummary(std::string_view v) {
  if (v.size() < 19 || v[0] != 1) return std::nullopt;
  SummaryValue s;
  s.start_ns = GetLe<uint64_t>(v.data() + 1);
  s.end_ns = GetLe<uint64_t>(v.data() + 9);
  uint8_t st = uint8_t(v[17]);
  uint8_t flags = uint8_t(v[18]);
  if (st > uint8_t(CallState::kOrphan) || flags > 15) return std::nullopt;
  s.state = CallState(st);
  std::size_t need = 19 + std::size_t(__builtin_popcount(flags)) * kBlindBytes;
  if (v.size() != need) return std::nullopt;
  std::size_t off = 19;
  int bit = 0;
  for (auto* b : {&s.ani, &s.dialled, &s.name, &s.ext}) {
    if (flags & (1 << bit)) {
      Blind x;
      std::memcpy(x.data(), v.data() + off, kBlindBytes);
      *b = x;
      off += kBlindBytes;
    }
    ++bit;
  }
  return s;
}

inline std::string UsageCallKey(CallId id) {
  std::string k = "c";
  PutBe(k, id.value, 8);
  return k;
}
inline std::string UsageDayKey(uint32_t day) {
  std::string k = "d";
  PutBe(k, day, 4);
  return k;
}
inline std::string UsageSegKey(uint32_t day, uint64_t seg) {
  std::string k = "s";
  PutBe(k, day, 4);
  PutBe(k, seg, 8);
  return k;
}
template <std::size_t N>
inline std::string U64s(const std::array<uint64_t, N>& a) {
  std::string v;
  for (uint64_t x : a) PutLe(v, x);
  return v;
}
template <std::size_t N>
inline std::array<uint64_t, N> ParseU64s(std::string_view v) {
  std::array<uint64_t, N> a{};
  for (std::size_t i = 0; i < N && (i + 1) * 8 <= v.size(); ++i) {
    a[i] = GetLe<uint64_t>(v.data() + i * 8);
  }
  return a;
}

}  // namespace callvault::idx

#endif  // CALLVAULT_STORAGE_INDEX_INDEX_KEYS_H_
