// Retention purge throughput (issue 7): calls purged per second over an index of >= 1 M
// calls. Setup (not timed): a fresh store with N synthetic calls (one 160-byte RTP block,
// ANI, dialled number and agent each, so every blind index entry exists), half of them
// older than the cutoff on 2024 days, half young on 2026 days; written through the real
// StoreWriter, sealed every 2,000 calls. Timed: one RunRetention() — selection, destroy
// (crypto-shred + index, synced batches), dead segment deletion and the full index
// compaction. items/s = calls purged per second; bytes/s = sealed block bytes purged.
// Phase counters in wall seconds (*_s) and in process CPU seconds of all threads
// (*_cpu_s; calls_per_cpu_s = purged / whole-purge CPU), for runs on a loaded machine.
// Two index states:
//  - BM_Retention_Purge: a freshly written store. Its whole index is still in level-0
//    files and memtables, each spanning old and young ids, so the index compaction has to
//    rewrite every column family whole whatever range it is asked for.
//  - BM_Retention_PurgeSettled: the same store after one full index compaction (untimed)
//    — the state a nightly purge leaves — so the SST files are sorted by id and the
//    ranged compaction of the id-keyed column families (Store::CompactDestroyed) only
//    rewrites the old half; the blind indexes are rewritten whole in both.
//   build-rel/storage/retention/retention_bench --benchmark_filter=BM_Retention
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <filesystem>
#include <string>

#include <fmt/format.h>

#include "appliance/common/time_util.h"
#include "storage/retention/retention.h"
#include "storage/store.h"

namespace callvault {
namespace {

// CPU seconds of the whole process (every thread: RocksDB's flush and compaction threads
// too), so the figures mean something on a loaded shared machine where wall time does not.
double ProcessCpuSeconds() {
  struct rusage u;
  ::getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

std::string TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string t = std::string(base ? base : "/tmp") + "/cv_retention_bench_XXXXXX";
  return ::mkdtemp(t.data());
}

void RunPurge(benchmark::State& state, bool settled) {
  const uint64_t n = uint64_t(state.range(0));
  const std::string dir = TempDir();
  StoreOptions o;
  o.config.path = dir + "/store";
  o.config.key_file = dir + "/master.key";
  o.create = true;
  if (!InitKeyFile(o.config.key_file).ok()) {
    state.SkipWithError("key file");
    return;
  }
  auto s = Store::Open(o);
  if (!s.ok()) {
    state.SkipWithError(std::string(s.status().message()).c_str());
    return;
  }
  Store& store = **s;
  const uint64_t old0 = *ParseTime("2024-01-01T00:00:00Z");
  const uint64_t young0 = *ParseTime("2026-01-01T00:00:00Z");
  const uint64_t step = 20 * kNsPerSec;  // 1 M calls span ~115 days on each side
  StoreWriter* w = store.writer();
  PlainBlock b;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t start = (i % 2 == 0 ? old0 : young0) + (i / 2) * step;
    CallRecord r;
    r.call_id = CallId::Make(start, fmt::format("bench-{}", i));
    r.start_ns = start;
    r.end_ns = start + 60 * kNsPerSec;
    r.state = CallState::kAnswered;
    r.ani = fmt::format("+1202{:07}", i % 10000000);
    r.dialled = "+442079460123";
    r.agent.name = fmt::format("Agent {}", i % 500);
    r.agent.extension = fmt::format("{}", 2000 + i % 500);
    w->OnCallStarted(r);
    b.info = {};
    b.info.call_id = r.call_id;
    b.info.kind = StreamKind::kRtp;
    b.info.first_ts_ns = start;
    b.info.last_ts_ns = start + 20 * kNsPerMs;
    b.info.frames = 1;
    b.payload.assign(160, uint8_t(i));
    w->Push(std::move(b));
    w->OnCallEnded(r);
    if (i % 2000 == 1999 && !w->Flush().ok()) {
      state.SkipWithError("flush");
      return;
    }
  }
  if (!w->Sync().ok()) {
    state.SkipWithError("sync");
    return;
  }
  if (settled && !store.CompactIndex().ok()) {
    state.SkipWithError("settle: compact index");
    return;
  }
  retention::RetentionOptions ro;
  ro.now_ns = *ParseTime("2026-06-01T00:00:00Z");  // cutoff 2024-12-01: every old call
  retention::RetentionReport rep;
  // Phase boundaries from the progress callback (the last event of each stage).
  std::map<std::string, double> stage_end, stage_cpu;
  auto t0 = std::chrono::steady_clock::now();
  double cpu0 = 0;
  auto progress = [&](std::string_view stage, uint64_t, uint64_t) {
    stage_end[std::string(stage)] =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    stage_cpu[std::string(stage)] = ProcessCpuSeconds() - cpu0;
  };
  for (auto _ : state) {
    t0 = std::chrono::steady_clock::now();
    cpu0 = ProcessCpuSeconds();
    auto r = retention::RunRetention(store, ro, progress);
    if (!r.ok()) {
      state.SkipWithError(std::string(r.status().message()).c_str());
      break;
    }
    rep = *r;
  }
  state.SetItemsProcessed(int64_t(rep.calls));
  state.SetBytesProcessed(int64_t(rep.bytes));
  state.counters["purged"] = double(rep.calls);
  state.counters["segments_deleted"] = double(rep.segments_deleted);
  // Seconds per phase: selection, destroy (crypto-shred + index), segment space, index
  // compaction; and the destroy-only rate.
  double sel = stage_end["select"], des = stage_end["destroy"];
  double space = stage_end["compact_segment"], idx = stage_end["compact_index"];
  state.counters["select_s"] = sel;
  state.counters["destroy_s"] = des - sel;
  state.counters["space_s"] = space - des;
  state.counters["index_compact_s"] = idx - space;
  state.counters["destroy_calls_per_s"] = des > sel ? double(rep.calls) / (des - sel) : 0;
  // The same phases in process CPU seconds (all threads), and purged calls per CPU second.
  double csel = stage_cpu["select"], cdes = stage_cpu["destroy"];
  double cspace = stage_cpu["compact_segment"], cidx = stage_cpu["compact_index"];
  state.counters["select_cpu_s"] = csel;
  state.counters["destroy_cpu_s"] = cdes - csel;
  state.counters["space_cpu_s"] = cspace - cdes;
  state.counters["index_compact_cpu_s"] = cidx - cspace;
  state.counters["cpu_s"] = cidx;
  state.counters["calls_per_cpu_s"] = cidx > 0 ? double(rep.calls) / cidx : 0;
  s->reset();
  std::filesystem::remove_all(dir);
}
void BM_Retention_Purge(benchmark::State& state) { RunPurge(state, false); }
void BM_Retention_PurgeSettled(benchmark::State& state) { RunPurge(state, true); }
BENCHMARK(BM_Retention_Purge)->Arg(1'000'000)->Iterations(1)->Unit(benchmark::kSecond)
    ->UseRealTime();
BENCHMARK(BM_Retention_PurgeSettled)->Arg(1'000'000)->Iterations(1)
    ->Unit(benchmark::kSecond)->UseRealTime();

}  // namespace
}  // namespace callvault
