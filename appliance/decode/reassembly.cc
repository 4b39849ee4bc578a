#include "appliance/decode/reassembly.h"

#include <algorithm>
#include <cstring>

#include "appliance/decode/checksum.h"

namespace callvault::decode {
namespace {

uint32_t RoundUpPow2(uint32_t v) {
  uint32_t p = 1;
  while (p < v && p < (1u << 30)) p <<= 1;
  return p;
}

}  // namespace

Reassembler::Reassembler(uint32_t max_datagrams, uint64_t max_bytes, uint64_t timeout_ns,
                         DecodeStats* stats)
    : timeout_ns_(timeout_ns), stats_(stats) {
  if (max_datagrams == 0) max_datagrams = 1;
  slots_.resize(max_datagrams);
  uint32_t nb = RoundUpPow2(max_datagrams * 2);
  buckets_.assign(nb, kNone);
  bucket_mask_ = nb - 1;
  free_slots_.reserve(max_datagrams);
  for (uint32_t i = max_datagrams; i-- > 0;) free_slots_.push_back(i);
  uint64_t chunks = max_bytes / kChunkBytes;
  if (chunks < 1) chunks = 1;
  if (chunks > (1u << 30)) chunks = 1u << 30;
  chunks_total_ = static_cast<uint32_t>(chunks);
  chunk_mem_.reset(new uint8_t[uint64_t(chunks_total_) * kChunkBytes]);  // not zeroed
  free_chunks_.reserve(chunks_total_);
  for (uint32_t i = chunks_total_; i-- > 0;) free_chunks_.push_back(i);
  out_.resize(kMaxHeader + kMaxPayload);
  const uint64_t log_chunks = std::min<uint64_t>(uint64_t(chunks_total_) * 2, 1u << 30);
  log_mem_.reset(new uint8_t[log_chunks * kChunkBytes]);
  log_free_.reserve(log_chunks);
  for (uint64_t i = log_chunks; i-- > 0;) log_free_.push_back(uint32_t(i));
  frames_buf_.resize(kMaxLogBytes);
  frames_.resize(kMaxFragments + 1);
}

uint32_t Reassembler::Bucket(const FragmentKey& k) const {
  uint64_t a, b, c, d;
  std::memcpy(&a, k.src.bytes.data(), 8);
  std::memcpy(&b, k.src.bytes.data() + 8, 8);
  std::memcpy(&c, k.dst.bytes.data(), 8);
  std::memcpy(&d, k.dst.bytes.data() + 8, 8);
  uint64_t h = (a ^ (c * 0x9E3779B97F4A7C15ull)) + (b ^ (d * 0xC2B2AE3D27D4EB4Full)) +
               (uint64_t(k.id) << 16) + (uint64_t(k.proto) << 8) + k.version;
  h ^= h >> 31;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 29;
  return static_cast<uint32_t>(h) & bucket_mask_;
}

uint32_t Reassembler::Find(const FragmentKey& k) const {
  for (uint32_t s = buckets_[Bucket(k)]; s != kNone; s = slots_[s].hash_next) {
    if (slots_[s].key == k) return s;
  }
  return kNone;
}

uint32_t Reassembler::Create(const FragmentKey& k, uint64_t ts_ns) {
  while (free_slots_.empty()) {
    ++stats_->frag_datagrams_evicted_full;
    Release(lru_head_, DecodeDrop::kFragTableFull);
  }
  uint32_t s = free_slots_.back();
  free_slots_.pop_back();
  Slot& sl = slots_[s];
  sl.key = k;
  sl.first_ts_ns = ts_ns;
  sl.total = kNone;
  sl.received = 0;
  sl.nfrags = 0;
  sl.header_len = 0;
  sl.in_use = true;
  std::fill(std::begin(sl.chunk), std::end(sl.chunk), kNone);
  std::fill(std::begin(sl.log_chunk), std::end(sl.log_chunk), kNone);
  sl.log_bytes = 0;
  sl.log_frames = 0;
  sl.log_incomplete = false;
  uint32_t b = Bucket(k);
  sl.hash_next = buckets_[b];
  buckets_[b] = s;
  sl.lru_prev = lru_tail_;
  sl.lru_next = kNone;
  if (lru_tail_ != kNone) {
    slots_[lru_tail_].lru_next = s;
  } else {
    lru_head_ = s;
  }
  lru_tail_ = s;
  ++active_;
  return s;
}

void Reassembler::Release(uint32_t s, DecodeDrop reason) {
  Slot& sl = slots_[s];
  if (reason != DecodeDrop::kOk) {
    stats_->drops.Inc(reason, sl.nfrags);
    stats_->frag_held_dropped += sl.nfrags;
  }
  // Unlink from the hash chain.
  uint32_t* link = &buckets_[Bucket(sl.key)];
  while (*link != s) link = &slots_[*link].hash_next;
  *link = sl.hash_next;
  // Unlink from the age list.
  if (sl.lru_prev != kNone) {
    slots_[sl.lru_prev].lru_next = sl.lru_next;
  } else {
    lru_head_ = sl.lru_next;
  }
  if (sl.lru_next != kNone) {
    slots_[sl.lru_next].lru_prev = sl.lru_prev;
  } else {
    lru_tail_ = sl.lru_prev;
  }
  for (uint32_t& c : sl.chunk) {
    if (c != kNone) {
      free_chunks_.push_back(c);
      c = kNone;
    }
  }
  for (uint32_t& c : sl.log_chunk) {
    if (c != kNone) {
      log_free_.push_back(c);
      c = kNone;
    }
  }
  sl.in_use = false;
  free_slots_.push_back(s);
  --active_;
}

void Reassembler::Expire(uint64_t now_ns) {
  while (lru_head_ != kNone && now_ns >= slots_[lru_head_].first_ts_ns &&
         now_ns - slots_[lru_head_].first_ts_ns >= timeout_ns_) {
    ++stats_->frag_datagrams_timed_out;
    Release(lru_head_, DecodeDrop::kFragTimeout);
  }
}

bool Reassembler::EnsureChunks(uint32_t s, uint32_t begin, uint32_t end) {
  uint32_t* table = slots_[s].chunk;
  for (uint32_t c = begin / kChunkBytes; c <= (end - 1) / kChunkBytes; ++c) {
    if (table[c] != kNone) continue;
    // Make room by evicting the oldest other datagrams.
    while (free_chunks_.empty()) {
      uint32_t victim = lru_head_;
      if (victim == s) victim = slots_[s].lru_next;
      if (victim == kNone) return false;
      ++stats_->frag_datagrams_evicted_full;
      Release(victim, DecodeDrop::kFragTableFull);
    }
    table[c] = free_chunks_.back();
    free_chunks_.pop_back();
  }
  return true;
}

void Reassembler::CopyIn(uint8_t* mem, const uint32_t* table, uint32_t pos,
                         const uint8_t* src, uint32_t n) {
  const uint32_t end = pos + n;
  while (pos < end) {
    const uint32_t in_chunk = pos % kChunkBytes;
    const uint32_t k = std::min(end - pos, kChunkBytes - in_chunk);
    std::memcpy(&mem[uint64_t(table[pos / kChunkBytes]) * kChunkBytes + in_chunk], src, k);
    src += k;
    pos += k;
  }
}

void Reassembler::CopyOut(const uint8_t* mem, const uint32_t* table, uint32_t pos,
                          uint8_t* dst, uint32_t n) {
  const uint32_t end = pos + n;
  while (pos < end) {
    const uint32_t in_chunk = pos % kChunkBytes;
    const uint32_t k = std::min(end - pos, kChunkBytes - in_chunk);
    std::memcpy(dst, &mem[uint64_t(table[pos / kChunkBytes]) * kChunkBytes + in_chunk], k);
    dst += k;
    pos += k;
  }
}

void Reassembler::LogFrame(uint32_t s, const Frame& f) {
  Slot& sl = slots_[s];
  const uint64_t need = uint64_t(kLogRecordHeader) + f.caplen;
  if (sl.log_incomplete || sl.log_bytes + need > kMaxLogBytes) {
    sl.log_incomplete = true;
    return;
  }
  const uint32_t end = uint32_t(sl.log_bytes + need);
  for (uint32_t c = sl.log_bytes / kChunkBytes; c <= (end - 1) / kChunkBytes; ++c) {
    if (sl.log_chunk[c] != kNone) continue;
    if (log_free_.empty()) {  // evidence pool exhausted: never evicts a datagram for it
      sl.log_incomplete = true;
      return;
    }
    sl.log_chunk[c] = log_free_.back();
    log_free_.pop_back();
  }
  uint8_t rec[kLogRecordHeader];
  const uint16_t link = static_cast<uint16_t>(f.link);
  std::memcpy(rec, &f.ts_ns, 8);
  std::memcpy(rec + 8, &f.caplen, 4);
  std::memcpy(rec + 12, &f.wirelen, 4);
  std::memcpy(rec + 16, &f.port, 2);
  std::memcpy(rec + 18, &f.queue, 2);
  std::memcpy(rec + 20, &link, 2);
  rec[22] = rec[23] = 0;
  CopyIn(log_mem_.get(), sl.log_chunk, sl.log_bytes, rec, kLogRecordHeader);
  CopyIn(log_mem_.get(), sl.log_chunk, sl.log_bytes + kLogRecordHeader, f.data, f.caplen);
  sl.log_bytes += uint32_t(need);
  ++sl.log_frames;
}

void Reassembler::BuildFrames(uint32_t s, const Frame* last, std::span<const Frame>* frames) {
  const Slot& sl = slots_[s];
  CopyOut(log_mem_.get(), sl.log_chunk, 0, frames_buf_.data(), sl.log_bytes);
  std::size_t n = 0;
  for (uint32_t pos = 0; pos < sl.log_bytes && n < kMaxFragments;) {
    const uint8_t* rec = frames_buf_.data() + pos;
    Frame& f = frames_[n++];
    uint16_t link = 0;
    std::memcpy(&f.ts_ns, rec, 8);
    std::memcpy(&f.caplen, rec + 8, 4);
    std::memcpy(&f.wirelen, rec + 12, 4);
    std::memcpy(&f.port, rec + 16, 2);
    std::memcpy(&f.queue, rec + 18, 2);
    std::memcpy(&link, rec + 20, 2);
    f.link = static_cast<LinkType>(link);
    f.data = rec + kLogRecordHeader;
    pos += kLogRecordHeader + f.caplen;
  }
  if (last != nullptr) frames_[n++] = *last;
  *frames = std::span<const Frame>(frames_.data(), n);
}

DecodeDrop Reassembler::Add(const FragmentInput& in, std::span<const uint8_t>* out,
                            std::span<const Frame>* frames) {
  Expire(in.ts_ns);
  const uint32_t len = static_cast<uint32_t>(in.data.size());
  const uint32_t begin = in.offset;
  const uint32_t end = begin + len;
  // RFC 791 §3.2 / RFC 8200 §4.5: every fragment but the last carries a multiple of 8
  // bytes; the rebuilt packet must fit the 16-bit length field.
  if ((in.more && (len == 0 || len % 8 != 0)) || end > kMaxPayload) return DecodeDrop::kFragBad;
  const uint32_t unfrag = static_cast<uint32_t>(in.header.size());
  if (begin == 0 && (unfrag > kMaxHeader || unfrag + end > kMaxHeader + kMaxPayload)) {
    return DecodeDrop::kFragBad;
  }
  if (in.key.version == 4 && unfrag + end > 65535) return DecodeDrop::kFragBad;

  uint32_t s = Find(in.key);
  if (s == kNone) s = Create(in.key, in.ts_ns);
  Slot& sl = slots_[s];

  // Duplicates and overlaps against every held fragment.
  for (uint32_t i = 0; i < sl.nfrags; ++i) {
    if (sl.frag_begin[i] == begin && sl.frag_end[i] == end) {
      return DecodeDrop::kFragDuplicate;
    }
    if (begin < sl.frag_end[i] && sl.frag_begin[i] < end) {
      ++stats_->frag_datagrams_overlap;
      Release(s, DecodeDrop::kFragOverlap);
      return DecodeDrop::kFragOverlap;
    }
  }
  // The end of the datagram must be consistent with every fragment.
  bool conflict = false;
  if (!in.more) {
    if (sl.total != kNone && sl.total != end) conflict = true;
    for (uint32_t i = 0; i < sl.nfrags && !conflict; ++i) conflict = sl.frag_end[i] > end;
  } else if (sl.total != kNone && end > sl.total) {
    conflict = true;
  }
  if (conflict) {
    ++stats_->frag_datagrams_overlap;
    Release(s, DecodeDrop::kFragOverlap);
    return DecodeDrop::kFragOverlap;
  }
  if (sl.nfrags >= kMaxFragments) {
    ++stats_->frag_datagrams_too_many;
    Release(s, DecodeDrop::kFragTooMany);
    return DecodeDrop::kFragTooMany;
  }
  if (len > 0 && !EnsureChunks(s, begin, end)) {
    // Even alone this datagram does not fit the byte budget.
    ++stats_->frag_datagrams_evicted_full;
    Release(s, DecodeDrop::kFragTableFull);
    return DecodeDrop::kFragTableFull;
  }
  CopyIn(chunk_mem_.get(), sl.chunk, begin, in.data.data(), len);
  if (begin == 0) {
    std::memcpy(sl.header, in.header.data(), unfrag);
    sl.header_len = static_cast<uint16_t>(unfrag);
    sl.nh_offset = in.next_header_offset;
    sl.next_header = in.next_header;
  }
  if (!in.more) sl.total = end;
  sl.frag_begin[sl.nfrags] = static_cast<uint16_t>(begin);
  sl.frag_end[sl.nfrags] = static_cast<uint16_t>(end);
  ++sl.nfrags;
  sl.received += len;

  if (sl.total == kNone || sl.header_len == 0 || sl.received != sl.total) {
    if (in.frame != nullptr) LogFrame(s, *in.frame);  // kept as evidence until completion
    return DecodeDrop::kHeld;
  }
  // The rebuilt packet must fit its 16-bit length field (IPv4 total length, IPv6 payload
  // length): otherwise it is the "ping of death" and is dropped whole.
  const uint32_t rebuilt = sl.key.version == 4 ? sl.header_len + sl.total
                                               : sl.header_len - 40u + sl.total;
  if (rebuilt > 65535 || (sl.key.version == 6 && sl.header_len < 40)) {
    Release(s, DecodeDrop::kFragBad);
    return DecodeDrop::kFragBad;
  }
  Build(s, out);
  if (frames != nullptr) BuildFrames(s, in.frame, frames);
  if (sl.log_incomplete) ++stats_->frag_evidence_incomplete;
  ++stats_->frag_datagrams_completed;
  Release(s, DecodeDrop::kOk);
  return DecodeDrop::kOk;
}

void Reassembler::Build(uint32_t s, std::span<const uint8_t>* out) {
  Slot& sl = slots_[s];
  uint8_t* o = out_.data();
  const uint32_t hl = sl.header_len;
  std::memcpy(o, sl.header, hl);
  for (uint32_t pos = 0; pos < sl.total;) {
    uint32_t n = std::min(sl.total - pos, kChunkBytes);
    std::memcpy(o + hl + pos, &chunk_mem_[uint64_t(sl.chunk[pos / kChunkBytes]) * kChunkBytes],
                n);
    pos += n;
  }
  if (sl.key.version == 4) {
    const uint32_t tl = hl + sl.total;
    o[2] = uint8_t(tl >> 8);
    o[3] = uint8_t(tl);
    o[6] &= 0x40;  // keep DF, clear MF and the offset
    o[7] = 0;
    o[10] = 0;
    o[11] = 0;
    uint16_t ck = ChecksumComplement(ChecksumAdd(o, hl, 0));
    std::memcpy(o + 10, &ck, 2);
  } else {
    const uint32_t pl = hl - 40 + sl.total;
    o[4] = uint8_t(pl >> 8);
    o[5] = uint8_t(pl);
    o[sl.nh_offset] = sl.next_header;
  }
  *out = std::span<const uint8_t>(o, hl + sl.total);
}

}  // namespace callvault::decode
