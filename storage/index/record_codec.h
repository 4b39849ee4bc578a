// Binary encodings of the values the index seals: CallRecord (v2) and a legal hold (v1).
//
// Little-endian; strings as u32 length + bytes; repeated fields as u32 count + items.
//   record v1: u8 1 | u64 call id | u64 start | u64 answer | u64 end | u8 state |
//     i32 sip_code | u8 on_hold | str ani | str dialled | str agent.name |
//     str agent.extension | str agent.id | n x str sip_call_id |
//     n x leg {u16 leg | u8 dir | ip[16] | u16 port | ip[16] | u16 port | str codec |
//              u64 packets | u64 lost | u64 duplicates | f64 jitter_ms | u8 encrypted} |
//     n x dtmf {f64 offset_s | str digit | u32 duration_ms | str source}
//   record v2 (written since callvault 0.1 + codecs): the v1 layout with version byte 2,
//     followed by  n x str codec (CallRecord::codecs, signalling's codecs in order of
//     first use) | u64 merged_into (CallRecord::merged_into, 0 = none).
//   Decoding accepts v1 (codecs empty, merged_into 0) and v2; a higher version is
//   refused ("written by a newer callvault").
//   hold v1: u8 1 | u64 call id | str case | str reason | str who | u64 when_ns
// These plaintexts exist only in memory: the index stores them sealed (storage/store.h).
// Decoders bound every length by the bytes left and reject trailing garbage; they never
// crash on malformed input (fuzzed by tests/fuzz/storage_record_fuzz.cc).
#ifndef CALLVAULT_STORAGE_INDEX_RECORD_CODEC_H_
#define CALLVAULT_STORAGE_INDEX_RECORD_CODEC_H_

#include <cstdint>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "appliance/common/call_record.h"
#include "storage/store.h"

namespace callvault {

inline constexpr uint8_t kRecordCodecVersion = 2;  // written; v1 is still read

std::string EncodeCallRecord(const CallRecord& r);
[[nodiscard]] absl::StatusOr<CallRecord> DecodeCallRecord(std::span<const uint8_t> bytes);

std::string EncodeHold(const HoldInfo& h);
[[nodiscard]] absl::StatusOr<HoldInfo> DecodeHold(std::span<const uint8_t> bytes);

}  // namespace callvault

#endif  // CALLVAULT_STORAGE_INDEX_RECORD_CODEC_H_
