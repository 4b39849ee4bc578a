// Several EnginePipelines sharing a MediaBus on whole captures — callgen scenarios and
// public captures from tests/data — each frame given to the worker a symmetric flow hash
// picks (so a call's SIP and RTP usually land on different workers), in capture order,
// against one pipeline fed everything: the same calls, final records (legs with packet
// counts, loss, duplicates, jitter, codecs, DTMF, end state) and stream contents per
// (call, kind, leg). Then two workers on two real threads with a 10 ms capture-time
// barrier (the engine's file-replay pacing), against the same reference.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <barrier>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "appliance/pipeline/multi_worker_harness.h"
#include "tests/tools/callgen/call_plan.h"
#include "tests/tools/callgen/generator.h"
#include "tests/tools/callgen/options.h"
#include "tests/tools/callgen/pcap_writer.h"

namespace callvault {
namespace {

using pipeline_testing::Differences;
using pipeline_testing::Join;
using pipeline_testing::LoadCapture;
using pipeline_testing::MultiWorker;
using pipeline_testing::OwnedFrame;
using pipeline_testing::RecordingSink;

Config TestConfig() {
  Config cfg;
  cfg.media.max_legs = 4096;
  cfg.sip.max_dialogs = 4096;
  cfg.sip.max_transactions = 8192;
  return cfg;
}

// A callgen capture (same options as the command line) in a temporary file, in memory.
std::vector<OwnedFrame> Generate(const std::vector<std::string>& args) {
  std::string path = fmt::format("{}/multi_worker_{}.pcap", ::testing::TempDir(), ::getpid());
  std::vector<std::string> argv_s = {"callgen", "-o", path};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  auto opts = callgen::ParseOptions(int(argv.size()), argv.data());
  EXPECT_TRUE(opts.ok()) << opts.status();
  if (!opts.ok()) return {};
  const std::vector<callgen::Agent> agents = callgen::MakeAgents(opts->concurrency);
  const std::vector<callgen::CallPlan> plans = callgen::PlanCalls(*opts, agents);
  callgen::PcapWriter w;
  EXPECT_TRUE(w.Open(path).ok());
  callgen::Generator gen(*opts, agents, plans);
  EXPECT_TRUE(gen.Run(w).ok());
  EXPECT_TRUE(w.Close().ok());
  auto frames = LoadCapture(path);
  std::remove(path.c_str());
  EXPECT_TRUE(frames.ok()) << frames.status();
  return frames.ok() ? *std::move(frames) : std::vector<OwnedFrame>{};
}

std::string DataFile(const char* name) {
  const char* dir = std::getenv("CV_TEST_DATA");
  return fmt::format("{}/{}", dir != nullptr ? dir : "tests/data", name);
}

enum class Route { kFlowHash, kSignallingApart, kFragmentsApart };

// Feeds every frame, finishes, and returns the differences of the workers from the
// reference (Differences(): none expected unless a test says which).
std::vector<std::string> RunAndDiff(const std::vector<OwnedFrame>& frames, unsigned workers,
                                    Route route, bool exact_events = true) {
  EXPECT_FALSE(frames.empty());
  MultiWorker mw(TestConfig(), workers, 4096);
  EXPECT_TRUE(mw.status().ok()) << mw.status();
  if (!mw.status().ok()) return {"no pipelines"};
  for (const OwnedFrame& f : frames) {
    mw.Feed(f.frame, int(route == Route::kFlowHash          ? mw.FlowWorker(f.frame)
                         : route == Route::kSignallingApart ? mw.SignallingApart(f.frame)
                                                            : mw.FragmentsApart(f.frame)));
  }
  mw.Finish();
  EXPECT_FALSE(mw.single.calls.empty());
  EXPECT_EQ(mw.Counter("drop.pipeline.bus_full"), 0u);
  EXPECT_EQ(mw.Counter("drop.pipeline.bus_leg_unknown_call"), 0u);
  EXPECT_EQ(mw.Counter("bus.sent.session"), mw.Counter("bus.received.session"));
  EXPECT_EQ(mw.Counter("bus.sent.leg"), mw.Counter("bus.received.leg"));
  EXPECT_GT(mw.Counter("bus.received.session"), 0u);
  for (unsigned w = 0; w < workers; ++w) EXPECT_GT(mw.frames_per_worker[w], 0u) << w;
  return Differences(mw.multi, mw.single, exact_events);
}

void RunAndCompare(const std::vector<OwnedFrame>& frames, unsigned workers, Route route,
                   bool exact_events = true) {
  const auto diff = RunAndDiff(frames, workers, route, exact_events);
  EXPECT_TRUE(diff.empty()) << diff.size() << " differences:\n" << Join(diff);
}

const std::vector<std::string> kScenario = {
    "--calls", "24", "--duration", "6:12", "--ring", "1:2", "--codec", "mixed",
    "--loss", "2", "--reorder", "1", "--duplicate", "1", "--dtmf", "4321#", "--dtmf-at", "1",
    "--codec-switch-at", "3", "--rtp-after-bye", "800", "--cancel", "10", "--busy", "10",
    "--no-bye", "10", "--nat", "25", "--seed", "7"};

TEST(MultiWorkerCapture, CallgenTwoWorkersMatchOneWorker) {
  const std::vector<OwnedFrame> frames = Generate(kScenario);
  RunAndCompare(frames, 2, Route::kFlowHash);
  RunAndCompare(frames, 2, Route::kSignallingApart);
}

TEST(MultiWorkerCapture, CallgenThreeWorkersWithRtcpMatchOneWorker) {
  std::vector<std::string> args = kScenario;
  args.insert(args.end(), {"--rtcp", "--hold-at", "2", "--hold-for", "2"});
  // RTCP flows hash apart from their RTP: such legs are reported by two workers, and
  // store one summary (kEvents block) per report.
  RunAndCompare(Generate(args), 3, Route::kFlowHash, /*exact_events=*/false);
}

TEST(MultiWorkerCapture, PublicCapturesMatchOneWorker) {
  for (const char* name : {"sipnab_invite-opus-bye.pcap", "wswiki_sip-rtp-g722.pcap",
                           "sipnab_codec-negotiation_reinvite.pcap",
                           "voipshark_SIP-SRTP-Normal_Call_two_parties.pcap"}) {
    SCOPED_TRACE(name);
    auto frames = LoadCapture(DataFile(name));
    ASSERT_TRUE(frames.ok()) << frames.status();
    RunAndCompare(*frames, 2, Route::kSignallingApart);
  }
}

// The INVITE of this capture is IP-fragmented. With its fragments on worker 1 and every
// other frame of its dialog on worker 0 (RSS hashing fragments by address pair), worker 1
// rebuilds the INVITE and hands it to worker 0, which runs the dialog: as one worker.
TEST(MultiWorkerCapture, FragmentedSipOnAnotherWorkerJoinsItsDialog) {
  auto frames = LoadCapture(DataFile("voipshark_SIP-SRTP-Normal_Call_two_parties.pcap"));
  ASSERT_TRUE(frames.ok()) << frames.status();
  RunAndCompare(*frames, 2, Route::kFragmentsApart);
}

// A call through a PBX (B2BUA): its two dialogs (caller-PBX, PBX-callee) hash to
// different workers by flow. The worker that is not 0 hands its SIP to worker 0, which
// runs every dialog, so the two are linked into one call as with one worker: the same
// calls with the same SIP identity and outcome, and every SIP frame stored as evidence.
// (Not compared: this capture's RTP and RTCP flows also hash apart, so its legs are
// reported by both workers and combined — the documented RTCP limit, not signalling.)
TEST(MultiWorkerCapture, PbxDialogsOnTwoWorkersAreOneCall) {
  auto frames = LoadCapture(DataFile("voipshark_SIP-SRTP-Normal_Call_two_parties.pcap"));
  ASSERT_TRUE(frames.ok()) << frames.status();
  MultiWorker mw(TestConfig(), 2, 4096);
  ASSERT_TRUE(mw.status().ok()) << mw.status();
  for (const OwnedFrame& f : *frames) mw.Feed(f.frame, int(mw.FlowWorker(f.frame)));
  mw.Finish();
  EXPECT_GT(mw.Counter("bus.sent.sip"), 0u) << "the dialogs did not hash apart";
  EXPECT_EQ(mw.Counter("bus.sent.sip"), mw.Counter("bus.received.sip"));
  EXPECT_EQ(mw.Counter("bus.sip_kept_local"), 0u);
  EXPECT_EQ(mw.Counter("sip.messages"), mw.ReferenceCounter("sip.messages"));
  ASSERT_EQ(mw.multi.calls.size(), mw.single.calls.size());
  for (const auto& [id, want] : mw.single.calls) {
    auto it = mw.multi.calls.find(id);
    ASSERT_NE(it, mw.multi.calls.end()) << "missing call " << pipeline_testing::Describe(want);
    const CallRecord& got = it->second;
    EXPECT_EQ(got.sip_call_ids, want.sip_call_ids);
    EXPECT_EQ(got.state, want.state);
    EXPECT_EQ(got.sip_code, want.sip_code);
    EXPECT_EQ(got.start_ns, want.start_ns);
    EXPECT_EQ(got.answer_ns, want.answer_ns);
    EXPECT_EQ(got.end_ns, want.end_ns);
    EXPECT_EQ(got.ani, want.ani);
    EXPECT_EQ(got.dialled, want.dialled);
    EXPECT_EQ(got.merged_into, want.merged_into);
    EXPECT_EQ(got.legs.size(), want.legs.size());
  }
  EXPECT_EQ(mw.multi.ends, mw.single.ends);
  for (const auto& [key, s] : mw.single.streams) {
    if (std::get<1>(key) != int(StreamKind::kSignalling)) continue;
    auto it = mw.multi.streams.find(key);
    ASSERT_NE(it, mw.multi.streams.end());
    EXPECT_EQ(RecordingSink::Content(it->second), RecordingSink::Content(s));
  }
}

// Two SIP calls and two orphan RTP flows (SIP not captured). A call's RTCP on another
// worker than its RTP makes two leg summaries (exact_events off); an orphan is known only
// to the worker that detected it, so the RTCP of the orphan whose RTP hashed to the other
// worker is not recorded (counted as drop.media.not_rtp): the only differences.
TEST(MultiWorkerCapture, PublicCaptureWithOrphansDiffersOnlyInOrphanRtcp) {
  auto frames = LoadCapture(DataFile("wswiki_SIP_CALL_RTP_G711.pcap"));
  ASSERT_TRUE(frames.ok()) << frames.status();
  const auto diff = RunAndDiff(*frames, 2, Route::kFlowHash, /*exact_events=*/false);
  const std::vector<std::string> want = {"missing stream 101726008f53b81e kind 2 leg 0",
                                         "missing stream 101726008f53b81e kind 2 leg 1"};
  EXPECT_EQ(diff, want) << Join(diff);
}

// Merges what each thread's sink got (the store writer takes every ring's blocks).
void MergeInto(RecordingSink& all, RecordingSink& part) {
  for (auto& [id, c] : part.calls) {
    EXPECT_EQ(all.calls.count(id), 0u) << "call reported by two workers";
    all.calls[id] = c;
  }
  for (auto& [id, n] : part.ends) all.ends[id] += n;
  for (auto& [key, s] : part.streams) {
    RecordingSink::Stream& into = all.streams[key];
    into.frames += s.frames;
    into.duplicate_seqs += s.duplicate_seqs;
    for (auto& [seq, p] : s.blocks) {
      if (into.blocks.count(seq) != 0) ++into.duplicate_seqs;
      into.blocks[seq] = p;
    }
  }
}

TEST(MultiWorkerCapture, TwoThreadsWithCaptureTimeBarrier) {
  const std::vector<OwnedFrame> frames = Generate(kScenario);
  ASSERT_FALSE(frames.empty());
  // The reference, and the route of every frame.
  MultiWorker route(TestConfig(), 2, 4096);
  std::vector<unsigned> worker_of;
  for (const OwnedFrame& f : frames) {
    worker_of.push_back(route.FlowWorker(f.frame));
    route.Feed(f.frame, int(worker_of.back()));
  }
  route.Finish();
  // 10 ms chunks of capture time: each thread advances to the chunk's start, processes
  // its frames of the chunk, then waits for the other (mq's barrier, coarser).
  std::vector<size_t> chunk_begin;
  uint64_t tick = 0;
  for (size_t i = 0; i < frames.size(); ++i) {
    const uint64_t t = frames[i].frame.ts_ns / MultiWorker::kTickNs;
    if (i == 0 || t != tick) chunk_begin.push_back(i);
    tick = t;
  }
  chunk_begin.push_back(frames.size());
  MediaBus bus(2, 4096);
  RecordingSink sinks[2];
  std::unique_ptr<Pipeline> pipelines[2];
  for (unsigned w = 0; w < 2; ++w) {
    auto p = MakeEnginePipeline(TestConfig(), &sinks[w], nullptr, PipelineWorker{&bus, w});
    ASSERT_TRUE(p.ok()) << p.status();
    pipelines[w] = *std::move(p);
  }
  std::barrier sync(2);
  auto run = [&](unsigned w) {
    Pipeline& p = *pipelines[w];
    for (size_t c = 0; c + 1 < chunk_begin.size(); ++c) {
      const uint64_t t = frames[chunk_begin[c]].frame.ts_ns;
      p.Advance(t / MultiWorker::kTickNs * MultiWorker::kTickNs);
      for (size_t i = chunk_begin[c]; i < chunk_begin[c + 1]; ++i) {
        if (worker_of[i] == w) p.ProcessBurst(Burst(&frames[i].frame, 1));
      }
      sync.arrive_and_wait();
    }
    using Step = Pipeline::FinishStep;
    for (Step s : {Step::kSignalling, Step::kMedia, Step::kCalls}) {
      p.RunFinishStep(s);
      sync.arrive_and_wait();
    }
  };
  std::thread t1(run, 1);
  run(0);
  t1.join();
  RecordingSink all;
  MergeInto(all, sinks[0]);
  MergeInto(all, sinks[1]);
  const auto diff = Differences(all, route.single);
  EXPECT_TRUE(diff.empty()) << diff.size() << " differences:\n" << Join(diff);
}

}  // namespace
}  // namespace callvault
