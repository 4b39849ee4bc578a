#include "tests/tools/callgen/rtp_stream.h"

#include <algorithm>
#include <cstring>

namespace callvault::callgen {
namespace {

constexpr size_t kUdp = 8, kRtp = 12;
constexpr uint64_t kReorderDelayNs = 40'000;   // a reordered packet trails its successor
constexpr uint64_t kDuplicateDelayNs = 2'000;  // SPAN copies arrive back to back
constexpr uint8_t kDtmfVolume = 10;            // -10 dBm0 (RFC 4733 §2.3.4)

uint32_t SlotCount(uint64_t start, uint64_t end) {
  return end > start ? static_cast<uint32_t>((end - start + kSlotNs - 1) / kSlotNs) : 0;
}

// Duration field of DTMF packet j (0..6) of an event: the tone covers the first 5 slots
// (100 ms); packets 4, 5 and 6 are the end packet and its two retransmissions.
uint16_t DtmfDuration(int j) { return static_cast<uint16_t>(kFrameSamples * std::min(j + 1, 5)); }

}  // namespace

RtpStream::RtpStream(RtpStreamConfig cfg, const FrameBuilder& fb)
    : cfg_(std::move(cfg)), rng_(cfg_.rng_seed) {
  slots_ = SlotCount(cfg_.start_ns, cfg_.end_ns);
  ip_id_ = cfg_.ip_id0;
  l2_ = fb.l2_len();
  tmpl_.assign(l2_ + FrameBuilder::IpLen(cfg_.src) + kUdp + kRtp, 0);
  uint8_t* b = tmpl_.data();
  fb.WriteL2(b, cfg_.src, cfg_.dst);
  uint8_t* udp = b + l2_ + FrameBuilder::IpLen(cfg_.src);
  PutBe16(udp, cfg_.sport);
  PutBe16(udp + 2, cfg_.dport);
  uint8_t* rtp = udp + kUdp;
  rtp[0] = 0x80;  // RFC 3550 §5.1: V=2, no padding, no extension, CC=0
  PutBe32(rtp + 8, cfg_.ssrc);
  Refill();
}

uint64_t RtpStream::SlotTime(uint32_t slot) {
  uint64_t t = cfg_.start_ns + slot * kSlotNs;
  if (cfg_.jitter_us > 0) t += rng_.Below(static_cast<uint64_t>(cfg_.jitter_us) + 1) * 1000;
  return t;
}

void RtpStream::Push(uint32_t slot, uint64_t t) {
  auto put = [this](uint32_t s, uint64_t at) {
    q_[(q_head_ + q_len_) % q_.size()] = Emission{at, s};
    ++q_len_;
    ++counts_.written;
    if (s >= cfg_.change_slot) ++counts_.written_after_change;
  };
  put(slot, t);
  if (rng_.Percent(cfg_.duplicate_pct)) {
    put(slot, t + kDuplicateDelayNs);
    ++counts_.duplicated;
  }
}

void RtpStream::Refill() {
  while (q_len_ == 0) {
    if (next_slot_ >= slots_) {
      if (held_) {  // the successor was lost at the very end: deliver it late anyway
        Push(held_slot_, cfg_.start_ns + held_slot_ * kSlotNs + kSlotNs);
        held_ = false;
      }
      return;
    }
    uint32_t slot = next_slot_++;
    if (slot >= cfg_.pause_first_slot && slot < cfg_.pause_first_slot + cfg_.pause_slots) {
      next_slot_ = cfg_.pause_first_slot + cfg_.pause_slots;  // on hold: nothing is sent
      continue;
    }
    ++counts_.generated;
    const bool after_change = slot >= cfg_.change_slot;
    if (after_change) ++counts_.generated_after_change;
    const DtmfDigit* d;
    if (DtmfIndex(slot, &d) >= 0) ++counts_.dtmf_packets;
    const uint64_t t = SlotTime(slot);
    if (rng_.Percent(cfg_.loss_pct)) {
      ++counts_.lost;
      if (after_change) ++counts_.lost_after_change;
      continue;
    }
    if (held_) {
      Push(slot, t);
      Push(held_slot_, t + kReorderDelayNs);
      held_ = false;
      ++counts_.reordered;
    } else if (next_slot_ < slots_ && rng_.Percent(cfg_.reorder_pct)) {
      held_ = true;
      held_slot_ = slot;
    } else {
      Push(slot, t);
    }
  }
}

RtpStream::Ids RtpStream::IdsOf(uint32_t slot) const {
  // Sequence numbers count packets sent; timestamps count sampling time (RFC 3550 §5.1).
  const bool resumed = cfg_.pause_slots > 0 && slot == cfg_.pause_first_slot + cfg_.pause_slots;
  if (slot >= cfg_.change_slot) {
    const uint32_t rel = slot - cfg_.change_slot;
    const uint32_t n = cfg_.SentIn(slot) - cfg_.SentIn(cfg_.change_slot);
    return Ids{cfg_.ssrc2, static_cast<uint16_t>(cfg_.seq2 + n), cfg_.ts2 + rel * kFrameSamples,
               rel == 0 || resumed};
  }
  return Ids{cfg_.ssrc, static_cast<uint16_t>(cfg_.seq0 + cfg_.SentIn(slot)),
             cfg_.ts0 + slot * kFrameSamples, slot == 0 || resumed};
}

int RtpStream::DtmfIndex(uint32_t slot, const DtmfDigit** digit) const {
  for (const DtmfDigit& d : cfg_.dtmf) {
    if (slot >= d.first_slot && slot < d.first_slot + kDtmfSlots) {
      *digit = &d;
      return static_cast<int>(slot - d.first_slot);
    }
  }
  return -1;
}

void RtpStream::EmitNext(PcapWriter& w) {
  const Emission e = q_[q_head_];
  q_head_ = (q_head_ + 1) % q_.size();
  --q_len_;

  const DtmfDigit* digit = nullptr;
  const int j = cfg_.dtmf.empty() ? -1 : DtmfIndex(e.slot, &digit);
  const size_t payload = j >= 0 ? 4 : kFrameSamples;
  const size_t len = tmpl_.size() + payload;
  uint8_t* f = w.Append(e.t, len);
  if (f != nullptr) {
    std::memcpy(f, tmpl_.data(), tmpl_.size());
    uint8_t* ip = f + l2_;
    uint8_t* udp = ip + FrameBuilder::IpLen(cfg_.src);
    uint8_t* rtp = udp + kUdp;
    const uint64_t nominal = cfg_.start_ns + e.slot * kSlotNs;
    const bool switched = nominal >= cfg_.switch_ns;
    const Ids ids = IdsOf(e.slot);
    uint8_t pt;
    bool marker;
    uint32_t ts;
    if (j >= 0) {
      pt = kDtmfPayloadType;
      marker = j == 0;                   // RFC 4733 §2.5.1.1: start of a new event
      ts = IdsOf(digit->first_slot).ts;  // all packets carry the event start (§2.5.1.2)
      rtp[kRtp] = digit->event;
      rtp[kRtp + 1] = static_cast<uint8_t>((j >= 4 ? 0x80 : 0) | kDtmfVolume);
      PutBe16(rtp + kRtp + 2, DtmfDuration(j));
    } else {
      pt = static_cast<uint8_t>(switched ? cfg_.switch_codec : cfg_.codec);
      marker = ids.marker;  // first packet of a talkspurt (RFC 3551 §4.1)
      ts = ids.ts;
      std::memcpy(rtp + kRtp, cfg_.tone[switched ? 1 : 0]->data(), kFrameSamples);
    }
    rtp[1] = static_cast<uint8_t>((marker ? 0x80 : 0) | pt);
    PutBe16(rtp + 2, ids.seq);
    PutBe32(rtp + 4, ts);
    PutBe32(rtp + 8, ids.ssrc);
    const size_t udp_len = kUdp + kRtp + payload;
    PutBe16(udp + 4, static_cast<uint16_t>(udp_len));
    // A SPAN duplicate is the same IP packet: the IP id follows the slot.
    FrameBuilder::WriteIp(ip, cfg_.src, cfg_.dst, 17, udp_len,
                          static_cast<uint16_t>(ip_id_ + e.slot), 0);
    FrameBuilder::FinishUdpChecksum(udp, cfg_.src, cfg_.dst, udp_len);
  }
  if (q_len_ == 0) Refill();
}

RtcpStream::RtcpStream(const RtpStreamConfig& rtp, const FrameBuilder& fb, std::string cname)
    : cfg_(rtp),
      fb_(fb),
      cname_(std::move(cname)),
      next_ns_(rtp.start_ns + 5 * 1'000'000'000ull + 1'000'000),
      ip_id_(static_cast<uint16_t>(rtp.ip_id0 + 0x8000)) {}

void RtcpStream::EmitNext(PcapWriter& w) {
  const uint64_t now = next_ns_;
  next_ns_ += 5 * 1'000'000'000ull;
  const uint32_t slots = SlotCount(cfg_.start_ns, cfg_.end_ns);
  const uint32_t sent =
      std::min<uint32_t>(slots, static_cast<uint32_t>((now - cfg_.start_ns) / kSlotNs + 1));
  uint32_t dtmf = 0;
  for (const DtmfDigit& d : cfg_.dtmf) {
    if (d.first_slot < sent) dtmf += std::min(kDtmfSlots, sent - d.first_slot);
  }
  uint32_t ssrc = cfg_.ssrc;
  uint32_t ts_base = cfg_.ts0;
  uint64_t base_ns = cfg_.start_ns;
  uint32_t first = 0;  // slots before a restart belong to the old SSRC
  if (sent > cfg_.change_slot) {
    ssrc = cfg_.ssrc2;
    ts_base = cfg_.ts2;
    base_ns = cfg_.start_ns + cfg_.change_slot * kSlotNs;
    first = cfg_.change_slot;
    for (const DtmfDigit& d : cfg_.dtmf) {
      if (d.first_slot < first) dtmf -= kDtmfSlots;  // never straddles (see PlanCalls)
    }
  }
  const uint32_t count = cfg_.SentIn(sent) - cfg_.SentIn(first);
  const uint32_t octets = (count - dtmf) * kFrameSamples + dtmf * 4;

  std::vector<uint8_t> p(28);
  // RFC 3550 §6.4.1 sender report, no report blocks.
  p[0] = 0x80;
  p[1] = 200;
  PutBe16(&p[2], 6);
  PutBe32(&p[4], ssrc);
  const uint64_t secs = now / 1'000'000'000ull + 2208988800ull;  // NTP era 0 (1900)
  const uint64_t frac = ((now % 1'000'000'000ull) << 32) / 1'000'000'000ull;
  PutBe32(&p[8], static_cast<uint32_t>(secs));
  PutBe32(&p[12], static_cast<uint32_t>(frac));
  PutBe32(&p[16], static_cast<uint32_t>(ts_base + (now - base_ns) / 125'000));
  PutBe32(&p[20], count);
  PutBe32(&p[24], octets);
  // RFC 3550 §6.5 SDES with one CNAME item, null-terminated and padded to 32 bits.
  const size_t item = 2 + cname_.size();
  const size_t chunk = (4 + item + 1 + 3) & ~size_t{3};
  std::vector<uint8_t> s(4 + chunk, 0);
  s[0] = 0x81;
  s[1] = 202;
  PutBe16(&s[2], static_cast<uint16_t>(s.size() / 4 - 1));
  PutBe32(&s[4], ssrc);
  s[8] = 1;  // CNAME
  s[9] = static_cast<uint8_t>(cname_.size());
  std::memcpy(&s[10], cname_.data(), cname_.size());
  p.insert(p.end(), s.begin(), s.end());

  std::string f = fb_.Udp(cfg_.src, static_cast<uint16_t>(cfg_.sport + 1), cfg_.dst,
                          static_cast<uint16_t>(cfg_.dport + 1), ip_id_++, p);
  w.Write(now, {reinterpret_cast<const uint8_t*>(f.data()), f.size()});
  ++sent_;
}

}  // namespace callvault::callgen
