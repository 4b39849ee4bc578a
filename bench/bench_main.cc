// Debian 12's Google Benchmark ships no benchmark_main pkg-config file: one main for all.
#include <benchmark/benchmark.h>

BENCHMARK_MAIN();
