// Reassembler: bounded IPv4 (RFC 791 §3.2) and IPv6 (RFC 8200 §4.5) fragment reassembly.
//
// Input: one fragment at a time (FragmentInput), from the decoder of one worker thread.
// Output: kHeld while a datagram is incomplete; kOk with `*out` set to the rebuilt IP
// packet (header of the offset-0 fragment, fragment fields cleared, lengths and IPv4
// header checksum fixed; for IPv6 the Fragment header removed) in a buffer owned by the
// reassembler, valid until the next Add(); or a drop reason for the fragment.
// Evidence: the captured frame of every held fragment (FragmentInput::frame) is copied
// into the datagram's frame log (2 KiB chunks from a pool of twice max_bytes, apart from
// the data's, so evidence never evicts a datagram; at most kMaxLogBytes per datagram); on completion `*frames` lists every fragment's frame in arrival order,
// the completing one last (its Frame is the caller's, the others point into a buffer of
// the reassembler valid until the next Add()). Frames that did not fit are missing and
// the datagram is counted in DecodeStats::frag_evidence_incomplete. Duplicate fragments
// are not kept. A datagram fragmented inside a datagram that was itself fragmented
// keeps, per inner fragment, the frame that completed the outer datagram.
// Thread: not thread-safe; one per decoder. Memory: every table and buffer is allocated
// in the constructor from the configured bounds; Add() and Expire() never allocate.
//
// Datagrams are identified by (version, source, destination, identification[, protocol
// for IPv4]). Bounds and eviction (each eviction counts every fragment it discards once,
// under the named reason, and the datagram once in DecodeStats::frag_datagrams_*):
//  - max_datagrams datagrams and max_bytes of fragment data (in 2 KiB chunks) at once;
//    when either is exhausted the oldest datagrams are evicted first (kFragTableFull).
//  - a datagram not complete `timeout_ns` after its first fragment (by frame timestamps,
//    so files replay like live traffic) is evicted (kFragTimeout) when a later fragment
//    arrives or Expire() runs. A timestamp earlier than a datagram's first fragment (clock
//    stepping back, files replayed out of order) never expires it; eviction by the bounds
//    still does.
//  - at most kMaxFragments fragments per datagram (kFragTooMany drops the datagram).
// Overlap policy (as Linux since 4.19 and RFC 5722 for IPv6): a fragment with exactly the
// offset and length of a held one is a duplicate and is dropped alone (kFragDuplicate);
// any other overlap, or a conflicting end of datagram, drops the whole datagram and the
// fragment (kFragOverlap): the receiving host would not have accepted ambiguous bytes.
// A non-last fragment whose length is not a multiple of 8, or data beyond 65535 bytes,
// is dropped (kFragBad) and the datagram kept.
#ifndef CALLVAULT_APPLIANCE_DECODE_REASSEMBLY_H_
#define CALLVAULT_APPLIANCE_DECODE_REASSEMBLY_H_

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "appliance/common/frame.h"
#include "appliance/common/net_types.h"
#include "appliance/decode/drop.h"
#include "appliance/decode/stats.h"

namespace callvault::decode {

struct FragmentKey {
  IpAddress src;
  IpAddress dst;
  uint32_t id = 0;       // IPv4: 16-bit identification; IPv6: 32-bit
  uint8_t version = 0;   // 4 or 6
  uint8_t proto = 0;     // IPv4 protocol; 0 for IPv6

  friend bool operator==(const FragmentKey&, const FragmentKey&) = default;
};

struct FragmentInput {
  FragmentKey key;
  // The unfragmentable part as carried by this fragment: the IPv4 header with options, or
  // the IPv6 header plus the extension headers before the Fragment header. Kept from the
  // offset-0 fragment.
  std::span<const uint8_t> header;
  uint16_t next_header_offset = 0;  // IPv6: offset in `header` of the byte naming the
                                    // Fragment header (6 for the base header)
  uint8_t next_header = 0;          // IPv6: the Fragment header's Next Header
  uint32_t offset = 0;              // fragment offset in bytes
  bool more = false;                // MF / M flag
  std::span<const uint8_t> data;    // fragment payload
  uint64_t ts_ns = 0;               // capture time of the frame
  const Frame* frame = nullptr;     // the captured frame carrying it (evidence); may be null
};

class Reassembler {
 public:
  static constexpr uint32_t kMaxFragments = 64;
  static constexpr uint32_t kMaxHeader = 256;   // longer unfragmentable parts: kFragBad
  static constexpr uint32_t kChunkBytes = 2048;
  static constexpr uint32_t kMaxPayload = 65535;
  // Frame log per datagram: a 24-byte record header + the frame bytes per held fragment.
  static constexpr uint32_t kMaxLogBytes = 128 * 1024;

  // `stats` must outlive the reassembler; drops and datagram counters go there.
  Reassembler(uint32_t max_datagrams, uint64_t max_bytes, uint64_t timeout_ns,
              DecodeStats* stats);
  Reassembler(const Reassembler&) = delete;
  Reassembler& operator=(const Reassembler&) = delete;

  DecodeDrop Add(const FragmentInput& in, std::span<const uint8_t>* out,
                 std::span<const Frame>* frames = nullptr);

  // Evicts every datagram whose first fragment is older than now - timeout.
  void Expire(uint64_t now_ns);

  uint32_t active_datagrams() const { return active_; }
  uint64_t bytes_held() const {
    return uint64_t(chunks_total_ - free_chunks_.size()) * kChunkBytes;
  }

 private:
  static constexpr uint32_t kNone = 0xffffffffu;
  static constexpr uint32_t kChunksPerDatagram = (kMaxPayload + kChunkBytes) / kChunkBytes;
  static constexpr uint32_t kLogChunks = kMaxLogBytes / kChunkBytes;
  static constexpr uint32_t kLogRecordHeader = 24;  // ts, caplen, wirelen, port, queue, link

  struct Slot {
    FragmentKey key;
    uint64_t first_ts_ns = 0;
    uint32_t hash_next = kNone;
    uint32_t lru_prev = kNone;
    uint32_t lru_next = kNone;
    uint32_t total = kNone;      // payload length, known once the last fragment arrived
    uint32_t received = 0;       // payload bytes held (no overlaps, so a plain sum)
    uint16_t nfrags = 0;
    uint16_t header_len = 0;     // 0 until the offset-0 fragment arrived
    uint16_t nh_offset = 0;
    uint8_t next_header = 0;
    bool in_use = false;
    uint16_t frag_begin[kMaxFragments];
    uint16_t frag_end[kMaxFragments];  // exclusive; <= 65535
    uint32_t chunk[kChunksPerDatagram];
    uint32_t log_chunk[kLogChunks];  // frame log (evidence), appended in arrival order
    uint32_t log_bytes = 0;
    uint16_t log_frames = 0;
    bool log_incomplete = false;     // a frame did not fit
    uint8_t header[kMaxHeader];
  };

  uint32_t Bucket(const FragmentKey& k) const;
  uint32_t Find(const FragmentKey& k) const;
  uint32_t Create(const FragmentKey& k, uint64_t ts_ns);
  // Frees the slot; counts `reason` once per held fragment (kOk: completed, no drop).
  void Release(uint32_t s, DecodeDrop reason);
  // Maps data bytes [begin, end) of slot s to chunks, evicting the oldest other
  // datagrams for room; false if it cannot.
  bool EnsureChunks(uint32_t s, uint32_t begin, uint32_t end);
  // Copies between a chunk table (`table` into `mem`) and flat bytes.
  static void CopyIn(uint8_t* mem, const uint32_t* table, uint32_t pos, const uint8_t* src,
                     uint32_t n);
  static void CopyOut(const uint8_t* mem, const uint32_t* table, uint32_t pos, uint8_t* dst,
                      uint32_t n);
  void LogFrame(uint32_t s, const Frame& f);
  void Build(uint32_t s, std::span<const uint8_t>* out);
  void BuildFrames(uint32_t s, const Frame* last, std::span<const Frame>* frames);

  uint64_t timeout_ns_;
  DecodeStats* stats_;
  std::vector<Slot> slots_;
  std::vector<uint32_t> buckets_;   // heads of hash chains
  uint32_t bucket_mask_ = 0;
  std::vector<uint32_t> free_slots_;
  std::vector<uint32_t> free_chunks_;
  uint32_t chunks_total_ = 0;
  std::unique_ptr<uint8_t[]> chunk_mem_;  // uninitialised: pages are touched as used
  std::vector<uint8_t> out_;        // rebuilt datagram
  std::vector<uint32_t> log_free_;  // frame-log chunks (evidence pool)
  std::unique_ptr<uint8_t[]> log_mem_;  // not zero-filled: pages cost only once used
  std::vector<uint8_t> frames_buf_; // frame bytes of a completed datagram's evidence
  std::vector<Frame> frames_;       // views into frames_buf_ (+ the completing frame)
  uint32_t lru_head_ = kNone;       // oldest
  uint32_t lru_tail_ = kNone;
  uint32_t active_ = 0;
};

}  // namespace callvault::decode

#endif  // CALLVAULT_APPLIANCE_DECODE_REASSEMBLY_H_
