#include "storage/index/record_codec.h"

#include <cstring>

#include <fmt/format.h>

#include "appliance/common/status.h"

namespace callvault {
namespace {

class Writer {
 public:
  template <typename T>
  void Num(T v) {
    char b[sizeof v];
    std::memcpy(b, &v, sizeof v);
    s_.append(b, sizeof v);
  }
  void Str(std::string_view v) {
    Num<uint32_t>(uint32_t(v.size()));
    s_.append(v.data(), v.size());
  }
  void Raw(const uint8_t* p, std::size_t n) { s_.append(reinterpret_cast<const char*>(p), n); }
  std::string Take() { return std::move(s_); }

 private:
  std::string s_;
};

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> b) : b_(b) {}
  template <typename T>
  bool Num(T* v) {
    if (b_.size() - off_ < sizeof(T)) return fail();
    std::memcpy(v, b_.data() + off_, sizeof(T));
    off_ += sizeof(T);
    return true;
  }
  bool Str(std::string* v) {
    uint32_t n = 0;
    if (!Num(&n) || b_.size() - off_ < n) return fail();
    v->assign(reinterpret_cast<const char*>(b_.data() + off_), n);
    off_ += n;
    return true;
  }
  bool Raw(uint8_t* p, std::size_t n) {
    if (b_.size() - off_ < n) return fail();
    std::memcpy(p, b_.data() + off_, n);
    off_ += n;
    return true;
  }
  // A count of items each at least `min_item` bytes: bounded by what is left.
  bool Count(uint32_t* n, std::size_t min_item) {
    if (!Num(n)) return false;
    if (uint64_t(*n) * min_item > b_.size() - off_) return fail();
    return true;
  }
  bool done() const { return ok_ && off_ == b_.size(); }
  bool ok() const { return ok_; }

 private:
  bool fail() {
    ok_ = false;
    return false;
  }
  std::span<const uint8_t> b_;
  std::size_t off_ = 0;
  bool ok_ = true;
};

}  // namespace

std::string EncodeCallRecord(const CallRecord& r) {
  Writer w;
  w.Num<uint8_t>(kRecordCodecVersion);
  w.Num<uint64_t>(r.call_id.value);
  w.Num<uint64_t>(r.start_ns);
  w.Num<uint64_t>(r.answer_ns);
  w.Num<uint64_t>(r.end_ns);
  w.Num<uint8_t>(uint8_t(r.state));
  w.Num<int32_t>(r.sip_code);
  w.Num<uint8_t>(r.on_hold ? 1 : 0);
  w.Str(r.ani);
  w.Str(r.dialled);
  w.Str(r.agent.name);
  w.Str(r.agent.extension);
  w.Str(r.agent.id);
  w.Num<uint32_t>(uint32_t(r.sip_call_ids.size()));
  for (const auto& s : r.sip_call_ids) w.Str(s);
  w.Num<uint32_t>(uint32_t(r.legs.size()));
  for (const auto& l : r.legs) {
    w.Num<uint16_t>(l.leg);
    w.Num<uint8_t>(uint8_t(l.direction));
    w.Raw(l.src.ip.bytes.data(), 16);
    w.Num<uint16_t>(l.src.port);
    w.Raw(l.dst.ip.bytes.data(), 16);
    w.Num<uint16_t>(l.dst.port);
    w.Str(l.codec);
    w.Num<uint64_t>(l.packets);
    w.Num<uint64_t>(l.lost);
    w.Num<uint64_t>(l.duplicates);
    w.Num<double>(l.jitter_ms);
    w.Num<uint8_t>(l.encrypted_media ? 1 : 0);
  }
  w.Num<uint32_t>(uint32_t(r.dtmf.size()));
  for (const auto& d : r.dtmf) {
    w.Num<double>(d.offset_s);
    w.Str(d.digit);
    w.Num<uint32_t>(d.duration_ms);
    w.Str(d.source);
  }
  // v2 tail.
  w.Num<uint32_t>(uint32_t(r.codecs.size()));
  for (const auto& c : r.codecs) w.Str(c);
  w.Num<uint64_t>(r.merged_into.value);
  return w.Take();
}

absl::StatusOr<CallRecord> DecodeCallRecord(std::span<const uint8_t> bytes) {
  Reader rd(bytes);
  CallRecord r;
  uint8_t version = 0, state = 0, hold = 0;
  if (!rd.Num(&version)) return IntegrityError("call record empty");
  if (version > kRecordCodecVersion) {
    return IntegrityError(fmt::format(
        "call record version {} was written by a newer callvault (this build reads up to {})",
        version, kRecordCodecVersion));
  }
  if (version == 0) return IntegrityError("call record version 0 unsupported");
  rd.Num(&r.call_id.value);
  rd.Num(&r.start_ns);
  rd.Num(&r.answer_ns);
  rd.Num(&r.end_ns);
  rd.Num(&state);
  rd.Num(&r.sip_code);
  rd.Num(&hold);
  r.state = CallState(state);
  r.on_hold = hold != 0;
  rd.Str(&r.ani);
  rd.Str(&r.dialled);
  rd.Str(&r.agent.name);
  rd.Str(&r.agent.extension);
  rd.Str(&r.agent.id);
  uint32_t n = 0;
  if (rd.Count(&n, 4)) {
    r.sip_call_ids.resize(n);
    for (auto& s : r.sip_call_ids) rd.Str(&s);
  }
  if (rd.ok() && rd.Count(&n, 2 + 1 + 18 + 18 + 4 + 8 * 4 + 1)) {
    r.legs.resize(n);
    for (auto& l : r.legs) {
      uint8_t dir = 0, enc = 0;
      rd.Num(&l.leg);
      rd.Num(&dir);
      rd.Raw(l.src.ip.bytes.data(), 16);
      rd.Num(&l.src.port);
      rd.Raw(l.dst.ip.bytes.data(), 16);
      rd.Num(&l.dst.port);
      rd.Str(&l.codec);
      rd.Num(&l.packets);
      rd.Num(&l.lost);
      rd.Num(&l.duplicates);
      rd.Num(&l.jitter_ms);
      rd.Num(&enc);
      l.direction = LegDirection(dir);
      l.encrypted_media = enc != 0;
      if (dir > uint8_t(LegDirection::kBToA) || enc > 1) {
        return IntegrityError("call record: bad leg");
      }
    }
  }
  if (rd.ok() && rd.Count(&n, 8 + 4 + 4 + 4)) {
    r.dtmf.resize(n);
    for (auto& d : r.dtmf) {
      rd.Num(&d.offset_s);
      rd.Str(&d.digit);
      rd.Num(&d.duration_ms);
      rd.Str(&d.source);
    }
  }
  if (version >= 2 && rd.ok() && rd.Count(&n, 4)) {
    r.codecs.resize(n);
    for (auto& c : r.codecs) rd.Str(&c);
    rd.Num(&r.merged_into.value);
  }
  if (!rd.done() || state > uint8_t(CallState::kOrphan) || hold > 1) {
    return IntegrityError("call record malformed (truncated or trailing bytes)");
  }
  return r;
}

std::string EncodeHold(const HoldInfo& h) {
  Writer w;
  w.Num<uint8_t>(1);
  w.Num<uint64_t>(h.call_id.value);
  w.Str(h.case_id);
  w.Str(h.reason);
  w.Str(h.who);
  w.Num<uint64_t>(h.when_ns);
  return w.Take();
}

absl::StatusOr<HoldInfo> DecodeHold(std::span<const uint8_t> bytes) {
  Reader rd(bytes);
  HoldInfo h;
  uint8_t v = 0;
  rd.Num(&v);
  rd.Num(&h.call_id.value);
  rd.Str(&h.case_id);
  rd.Str(&h.reason);
  rd.Str(&h.who);
  rd.Num(&h.when_ns);
  if (v != 1 || !rd.done()) return IntegrityError("legal hold record malformed");
  return h;
}

}  // namespace callvault
