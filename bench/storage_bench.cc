// Storage benchmarks (issue 4): sealing throughput, writer throughput, index entries/s,
// and search latency by ANI.
//
//   BM_Seal_Block/<bytes>      XChaCha20-Poly1305 sealing of one block (target >= 500 MB/s
//                              per core with 64 KiB blocks)
//   BM_Open_Block/<bytes>      verify + decrypt
//   BM_Store_WriteBlocks       writer Push of 64 KiB blocks, Flush (fsync + rename + batch)
//                              every 64 blocks, into a temporary store
//   BM_Index_Calls             call records through the writer: 7 index entries per call
//                              (calls, time, keys, ani, dialled, agent name, extension)
//   BM_Search_AniLatency       Search({ani}) over an index of CV_BENCH_SEARCH_CALLS calls
//                              (default 200000); counters p50_ms / p99_ms. With
//                              CV_BENCH_STORE=DIR the index is built once in DIR and reused
//                              (the 10 M run: see docs/BENCHMARKS.md "Storage").
//   BM_Store_MergeSmallSegments  MergeSmallSegments() of a closed day holding
//                              CV_BENCH_MERGE_SEGMENTS (default 1000) small segments of
//                              8 blocks of 16 KiB (one writer flush each) into 64 MiB
//                              segments; items = input segments, bytes = input bytes.
//                              Each iteration merges a fresh copy of the same store (the
//                              copy, not timed, leaves the inputs in the page cache).
#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "storage/keys/key_ring.h"
#include "storage/maintenance/segment_merge.h"
#include "storage/segment/block_codec.h"
#include "storage/store.h"

namespace callvault {
namespace {

constexpr uint64_t kT0 = 1'780'000'000'000'000'000ull;

std::string TempStoreDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base ? base : "/tmp") + "/cvbench_XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  return ::mkdtemp(buf.data());
}

std::unique_ptr<Store> OpenStore(const std::string& dir) {
  StoreOptions o;
  o.config.path = dir + "/store";
  o.config.key_file = dir + "/master.key";
  o.create = true;
  if (!std::filesystem::exists(o.config.key_file)) (void)InitKeyFile(o.config.key_file);
  auto s = Store::Open(o);
  if (!s.ok()) {
    fmt::print(stderr, "open store: {}\n", s.status().ToString());
    std::abort();
  }
  return std::move(*s);
}

// Args: payload bytes, block format (1 = XChaCha20-Poly1305, 2 = AES-256-GCM), and for
// format 2 whether libsodium seals it even where ipsec-mb is built in (1) or not (0).
void BM_Seal_Block(benchmark::State& state) {
  if (sodium_init() < 0) state.SkipWithError("sodium");
  const auto cipher = BlockCipher(state.range(1));
  if (cipher == BlockCipher::kAes256Gcm && crypto_aead_aes256gcm_is_available() == 0) {
    state.SkipWithError("no AES-NI/PCLMUL on this CPU");
    return;
  }
  BlockSealer sealer(cipher, state.range(2) != 0);
  state.SetLabel(fmt::format("{} ({})", BlockCipherName(cipher), sealer.implementation()));
  std::size_t n = std::size_t(state.range(0));
  std::vector<uint8_t> payload(n, 0x5a), out;
  out.reserve(SealedBlockSize(n));
  uint8_t dek[32];
  randombytes_buf(dek, sizeof dek);
  BlockInfo info;
  info.call_id = CallId{12345};
  for (auto _ : state) {
    out.clear();
    if (!sealer.Seal(info, payload, dek, out)) state.SkipWithError("seal failed");
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
  state.SetBytesProcessed(int64_t(state.iterations() * n));
}
BENCHMARK(BM_Seal_Block)
    ->ArgsProduct({{160, 16384, 65536}, {1}, {1}})
    ->ArgsProduct({{160, 16384, 65536}, {2}, {0, 1}});

void BM_Open_Block(benchmark::State& state) {
  if (sodium_init() < 0) state.SkipWithError("sodium");
  const auto cipher = BlockCipher(state.range(1));
  if (cipher == BlockCipher::kAes256Gcm && crypto_aead_aes256gcm_is_available() == 0) {
    state.SkipWithError("no AES-NI/PCLMUL on this CPU");
    return;
  }
  state.SetLabel(BlockCipherName(cipher));
  std::size_t n = std::size_t(state.range(0));
  std::vector<uint8_t> payload(n, 0x5a), sealed;
  uint8_t dek[32];
  randombytes_buf(dek, sizeof dek);
  BlockInfo info;
  info.call_id = CallId{12345};
  if (!BlockSealer(cipher).Seal(info, payload, dek, sealed)) state.SkipWithError("seal failed");
  PlainBlock out;
  for (auto _ : state) {
    if (!OpenBlock(sealed, dek, &out).ok()) state.SkipWithError("open failed");
    benchmark::DoNotOptimize(out.payload.data());
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
  state.SetBytesProcessed(int64_t(state.iterations() * n));
}
BENCHMARK(BM_Open_Block)->ArgsProduct({{65536}, {1, 2}});

void BM_Store_WriteBlocks(benchmark::State& state) {
  std::string dir = TempStoreDir();
  {
    auto store = OpenStore(dir);
    StoreWriter* w = store->writer();
    std::vector<uint8_t> payload(65536, 0x33);
    uint64_t n = 0;
    for (auto _ : state) {
      PlainBlock b;
      b.info.call_id = CallId::Make(kT0 + (n / 64) * 1'000'000ull, "bench");
      b.info.seq = uint32_t(n);
      b.info.first_ts_ns = kT0;
      b.payload = payload;
      w->Push(std::move(b));
      if (++n % 64 == 0 && !w->Flush().ok()) state.SkipWithError("flush failed");
    }
    (void)w->Sync();
    state.SetItemsProcessed(int64_t(state.iterations()));
    state.SetBytesProcessed(int64_t(state.iterations() * payload.size()));
  }
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_Store_WriteBlocks)->Unit(benchmark::kMicrosecond);

// A synthetic call whose ANI repeats rarely (about 3 calls per number at 10 M calls).
CallRecord SyntheticCall(uint64_t n, uint64_t total) {
  CallRecord r;
  r.start_ns = kT0 + n * 50'000'000ull;  // 20 calls/s
  r.call_id = CallId::Make(r.start_ns, fmt::format("c{}", n));
  r.end_ns = r.start_ns + 120'000'000'000ull;
  r.state = CallState::kAnswered;
  r.sip_code = 200;
  uint64_t distinct = std::max<uint64_t>(total / 3, 1);
  r.ani = fmt::format("+1{}", 2'000'000'000ull + (n * 2654435761ull) % distinct);
  r.dialled = fmt::format("+1800{}", 5550000 + n % 50);
  r.agent.name = fmt::format("Agent {}", n % 2000);
  r.agent.extension = fmt::format("{}", 2000 + n % 2000);
  r.sip_call_ids = {fmt::format("{}@pbx", n)};
  return r;
}

void BM_Index_Calls(benchmark::State& state) {
  std::string dir = TempStoreDir();
  {
    auto store = OpenStore(dir);
    StoreWriter* w = store->writer();
    uint64_t n = 0;
    for (auto _ : state) {
      CallRecord r = SyntheticCall(n, 1'000'000);
      w->OnCallEnded(r);
      if (++n % 10000 == 0 && !w->Flush().ok()) state.SkipWithError("flush failed");
    }
    (void)w->Sync();
    state.SetItemsProcessed(int64_t(state.iterations() * 7));  // index entries
    state.counters["calls/s"] =
        benchmark::Counter(double(state.iterations()), benchmark::Counter::kIsRate);
  }
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_Index_Calls)->Unit(benchmark::kMicrosecond)->Iterations(200000);

void BM_Search_AniLatency(benchmark::State& state) {
  const char* env_n = std::getenv("CV_BENCH_SEARCH_CALLS");
  const char* env_dir = std::getenv("CV_BENCH_STORE");
  uint64_t total = env_n ? std::strtoull(env_n, nullptr, 10) : 200000;
  std::string dir = env_dir ? std::string(env_dir) : TempStoreDir();
  std::filesystem::create_directories(dir);
  auto store = OpenStore(dir);
  std::string marker = dir + "/built." + std::to_string(total);
  if (!std::filesystem::exists(marker)) {
    auto t0 = std::chrono::steady_clock::now();
    StoreWriter* w = store->writer();
    for (uint64_t n = 0; n < total; ++n) {
      w->OnCallEnded(SyntheticCall(n, total));
      if ((n + 1) % 20000 == 0) {
        if (!w->Flush().ok()) state.SkipWithError("flush failed");
        if ((n + 1) % 1'000'000 == 0) fmt::print(stderr, "  built {} calls\n", n + 1);
      }
    }
    (void)w->Sync();
    (void)store->CompactIndex();
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    fmt::print(stderr, "built index of {} calls in {:.1f} s ({:.0f} calls/s)\n", total, s,
               double(total) / s);
    std::FILE* f = std::fopen(marker.c_str(), "w");
    if (f) std::fclose(f);
  }
  std::mt19937_64 rng(99);
  std::vector<double> lat;
  uint64_t found = 0;
  for (auto _ : state) {
    SearchCriteria c;
    c.ani = SyntheticCall(rng() % total, total).ani;
    c.limit = 100;
    auto t0 = std::chrono::steady_clock::now();
    auto r = store->Search(c);
    lat.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    if (!r.ok() || r->empty()) state.SkipWithError("search found nothing");
    found += r.ok() ? r->size() : 0;
  }
  std::sort(lat.begin(), lat.end());
  if (!lat.empty()) {
    state.counters["p50_ms"] = lat[lat.size() / 2];
    state.counters["p99_ms"] = lat[std::min(lat.size() - 1, lat.size() * 99 / 100)];
    state.counters["calls_in_index"] = double(total);
    state.counters["hits_per_search"] = double(found) / double(lat.size());
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
  store.reset();
  if (!env_dir) std::filesystem::remove_all(dir);
}
BENCHMARK(BM_Search_AniLatency)->Unit(benchmark::kMicrosecond)->Iterations(2000);

void BM_Store_MergeSmallSegments(benchmark::State& state) {
  const char* env_n = std::getenv("CV_BENCH_MERGE_SEGMENTS");
  const uint64_t segments = env_n ? std::strtoull(env_n, nullptr, 10) : 1000;
  std::string tmpl = TempStoreDir();
  {
    auto store = OpenStore(tmpl);
    StoreWriter* w = store->writer();
    std::vector<uint8_t> payload(16384, 0x44);
    uint64_t n = 0;
    for (uint64_t s = 0; s < segments; ++s) {
      for (int c = 0; c < 4; ++c, ++n) {
        CallRecord r = SyntheticCall(n, segments * 4);
        w->OnCallStarted(r);
        for (uint32_t seq = 0; seq < 2; ++seq) {
          PlainBlock b;
          b.info.call_id = r.call_id;
          b.info.kind = StreamKind::kRtp;
          b.info.seq = seq;
          b.info.first_ts_ns = r.start_ns;
          b.info.last_ts_ns = r.start_ns + 2'000'000'000ull;
          b.payload = payload;
          w->Push(std::move(b));
        }
        w->OnCallEnded(r);
      }
      if (!w->Flush().ok()) state.SkipWithError("flush failed");
    }
  }
  MergeOptions mo;
  mo.below_bytes = 16ull << 20;
  mo.target_bytes = 64ull << 20;
  mo.now_ns = kT0 + 30 * 86'400'000'000'000ull;
  uint64_t in_segments = 0, in_bytes = 0, out_segments = 0, blocks = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::string dir = TempStoreDir();
    std::filesystem::copy(tmpl, dir, std::filesystem::copy_options::recursive |
                                         std::filesystem::copy_options::overwrite_existing);
    auto store = OpenStore(dir);
    state.ResumeTiming();
    auto r = MergeSmallSegments(*store, mo);
    state.PauseTiming();
    if (!r.ok() || !r->problems.empty() || r->segments_in != segments) {
      state.SkipWithError("merge failed");
    } else {
      in_segments += r->segments_in;
      in_bytes += r->bytes_in;
      out_segments += r->segments_out;
      blocks += r->blocks_moved;
    }
    store.reset();
    std::filesystem::remove_all(dir);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(int64_t(in_segments));
  state.SetBytesProcessed(int64_t(in_bytes));
  state.counters["blocks/s"] = benchmark::Counter(double(blocks), benchmark::Counter::kIsRate);
  state.counters["outputs"] =
      double(out_segments) / double(std::max<int64_t>(1, int64_t(state.iterations())));
  std::filesystem::remove_all(tmpl);
}
BENCHMARK(BM_Store_MergeSmallSegments)->Unit(benchmark::kMillisecond)->Iterations(3)
    ->UseRealTime();

}  // namespace
}  // namespace callvault
