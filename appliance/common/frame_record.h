// FrameRecord: how captured frames are kept inside a media or signalling block.
//
// Recordings are evidence: a block keeps each original frame byte for byte with its
// capture timestamp, so pcap export gives back exactly what was on the wire. Encoding
// (little-endian), repeated until the end of the block payload:
//   u64 ts_ns | u32 wirelen | u16 caplen | u16 link_type | caplen bytes
// Frames larger than 65535 captured bytes are truncated to 65535 (wirelen keeps the
// original length). Version 1 of this encoding; see docs/ARCHITECTURE.md.
#ifndef CALLVAULT_APPLIANCE_COMMON_FRAME_RECORD_H_
#define CALLVAULT_APPLIANCE_COMMON_FRAME_RECORD_H_

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include "appliance/common/frame.h"

namespace callvault {

inline constexpr std::size_t kFrameRecordHeader = 16;

struct FrameRecordView {
  uint64_t ts_ns = 0;
  uint32_t wirelen = 0;
  LinkType link = LinkType::kEthernet;
  std::span<const uint8_t> bytes;
};

// Appends one frame to `out` (which must have capacity reserved by the caller on the
// packet path so that this never allocates in steady state).
inline void AppendFrameRecord(const Frame& f, std::vector<uint8_t>& out) {
  uint16_t caplen = f.caplen > 0xffff ? 0xffff : static_cast<uint16_t>(f.caplen);
  uint8_t h[kFrameRecordHeader];
  std::memcpy(h, &f.ts_ns, 8);
  std::memcpy(h + 8, &f.wirelen, 4);
  std::memcpy(h + 12, &caplen, 2);
  uint16_t lt = static_cast<uint16_t>(f.link);
  std::memcpy(h + 14, &lt, 2);
  out.insert(out.end(), h, h + kFrameRecordHeader);
  out.insert(out.end(), f.data, f.data + caplen);
}

inline std::size_t FrameRecordSize(const Frame& f) {
  return kFrameRecordHeader + (f.caplen > 0xffff ? 0xffff : f.caplen);
}

// Iterates the records of a block payload. Next() returns nullopt at the end, and sets
// error() when the payload is malformed (truncated record).
class FrameRecordReader {
 public:
  explicit FrameRecordReader(std::span<const uint8_t> payload) : p_(payload) {}
  std::optional<FrameRecordView> Next() {
    if (off_ == p_.size()) return std::nullopt;
    if (p_.size() - off_ < kFrameRecordHeader) {
      error_ = true;
      return std::nullopt;
    }
    FrameRecordView v;
    uint16_t caplen, lt;
    std::memcpy(&v.ts_ns, p_.data() + off_, 8);
    std::memcpy(&v.wirelen, p_.data() + off_ + 8, 4);
    std::memcpy(&caplen, p_.data() + off_ + 12, 2);
    std::memcpy(&lt, p_.data() + off_ + 14, 2);
    v.link = static_cast<LinkType>(lt);
    off_ += kFrameRecordHeader;
    if (p_.size() - off_ < caplen) {
      error_ = true;
      return std::nullopt;
    }
    v.bytes = p_.subspan(off_, caplen);
    off_ += caplen;
    return v;
  }
  bool error() const { return error_; }

 private:
  std::span<const uint8_t> p_;
  std::size_t off_ = 0;
  bool error_ = false;
};

}  // namespace callvault

#endif  // CALLVAULT_APPLIANCE_COMMON_FRAME_RECORD_H_
