// Segment file format v1: a 32-byte header, then sealed blocks (block_codec.h) back to
// back. Segments are immutable once renamed from "<id>.seg.tmp" to "<id>.seg".
//   0 "CVSEGMNT" | 8 u16 format version | 10 u16 header length (32) | 12 u32 day |
//   16 u64 segment id | 24 u64 reserved (0)            (little-endian)
// The file name is the segment id in 16 hex digits; the directory is the capture day
// (YYYYMMDD, UTC) of the blocks' first frames. Neither carries PII.
#ifndef CALLVAULT_STORAGE_SEGMENT_SEGMENT_FORMAT_H_
#define CALLVAULT_STORAGE_SEGMENT_SEGMENT_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace callvault {

inline constexpr uint16_t kSegmentFormatVersion = 1;
inline constexpr std::size_t kSegmentHeaderBytes = 32;

inline void EncodeSegmentHeader(uint32_t day, uint64_t id, uint8_t out[kSegmentHeaderBytes]) {
  std::memset(out, 0, kSegmentHeaderBytes);
  std::memcpy(out, "CVSEGMNT", 8);
  uint16_t v = kSegmentFormatVersion, hl = kSegmentHeaderBytes;
  std::memcpy(out + 8, &v, 2);
  std::memcpy(out + 10, &hl, 2);
  std::memcpy(out + 12, &day, 4);
  std::memcpy(out + 16, &id, 8);
}

// 0 = ok, 1 = not a segment / corrupt, 2 = newer version.
inline int CheckSegmentHeader(const uint8_t* h, uint32_t day, uint64_t id) {
  if (std::memcmp(h, "CVSEGMNT", 8) != 0) return 1;
  uint16_t v, hl;
  uint32_t d;
  uint64_t i;
  std::memcpy(&v, h + 8, 2);
  std::memcpy(&hl, h + 10, 2);
  std::memcpy(&d, h + 12, 4);
  std::memcpy(&i, h + 16, 8);
  if (v > kSegmentFormatVersion) return 2;
  if (v == 0 || hl != kSegmentHeaderBytes || d != day || i != id) return 1;
  return 0;
}

}  // namespace callvault

#endif  // CALLVAULT_STORAGE_SEGMENT_SEGMENT_FORMAT_H_
