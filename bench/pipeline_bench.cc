// Pipeline benchmarks: the media hand-over (appliance/pipeline/media_bus.h).
//   BM_Pipeline_RtpBurst/calls/bus: RTP frames/s through EnginePipeline::ProcessBurst
//     (decode, classify, match, stats, block append) in bursts of 32, legs interleaved as
//     on the wire (every leg one 214-byte G.711 frame per 20 ms tick). bus = 0: the
//     pipeline saw the calls' SIP itself; bus = 1: another worker saw the SIP and this one
//     matches on the replicas it received over a MediaBus of 2 workers (the hand-over
//     case; the burst path only adds the per-burst drain check).
//   BM_MediaBus_DrainEmpty: the per-burst check when nothing is queued.
//   BM_MediaBus_SessionHandOver: one MediaSession copied, sent and drained (control path).
// Figures: release builds only (docs/BENCHMARKS.md).
#include <benchmark/benchmark.h>

#include <fmt/format.h>

#include <memory>
#include <string>
#include <vector>

#include "appliance/common/time_util.h"
#include "appliance/config/config.h"
#include "appliance/media/test_util.h"
#include "appliance/pipeline/engine_pipeline.h"
#include "appliance/pipeline/media_bus.h"

namespace callvault {
namespace {

using media::testing::RtpBytes;
using media::testing::TestPacket;

struct NullSink : PipelineSink {
  void OnCallStarted(const CallRecord&) override {}
  void OnCallUpdated(const CallRecord&) override {}
  void OnCallEnded(const CallRecord&) override {}
  bool Push(PlainBlock&&) override { return true; }
};

constexpr uint64_t kT0 = 1700000000ull * kNsPerSec;
constexpr uint64_t kTickNs = 20 * kNsPerMs;
constexpr int kTicksPerRound = 50;  // frames are rebuilt (untimed) every second of capture

Endpoint CallerRtp(int c) { return {IpAddress::FromV4(0xC0000200u + uint32_t(c % 200)), uint16_t(10000 + 2 * (c / 200))}; }
Endpoint AgentRtp(int c) { return {IpAddress::FromV4(0x0A140000u + uint32_t(c % 200)), uint16_t(20000 + 2 * (c / 200))}; }

std::string Sip(const std::string& start, int c, const std::string& method,
                const std::string& to_tag, const Endpoint* sdp) {
  std::string body;
  if (sdp != nullptr) {
    body = fmt::format("v=0\r\no=- 1 1 IN IP4 {0}\r\ns=-\r\nc=IN IP4 {0}\r\nt=0 0\r\n"
                       "m=audio {1} RTP/AVP 0\r\na=sendrecv\r\n",
                       sdp->ip.ToString(), sdp->port);
  }
  std::string to = "<sip:2001@pbx.example.com>";
  if (!to_tag.empty()) to += ";tag=" + to_tag;
  std::string m = fmt::format(
      "{}\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-{}-{}\r\n"
      "From: <sip:+12025550143@carrier.example.com>;tag=f{}\r\nTo: {}\r\nCall-ID: bench{}@h\r\n"
      "CSeq: 1 {}\r\nMax-Forwards: 70\r\n{}Content-Length: {}\r\n\r\n",
      start, c, method, c, to, c, method,
      sdp != nullptr ? "Content-Type: application/sdp\r\n" : "", body.size());
  return m + body;
}

class RtpWorkload {
 public:
  RtpWorkload(int calls, bool bus) : calls_(calls) {
    Config cfg;
    if (bus) {
      bus_ = std::make_unique<MediaBus>(2, 4096);
      signalling_ = *MakeEnginePipeline(cfg, &sink_, nullptr, PipelineWorker{bus_.get(), 1});
      media_ = *MakeEnginePipeline(cfg, &sink_, nullptr, PipelineWorker{bus_.get(), 0});
    } else {
      media_ = *MakeEnginePipeline(cfg, &sink_, nullptr);
    }
    Pipeline& sip = bus ? *signalling_ : *media_;
    const Endpoint caller{IpAddress::FromV4(0xC0000201u), 5060}, pbx{IpAddress::FromV4(0x0A000001u), 5060};
    uint64_t t = kT0;
    for (int c = 0; c < calls; ++c) {
      const Endpoint a = CallerRtp(c), b = AgentRtp(c);
      Feed(sip, caller, pbx, Sip("INVITE sip:2001@pbx.example.com SIP/2.0", c, "INVITE", "", &a), t);
      Feed(sip, pbx, caller, Sip("SIP/2.0 200 OK", c, "INVITE", "tt", &b), t + 1000);
      Feed(sip, caller, pbx, Sip("ACK sip:2001@pbx.example.com SIP/2.0", c, "ACK", "tt", nullptr), t + 2000);
      t += 10000;
    }
    media_->Advance(t);  // the replicas arrive (bus) before the first RTP
    now_ = kT0 + kNsPerSec;
    Build();
  }

  // One burst of up to 32 frames; rebuilds the next second of frames when one is used up.
  void Burst(benchmark::State& state) {
    if (next_ == frames_.size()) {
      state.PauseTiming();
      Build();
      state.ResumeTiming();
    }
    const size_t n = std::min(kBurstSize, frames_.size() - next_);
    for (size_t i = 0; i < n; ++i) burst_[i] = frames_[next_ + i]->frame;
    media_->ProcessBurst(callvault::Burst(burst_, n));
    next_ += n;
    processed_ += n;
  }
  uint64_t processed() const { return processed_; }

 private:
  static void Feed(Pipeline& p, const Endpoint& s, const Endpoint& d, const std::string& text,
                   uint64_t ts) {
    TestPacket pkt(s, d, std::vector<uint8_t>(text.begin(), text.end()), ts);
    p.ProcessBurst(callvault::Burst(&pkt.frame, 1));
  }
  void Build() {
    frames_.clear();
    next_ = 0;
    const std::vector<uint8_t> audio(160, 0xff);
    for (int tick = 0; tick < kTicksPerRound; ++tick) {
      for (int c = 0; c < calls_; ++c) {
        for (int dir = 0; dir < 2; ++dir) {
          const Endpoint src = dir == 0 ? CallerRtp(c) : AgentRtp(c);
          const Endpoint dst = dir == 0 ? AgentRtp(c) : CallerRtp(c);
          const uint64_t ts = now_ + uint64_t(c * 2 + dir) * (kTickNs / uint64_t(2 * calls_ + 1));
          frames_.push_back(std::make_unique<TestPacket>(
              src, dst, RtpBytes(seq_, uint32_t(seq_) * 160, 0x1000u + uint32_t(c * 2 + dir), 0, audio), ts));
        }
      }
      ++seq_;
      now_ += kTickNs;
    }
  }

  int calls_;
  NullSink sink_;
  std::unique_ptr<MediaBus> bus_;
  std::unique_ptr<Pipeline> signalling_, media_;
  std::vector<std::unique_ptr<TestPacket>> frames_;
  Frame burst_[kBurstSize];
  size_t next_ = 0;
  uint64_t now_ = 0;
  uint16_t seq_ = 0;
  uint64_t processed_ = 0;
};

void BM_Pipeline_RtpBurst(benchmark::State& state) {
  RtpWorkload w(int(state.range(0)), state.range(1) != 0);
  for (auto _ : state) w.Burst(state);
  state.SetItemsProcessed(int64_t(w.processed()));
  state.SetBytesProcessed(int64_t(w.processed()) * (14 + 20 + 8 + 12 + 160));
}
BENCHMARK(BM_Pipeline_RtpBurst)->ArgsProduct({{64, 1024}, {0, 1}});

void BM_MediaBus_DrainEmpty(benchmark::State& state) {
  MediaBus bus(4, 4096);
  size_t n = 0;
  for (auto _ : state) {
    n += bus.Drain(0, [](BusMessage&&) {});
    benchmark::DoNotOptimize(n);
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(BM_MediaBus_DrainEmpty);

void BM_MediaBus_SessionHandOver(benchmark::State& state) {
  MediaBus bus(2, 4096);
  calls::MediaSession s;
  s.call_id = CallId{42};
  for (int side = 0; side < 2; ++side) {
    calls::MediaStream m;
    m.rtp = side == 0 ? CallerRtp(1) : AgentRtp(1);
    m.payload_types = {{0, "PCMU", 8000, 1}, {8, "PCMA", 8000, 1}, {101, "telephone-event", 8000, 1}};
    s.side[side].streams.push_back(m);
  }
  uint64_t dialogs = 0;
  for (auto _ : state) {
    BusMessage m;
    m.body = BusSession{s};
    if (!bus.Send(1, 0, std::move(m))) state.SkipWithError("bus full");
    bus.Drain(0, [&](BusMessage&& r) { dialogs += std::get<BusSession>(r.body).session.dialog + 1; });
  }
  benchmark::DoNotOptimize(dialogs);
  state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(BM_MediaBus_SessionHandOver);

}  // namespace
}  // namespace callvault
