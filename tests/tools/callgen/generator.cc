#include "tests/tools/callgen/generator.h"

#include <algorithm>
#include <memory>
#include <queue>

#include "fmt/format.h"
#include "tests/tools/callgen/sip_script.h"

namespace callvault::callgen {
namespace {

constexpr double kToneAmplitude = 0.5;  // -6 dBFS
constexpr int kMaxToneHz = 4000;

class Source {
 public:
  virtual ~Source() = default;
  virtual bool done() const = 0;
  virtual uint64_t next_time() const = 0;
  virtual void Emit(PcapWriter& w) = 0;
};

class SipSource final : public Source {
 public:
  explicit SipSource(std::vector<ScriptFrame> frames) : frames_(std::move(frames)) {}
  bool done() const override { return next_ >= frames_.size(); }
  uint64_t next_time() const override { return frames_[next_].t; }
  void Emit(PcapWriter& w) override {
    const std::string& b = frames_[next_++].bytes;
    w.Write(frames_[next_ - 1].t, {reinterpret_cast<const uint8_t*>(b.data()), b.size()});
  }

 private:
  std::vector<ScriptFrame> frames_;
  size_t next_ = 0;
};

class RtpSource final : public Source {
 public:
  RtpSource(RtpStreamConfig cfg, const FrameBuilder& fb) : s_(std::move(cfg), fb) {}
  bool done() const override { return s_.done(); }
  uint64_t next_time() const override { return s_.next_time(); }
  void Emit(PcapWriter& w) override { s_.EmitNext(w); }
  const RtpStream& stream() const { return s_; }

 private:
  RtpStream s_;
};

class RtcpSource final : public Source {
 public:
  RtcpSource(const RtpStreamConfig& cfg, const FrameBuilder& fb, std::string cname)
      : s_(cfg, fb, std::move(cname)) {}
  bool done() const override { return s_.done(); }
  uint64_t next_time() const override { return s_.next_time(); }
  void Emit(PcapWriter& w) override { s_.EmitNext(w); }
  uint64_t sent() const { return s_.sent(); }

 private:
  RtcpStream s_;
};

// Source slots of a call: 0 SIP, 1-2 RTP per direction, 3-4 RTCP per direction.
constexpr int kSources = 5;

struct ActiveCall {
  std::unique_ptr<Source> src[kSources];
  int remaining = 0;
};

struct Entry {
  uint64_t t;
  uint32_t call;
  int32_t src;  // -1: the call starts
  bool operator>(const Entry& o) const {
    if (t != o.t) return t > o.t;
    if (call != o.call) return call > o.call;
    return src > o.src;
  }
};

}  // namespace

Generator::Generator(const Options& o, const std::vector<Agent>& agents,
                     const std::vector<CallPlan>& plans)
    : o_(o), agents_(agents), plans_(plans), results_(plans.size()) {}

absl::Status Generator::Run(PcapWriter& w) {
  const FrameBuilder fb(LinkOptions{o_.vlan, o_.outer_vlan});
  // Tone frames for every (law, frequency) a call can use, computed once.
  std::vector<TonePayload> tones[2];
  for (int law = 0; law < 2; ++law) {
    tones[law].resize(kMaxToneHz / 50);
    for (int hz = 0; hz < kMaxToneHz; hz += 50) {
      tones[law][static_cast<size_t>(hz / 50)] =
          MakeTonePayload(law == 0 ? Codec::kPcmu : Codec::kPcma, hz, kToneAmplitude);
    }
  }
  auto tone = [&](Codec c, int hz) {
    return &tones[c == Codec::kPcmu ? 0 : 1][static_cast<size_t>(hz / 50)];
  };

  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap;
  for (const CallPlan& p : plans_) {
    heap.push(Entry{CallFirstFrameNs(p), static_cast<uint32_t>(p.index), -1});
  }
  std::vector<std::unique_ptr<ActiveCall>> active(plans_.size());

  while (!heap.empty()) {
    const Entry e = heap.top();
    heap.pop();
    if (e.src < 0) {
      const CallPlan& p = plans_[e.call];
      auto call = std::make_unique<ActiveCall>();
      auto msgs = BuildSipMessages(p, agents_[static_cast<size_t>(p.agent)], o_);
      auto frames = BuildSipFrames(p, msgs, o_, fb);
      results_[e.call].sip_messages = static_cast<uint32_t>(msgs.size());
      results_[e.call].sip_frames = static_cast<uint32_t>(frames.size());
      call->src[0] = std::make_unique<SipSource>(std::move(frames));
      for (int d = 0; d < 2; ++d) {
        RtpStreamConfig c;
        c.src = d == 0 ? p.caller_sig : p.agent_sig;
        c.dst = d == 0 ? p.agent_sig : p.caller_sig;
        c.sport = d == 0 ? p.caller_rtp : p.agent_rtp;
        c.dport = d == 0 ? p.agent_rtp : p.caller_rtp;
        c.ssrc = p.ssrc[d];
        c.seq0 = p.seq0[d];
        c.ts0 = p.ts0[d];
        c.ip_id0 = p.ip_id[d];
        c.start_ns = p.media_start_ns[d];
        c.end_ns = p.media_end_ns[d];
        c.codec = p.codec;
        c.switch_codec = p.switch_codec;
        c.switch_ns = p.has_switch ? p.switch_ns : UINT64_MAX;
        c.tone[0] = tone(p.codec, p.tone_hz[d]);
        c.tone[1] = tone(p.switch_codec, p.tone_hz[d]);
        if (d == 0) {
          if (!o_.dtmf_info) c.dtmf = p.dtmf;
          if (p.has_hold) {
            c.pause_first_slot = p.pause_first_slot;
            c.pause_slots = p.pause_slots;
          }
          if (p.has_ssrc_change) {
            c.change_slot = static_cast<uint32_t>((p.ssrc_change_ns - c.start_ns) / kSlotNs);
            c.ssrc2 = p.ssrc2;
            c.seq2 = p.seq2;
            c.ts2 = p.ts2;
          }
        }
        c.loss_pct = o_.loss_pct;
        c.reorder_pct = o_.reorder_pct;
        c.duplicate_pct = o_.duplicate_pct;
        c.jitter_us = o_.jitter_us;
        c.rng_seed = MixSeed(o_.seed, static_cast<uint64_t>(p.index), 10 + d);
        if (o_.rtcp) {
          const std::string& user =
              d == 0 ? p.ani : agents_[static_cast<size_t>(p.agent)].extension;
          std::string cname = fmt::format("{}@{}", user, HostText(c.src));
          call->src[3 + d] = std::make_unique<RtcpSource>(c, fb, std::move(cname));
        }
        call->src[1 + d] = std::make_unique<RtpSource>(std::move(c), fb);
      }
      for (int s = 0; s < kSources; ++s) {
        if (call->src[s] == nullptr) continue;
        if (call->src[s]->done()) {
          call->src[s].reset();
          continue;
        }
        ++call->remaining;
        heap.push(Entry{call->src[s]->next_time(), e.call, s});
      }
      if (call->remaining > 0) active[e.call] = std::move(call);
      continue;
    }

    ActiveCall& call = *active[e.call];
    Source& src = *call.src[e.src];
    src.Emit(w);
    if (!src.done()) {
      heap.push(Entry{src.next_time(), e.call, e.src});
      continue;
    }
    CallResult& r = results_[e.call];
    if (e.src == 1 || e.src == 2) {
      r.rtp[e.src - 1] = static_cast<RtpSource&>(src).stream().counts();
    } else if (e.src >= 3) {
      r.rtcp[e.src - 3] = static_cast<RtcpSource&>(src).sent();
    }
    call.src[e.src].reset();
    if (--call.remaining == 0) active[e.call].reset();
  }
  return absl::OkStatus();
}

}  // namespace callvault::callgen
