// Test helpers (tests only): N EnginePipelines sharing a MediaBus, driven from one thread
// the way the DPDK engine's capture-time barrier drives its workers, next to one
// reference pipeline fed every frame; a sink that records everything a pipeline hands
// on; and captures loaded into memory.
//
// Routing: FlowWorker() is a symmetric flow hash (the sorted (ip, port) pair of the
// decoded packet, mod N), as symmetric RSS spreads flows over RX queues, so a call's SIP
// and its RTP flows often land on different workers. Frames the decoder holds (IP
// fragments) or rebuilds go to worker 0: an RSS 2-tuple keeps fragments together.
// SignallingApart() puts every SIP frame on worker 0 and all other traffic on the
// last worker, so that every call's media is away from its SIP. SIP read by workers
// other than 0 is handed to worker 0 (pipeline.h), which the harness lets run it at
// once, before the next frame.
// Timers: before a frame of capture time t, every pipeline (workers and reference) is
// advanced to t rounded down to 10 ms, so all of them run their timers at the same
// moments (the pipeline's own 10 ms Advance() then never fires first).
#ifndef CALLVAULT_APPLIANCE_PIPELINE_MULTI_WORKER_HARNESS_H_
#define CALLVAULT_APPLIANCE_PIPELINE_MULTI_WORKER_HARNESS_H_

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "appliance/capture/pcap_source.h"
#include "appliance/common/status.h"
#include "appliance/common/time_util.h"
#include "appliance/config/config.h"
#include "appliance/decode/decoder.h"
#include "appliance/pipeline/engine_pipeline.h"
#include "appliance/pipeline/media_bus.h"

namespace callvault::pipeline_testing {

// A frame that owns its bytes (moving keeps `frame.data` valid: the buffer moves along).
struct OwnedFrame {
  std::vector<uint8_t> bytes;
  Frame frame;
  OwnedFrame(const Frame& f) : bytes(f.data, f.data + f.caplen), frame(f) {  // NOLINT
    frame.data = bytes.data();
  }
  OwnedFrame(OwnedFrame&&) = default;
  OwnedFrame& operator=(OwnedFrame&&) = default;
  OwnedFrame(const OwnedFrame&) = delete;
  OwnedFrame& operator=(const OwnedFrame&) = delete;
};

inline absl::StatusOr<std::vector<OwnedFrame>> LoadCapture(const std::string& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<capture::CaptureSource> src, capture::OpenPcapFile(path));
  std::vector<OwnedFrame> out;
  Frame burst[kBurstSize];
  while (true) {
    absl::StatusOr<size_t> n = src->NextBurst(burst);
    if (!n.ok()) break;  // end of capture
    for (size_t i = 0; i < *n; ++i) out.emplace_back(burst[i]);
  }
  return out;
}

// Everything a pipeline hands on, by call: the last record (started, updated, ended,
// updated after the end), how many ends, and each stream's (call, kind, leg) blocks.
struct RecordingSink : PipelineSink {
  using StreamKey = std::tuple<uint64_t, int, uint16_t>;  // call, kind, leg
  struct Stream {
    std::map<uint32_t, std::vector<uint8_t>> blocks;  // seq -> payload
    uint64_t frames = 0;
    uint32_t duplicate_seqs = 0;  // a second block with a seq already stored
  };
  std::map<uint64_t, CallRecord> calls;
  std::map<uint64_t, int> ends;
  std::map<StreamKey, Stream> streams;

  void OnCallStarted(const CallRecord& c) override { calls[c.call_id.value] = c; }
  void OnCallUpdated(const CallRecord& c) override { calls[c.call_id.value] = c; }
  void OnCallEnded(const CallRecord& c) override {
    calls[c.call_id.value] = c;
    ++ends[c.call_id.value];
  }
  bool Push(PlainBlock&& b) override {
    Stream& s = streams[{b.info.call_id.value, int(b.info.kind), b.info.leg}];
    s.frames += b.info.frames;
    if (s.blocks.count(b.info.seq) != 0) ++s.duplicate_seqs;
    s.blocks[b.info.seq] = std::move(b.payload);
    return true;
  }
  // A stream's payloads in sequence order (block boundaries depend on timer moments).
  static std::vector<uint8_t> Content(const Stream& s) {
    std::vector<uint8_t> out;
    for (const auto& [seq, p] : s.blocks) out.insert(out.end(), p.begin(), p.end());
    return out;
  }
};

// Every field of a record, one line, for comparisons with readable failures.
inline std::string Describe(const CallRecord& r) {
  std::string s = fmt::format(
      "id={} start={} answer={} end={} state={} code={} hold={} ani={} dialled={} agent={}/{} "
      "merged_into={} sip_ids=[",
      r.call_id.ToString(), r.start_ns, r.answer_ns, r.end_ns, CallStateName(r.state),
      r.sip_code, r.on_hold, r.ani, r.dialled, r.agent.name, r.agent.extension,
      r.merged_into.value);
  for (const auto& id : r.sip_call_ids) s += id + " ";
  s += "] codecs=[";
  for (const auto& c : r.codecs) s += c + " ";
  s += "] legs=[";
  for (const MediaLeg& l : r.legs) {
    s += fmt::format("{{{} {} {}->{} {} pkts={} lost={} dup={} jitter={:.6f} enc={}}}", l.leg,
                     LegDirectionName(l.direction), l.src.ToString(), l.dst.ToString(), l.codec,
                     l.packets, l.lost, l.duplicates, l.jitter_ms, l.encrypted_media);
  }
  s += "] dtmf=[";
  for (const DtmfEvent& d : r.dtmf) {
    s += fmt::format("{{{:.6f} {} {} {}}}", d.offset_s, d.digit, d.duration_ms, d.source);
  }
  return s + "]";
}

// What `got` (the workers) differs in from `want` (the reference): calls, final records,
// end counts, and each stream's content and frame count. With `exact_events` false, a
// kEvents stream only has to exist on both sides (a leg reported by two workers, RTP on
// one and RTCP on the other, stores one summary per report).
inline std::vector<std::string> Differences(const RecordingSink& got, const RecordingSink& want,
                                            bool exact_events = true) {
  std::vector<std::string> out;
  for (const auto& [id, rec] : want.calls) {
    auto it = got.calls.find(id);
    if (it == got.calls.end()) {
      out.push_back("missing call " + Describe(rec));
    } else if (Describe(it->second) != Describe(rec)) {
      out.push_back("record differs:\n  got  " + Describe(it->second) + "\n  want " +
                    Describe(rec));
    }
  }
  for (const auto& [id, rec] : got.calls) {
    if (want.calls.count(id) == 0) out.push_back("extra call " + Describe(rec));
  }
  if (got.ends != want.ends) out.push_back("different numbers of call ends");
  for (const auto& [key, s] : want.streams) {
    const auto& [id, kind, leg] = key;
    const std::string name = fmt::format("stream {:016x} kind {} leg {}", id, kind, leg);
    auto it = got.streams.find(key);
    if (it == got.streams.end()) {
      out.push_back("missing " + name);
      continue;
    }
    if (it->second.duplicate_seqs != 0) out.push_back("duplicate block seq in " + name);
    if (kind == int(StreamKind::kEvents) && !exact_events) continue;
    if (it->second.frames != s.frames) {
      out.push_back(fmt::format("{}: {} frames, want {}", name, it->second.frames, s.frames));
    }
    if (RecordingSink::Content(it->second) != RecordingSink::Content(s)) {
      out.push_back(name + ": content differs");
    }
  }
  for (const auto& [key, s] : got.streams) {
    if (want.streams.count(key) == 0) {
      out.push_back(fmt::format("extra stream {:016x} kind {} leg {}", std::get<0>(key),
                                std::get<1>(key), std::get<2>(key)));
    }
  }
  return out;
}

inline std::string Join(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

class MultiWorker {
 public:
  static constexpr uint64_t kTickNs = 10 * kNsPerMs;

  MultiWorker(const Config& config, unsigned workers, size_t bus_capacity)
      : bus_(workers, bus_capacity), decoder_(config.decode) {
    for (unsigned w = 0; w < workers; ++w) {
      auto p = MakeEnginePipeline(config, &multi, nullptr, PipelineWorker{&bus_, w});
      status_.Update(p.status());
      if (p.ok()) workers_.push_back(*std::move(p));
    }
    auto r = MakeEnginePipeline(config, &single, nullptr);
    status_.Update(r.status());
    if (r.ok()) reference_ = *std::move(r);
    frames_per_worker.assign(workers, 0);
  }
  const absl::Status& status() const { return status_; }

  unsigned FlowWorker(const Frame& f) {
    decode::DecodedPacket pkt;
    if (decoder_.Decode(f, &pkt) != decode::DecodeDrop::kOk || pkt.reassembled) return 0;
    Endpoint a = pkt.src, b = pkt.dst;
    if (b < a) std::swap(a, b);
    uint64_t h = HashEndpoint(a) * 31 + HashEndpoint(b);
    h ^= h >> 33;
    return unsigned(h % workers_.size());
  }
  // The worst case for the hand-over: SIP (a SIP port, 5060/5061, or a payload whose
  // first line is a SIP request or status line) on worker 0, everything else (RTP, RTCP)
  // on the last worker.
  unsigned SignallingApart(const Frame& f) {
    decode::DecodedPacket pkt;
    if (decoder_.Decode(f, &pkt) != decode::DecodeDrop::kOk) return 0;
    for (uint16_t port : {pkt.src.port, pkt.dst.port}) {
      if (port == 5060 || port == 5061) return 0;
    }
    const std::string_view text(reinterpret_cast<const char*>(pkt.payload.data()),
                                pkt.payload.size());
    const std::string_view line = text.substr(0, text.find("\r\n"));
    if (line.starts_with("SIP/2.0 ") || line.ends_with(" SIP/2.0")) return 0;
    return unsigned(workers_.size() - 1);
  }

  // IP fragments (held, or completing a datagram) on the last worker, everything else on
  // worker 0: as a NIC's RSS does when it hashes fragments by address pair only and
  // unfragmented packets by ports too, so a large SIP message lands apart from its dialog.
  unsigned FragmentsApart(const Frame& f) {
    decode::DecodedPacket pkt;
    const decode::DecodeDrop d = decoder_.Decode(f, &pkt);
    if (d == decode::DecodeDrop::kHeld || (d == decode::DecodeDrop::kOk && pkt.reassembled)) {
      return unsigned(workers_.size() - 1);
    }
    return 0;
  }

  // The frame to the worker its flow hashes to (or to `worker`), and to the reference.
  void Feed(const Frame& f, int worker = -1) {
    const unsigned w = worker < 0 ? FlowWorker(f) : unsigned(worker);
    AdvanceAll(f.ts_ns);
    ++frames_per_worker[w];
    workers_[w]->ProcessBurst(Burst(&f, 1));
    // SIP read by another worker goes to worker 0, which runs every dialog: before any
    // later frame, as the engine's ordered loop holds them (PendingSignallingNs).
    if (w != 0) workers_[0]->PollBus();
    reference_->ProcessBurst(Burst(&f, 1));
  }
  void AdvanceAll(uint64_t ts_ns) {
    const uint64_t tick = ts_ns / kTickNs * kTickNs;
    if (tick < next_tick_) return;
    for (auto& p : workers_) p->Advance(tick);
    workers_[0]->PollBus();  // SIP the others' timers released (TCP), as above
    reference_->Advance(tick);
    next_tick_ = tick + kTickNs;
  }
  // The engine's phased shutdown: each step on every worker before the next step.
  void Finish() {
    using Step = Pipeline::FinishStep;
    for (Step s : {Step::kSignalling, Step::kMedia, Step::kCalls}) {
      for (auto& p : workers_) p->RunFinishStep(s);
    }
    reference_->Finish();
  }
  // A counter summed over the workers (as the engine sums them by name).
  uint64_t Counter(const std::string& name) const {
    uint64_t sum = 0;
    for (const auto& p : workers_) {
      for (const auto& [n, v] : p->Counters()) {
        if (n == name) sum += v;
      }
    }
    return sum;
  }
  uint64_t ReferenceCounter(const std::string& name) const {
    for (const auto& [n, v] : reference_->Counters()) {
      if (n == name) return v;
    }
    return 0;
  }
  Pipeline& worker(unsigned w) { return *workers_[w]; }
  MediaBus& bus() { return bus_; }

  RecordingSink multi;   // what the workers produced together
  RecordingSink single;  // what the reference pipeline produced
  std::vector<uint64_t> frames_per_worker;

 private:
  MediaBus bus_;
  decode::Decoder decoder_;
  absl::Status status_;
  std::vector<std::unique_ptr<Pipeline>> workers_;
  std::unique_ptr<Pipeline> reference_;
  uint64_t next_tick_ = 0;
};

}  // namespace callvault::pipeline_testing

#endif  // CALLVAULT_APPLIANCE_PIPELINE_MULTI_WORKER_HARNESS_H_
