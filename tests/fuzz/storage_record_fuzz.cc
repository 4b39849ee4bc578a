// libFuzzer target: the storage decoders that read bytes from disk (call record and hold
// encodings, sealed block headers, index values) must reject anything malformed without
// crashing, reading out of bounds or allocating unboundedly.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "storage/index/index_keys.h"
#include "storage/index/record_codec.h"
#include "storage/segment/block_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  std::string_view sv(reinterpret_cast<const char*>(data), size);
  auto r = callvault::DecodeCallRecord(in);
  if (r.ok()) {
    // Whatever decodes must re-encode to the same bytes (the format is canonical).
    std::string again = callvault::EncodeCallRecord(*r);
    if (again != sv) __builtin_trap();
  }
  (void)callvault::DecodeHold(in);
  (void)callvault::ParseBlockHeader(in);
  (void)callvault::idx::DecodeLocation(sv);
  (void)callvault::idx::DecodeSummary(sv);
  return 0;
}
