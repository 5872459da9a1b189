// Google Benchmark microbenchmarks: every kernel of every available ISA, and the public API path.
//
// Families (the name is the filter key):
//   kernel/<isa>/<type>/<layout>/<N>x<K>/m:<M>/<cold|warm>
//       One kernel-table call (q4r::kernels_for(isa)) over all N columns, single thread, with
//       pre-quantized activations: GEMV per row for M < 4, GEMM for M % 4 == 0, and the plain
//       (un-repacked) baseline kernel for layout "none".
//   run/<type>/<layout>/<N>x<K>/m:<M>/threads:<T>/<cold|warm>
//       The public stateless path with the active ISA: q4r_quantize_activations_rows +
//       q4r_run, rows and columns split over T threads of our own pool.
//   memory/read/threads:<T>
//       A streaming read over max(8 x L3, 256 MiB): the machine's memory bandwidth (GB counter).
//   matmul/<type>/<layout>/<N>x<K>/m:<M>/threads:<T>
//       q4r_matmul(n_threads = T) as one call (allocates its workspace every time).
//   context/<type>/<layout>/<N>x<K>/m:<M>/threads:<T>/poll:<P>/gap:<G>
//       q4r_context_matmul on a context whose pool workers poll P us after a call (0: they sleep
//       at once), each call after G us of busy work on the caller (an engine's other ops, a
//       Python caller's own code); the time of the gap is not counted.
//   repack/memcpy/<N>x<K>/threads:<T>
//   repack/<repack|unpack|repack_inplace|unpack_inplace>/<type>/<layout>/<N>x<K>/threads:<T>
//       Load-time work on one tensor: memcpy of its bytes (the baseline), and q4r_repack,
//       q4r_unpack (into a second buffer) and their in-place forms; T = 1 is the whole call, T > 1
//       the *_range calls on T equal runs of row groups. Shapes: 14336x4096 and a tensor larger
//       than the L3 cache (and 256 MiB). GB counter = tensor bytes per second (1e9), so the ratio
//       to repack/memcpy of the same shape and T is the fraction of copy speed; best_GB and
//       best_cpu_GB are the fastest pass (wall, thread CPU time): scripts/repack_ratios.py.
// "cold": the weights rotate over copies that together are >= 4 x L3, so every call streams them
// from memory; "warm": one copy, in cache when it fits. Cold variants exist for M <= 4 only (where
// weight bandwidth is the figure of merit).
// Counters (rates, shown as "/s"): GOP = 2*M*N*K per second (GOPS); GB = weight bytes per
// second in 1e9 (GB/s; M <= 4 only).
//
// Without --benchmark_filter a short default subset runs (the 4096x4096 shape, Q4_0, plain and
// the preferred layout, M in {1, 16}); --benchmark_filter=. runs the whole sweep (long).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "lib/run/dispatch.h"
#include "bench/harness/bench_harness.h"

namespace {

using q4r::bench::Buffer;
using q4r::bench::WeightCopies;

struct Shape {
  int64_t n, k;
};
const Shape kShapes[] = {{512, 1024}, {4096, 4096}, {14336, 4096}, {4096, 14336}};
const int kBatches[] = {1, 2, 4, 8, 16, 64, 512};
const int kThreads[] = {1, 2};
const q4r_type kTypes[] = {Q4R_TYPE_Q4_0, Q4R_TYPE_IQ4_NL};
const q4r_layout kLayouts[] = {Q4R_LAYOUT_PLAIN, Q4R_LAYOUT_4X4, Q4R_LAYOUT_4X8, Q4R_LAYOUT_8X8};
// The scalar reference is ~50x slower than SIMD: skip its huge cases so the sweep ends.
constexpr double kScalarMaxOps = 4e9;

std::string shape_name(const Shape& s) {
  return std::to_string(s.n) + "x" + std::to_string(s.k);
}

// Weight copies are expensive to build (up to ~130 MB each): keep the last few, since benchmarks
// run in registration order and consecutive ones share weights.
class WeightCache {
 public:
  WeightCopies& get(q4r_type type, q4r_layout layout, const Shape& s, bool cold) {
    const Key key{type, layout, s.n, s.k, cold};
    for (auto& e : entries_) {
      if (e.first == key) return *e.second;
    }
    const Buffer& plain = plain_for(type, s);
    const int copies = cold ? q4r::bench::cold_copies(plain.size()) : 1;
    if (entries_.size() >= 2) entries_.erase(entries_.begin());
    entries_.emplace_back(key,
                          std::make_unique<WeightCopies>(plain, type, layout, s.n, s.k, copies));
    return *entries_.back().second;
  }

 private:
  using Key = std::tuple<q4r_type, q4r_layout, int64_t, int64_t, bool>;
  const Buffer& plain_for(q4r_type type, const Shape& s) {
    const auto key = std::make_tuple(type, s.n, s.k);
    if (plain_key_ != key) {
      plain_ = q4r::bench::random_plain_weights(type, s.n, s.k, 1234 + s.n * 7 + s.k);
      plain_key_ = key;
    }
    return plain_;
  }
  std::vector<std::pair<Key, std::unique_ptr<WeightCopies>>> entries_;
  std::tuple<q4r_type, int64_t, int64_t> plain_key_{Q4R_TYPE_Q8_0, 0, 0};
  Buffer plain_;
};
WeightCache g_weights;

void set_counters(benchmark::State& st, const Shape& s, int m, std::size_t weight_bytes) {
  st.counters["GOP"] =
      benchmark::Counter(2e-9 * m * s.n * s.k, benchmark::Counter::kIsIterationInvariantRate);
  if (m <= 4) {
    st.counters["GB"] = benchmark::Counter(1e-9 * static_cast<double>(weight_bytes),
                                           benchmark::Counter::kIsIterationInvariantRate);
  }
}

// One raw kernel-table call over all columns.
void bm_kernel(benchmark::State& st, q4r_isa isa, q4r_type type, q4r_layout layout, Shape s, int m,
               bool cold) {
  const q4r::KernelTable& kt = q4r::kernels_for(isa);
  WeightCopies& w = g_weights.get(type, layout, s, cold);
  const int k = static_cast<int>(s.k), n = static_cast<int>(s.n);
  const std::vector<float> x = q4r::bench::random_activations(m, s.k, 99);
  const std::size_t row_bytes = static_cast<std::size_t>(s.k / 32 * 34);
  Buffer a(row_bytes * m);
  const bool gemm = layout != Q4R_LAYOUT_PLAIN && m % 4 == 0;
  if (gemm) {
    kt.quant_x4[q4r_layout_chunk(layout) == 4 ? q4r::kChunk4 : q4r::kChunk8](x.data(), s.k,
                                                                             a.data(), k, m / 4);
  } else {
    kt.quant_rows(x.data(), s.k, a.data(), k, m);
  }
  std::vector<float> y(static_cast<std::size_t>(m) * n);
  const int wt = type == Q4R_TYPE_Q4_0 ? q4r::kQ4_0 : q4r::kIQ4_NL;
  const int li = layout - Q4R_LAYOUT_4X4;
  for (auto _ : st) {
    const uint8_t* wp = w.next();
    if (layout == Q4R_LAYOUT_PLAIN) {
      kt.plain[wt](k, y.data(), n, wp, n, a.data(), m);
    } else if (gemm) {
      kt.gemm[wt][li](k, y.data(), n, wp, a.data(), m, n);
    } else {
      for (int r = 0; r < m; ++r)
        kt.gemv[wt][li](k, y.data() + r * n, wp, a.data() + r * row_bytes, n);
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_counters(st, s, m, w.bytes());
  st.SetLabel(q4r_isa_name(isa));
}

// The public stateless path split over our own threads.
void bm_run(benchmark::State& st, q4r_type type, q4r_layout layout, Shape s, int m, int threads,
            bool cold) {
  WeightCopies& w = g_weights.get(type, layout, s, cold);
  const std::vector<float> x = q4r::bench::random_activations(m, s.k, 99);
  q4r::bench::ParallelMatmul mm(type, layout, s.n, s.k, m);
  q4r::bench::WorkerPool pool(threads);
  for (auto _ : st) {
    mm.run(pool, w.next(), x.data());
    benchmark::DoNotOptimize(mm.y());
    benchmark::ClobberMemory();
  }
  set_counters(st, s, m, w.bytes());
  st.SetLabel(q4r_isa_name(q4r_active_isa()));
}

// q4r_matmul as one call.
void bm_matmul(benchmark::State& st, q4r_type type, q4r_layout layout, Shape s, int m,
               int threads) {
  WeightCopies& w = g_weights.get(type, layout, s, false);
  const std::vector<float> x = q4r::bench::random_activations(m, s.k, 99);
  std::vector<float> y(static_cast<std::size_t>(m * s.n));
  for (auto _ : st) {
    q4r::bench::check(
        q4r_matmul(type, layout, w.next(), w.bytes(), s.n, s.k, x.data(), m, y.data(), threads),
        "q4r_matmul");
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_counters(st, s, m, w.bytes());
  st.SetLabel(q4r_isa_name(q4r_active_isa()));
}

// q4r_context_matmul on a context of T threads whose workers poll P us after a call, each call
// after a busy gap of G us (paused timing: the call alone is timed).
void bm_context(benchmark::State& st, q4r_type type, q4r_layout layout, Shape s, int m, int threads,
                int poll_us, int gap_us) {
  WeightCopies& w = g_weights.get(type, layout, s, false);
  const std::vector<float> x = q4r::bench::random_activations(m, s.k, 99);
  std::vector<float> y(static_cast<std::size_t>(m * s.n));
  q4r_context_options o;
  q4r_context_options_init(&o);
  o.n_threads = threads;
  o.poll_us = poll_us;
  q4r_context* ctx = nullptr;
  q4r::bench::check(q4r_context_create(&o, &ctx), "q4r_context_create");
  const q4r_weights desc{type, layout, w.next(), w.bytes(), s.n, s.k};
  std::size_t ws_bytes = 0;
  q4r::bench::check(q4r_context_workspace_size(ctx, &desc, m, &ws_bytes), "workspace size");
  std::vector<uint8_t> ws(ws_bytes);
  for (auto _ : st) {
    if (gap_us > 0) {
      st.PauseTiming();
      q4r::bench::busy_wait_us(gap_us);
      st.ResumeTiming();
    }
    q4r::bench::check(
        q4r_context_matmul(ctx, &desc, x.data(), s.k, m, y.data(), s.n, ws.data(), ws.size()),
        "q4r_context_matmul");
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  q4r_context_destroy(ctx);
  set_counters(st, s, m, w.bytes());
  st.SetLabel(q4r_isa_name(q4r_active_isa()));
}

// The machine's streaming read bandwidth: the memory roof of the GEMV figures.
void bm_read_bandwidth(benchmark::State& st, int threads) {
  Buffer buf(q4r::bench::read_buffer_bytes());
  std::memset(buf.data(), 1, buf.size());
  q4r::bench::WorkerPool pool(threads);
  for (auto _ : st) benchmark::DoNotOptimize(q4r::bench::read_pass(pool, buf));
  st.counters["GB"] = benchmark::Counter(1e-9 * static_cast<double>(buf.size()),
                                         benchmark::Counter::kIsIterationInvariantRate);
}

template <class Fn>
void add(const std::string& name, Fn&& fn) {
  benchmark::RegisterBenchmark(name.c_str(), std::forward<Fn>(fn))
      ->UseRealTime()
      ->Unit(benchmark::kMicrosecond);
}

// ---------------------------------------------------------------- repack / unpack vs memcpy

enum class LoadOp { kMemcpy, kRepack, kUnpack, kRepackInplace, kUnpackInplace };
const char* const kLoadOpNames[] = {"memcpy", "repack", "unpack", "repack_inplace",
                                    "unpack_inplace"};

// Row count of the large repack shape (k = 4096): the smallest power of two whose tensor is larger
// than both the L3 cache and 256 MiB, so every pass streams from memory.
int64_t large_repack_rows() {
  const std::size_t floor = std::max<std::size_t>(q4r::bench::l3_cache_bytes(), 256u << 20);
  int64_t n = 16384;
  while (static_cast<std::size_t>(n) * (4096 / 32 * 18) <= floor) n *= 2;
  return n;
}

// Source and destination per shape, kept for the whole run (both shapes together are ~1.3 GB
// here), so that --benchmark_enable_random_interleaving can alternate the cases cheaply.
struct LoadBuffers {
  Buffer src, dst;
};
LoadBuffers& load_buffers(const Shape& s) {
  static std::map<std::pair<int64_t, int64_t>, LoadBuffers> all;
  LoadBuffers& b = all[{s.n, s.k}];
  if (b.src.size() == 0) {
    b.src = q4r::bench::random_plain_weights(Q4R_TYPE_Q4_0, s.n, s.k, 42);
    b.dst = Buffer(b.src.size());
    std::memcpy(b.dst.data(), b.src.data(), b.src.size());  // fault the pages in before timing
  }
  return b;
}

// One pass of `op` over the whole tensor, groups [g0, g1) (bytes [b0, b1) for memcpy) of it.
q4r_status load_op(LoadBuffers& b, LoadOp op, q4r_type type, q4r_layout layout, const Shape& s,
                   bool whole, int part, int parts) {
  uint8_t* src = b.src.data();
  uint8_t* dst = b.dst.data();
  const std::size_t size = b.src.size();
  if (op == LoadOp::kMemcpy) {
    const std::size_t b0 = size * part / parts / 64 * 64;
    const std::size_t b1 = part + 1 == parts ? size : size * (part + 1) / parts / 64 * 64;
    std::memcpy(dst + b0, src + b0, b1 - b0);
    return Q4R_OK;
  }
  // The in-place forms work on dst, repeatedly: the transform is a bijection on any bytes.
  if (whole) {
    switch (op) {
      case LoadOp::kRepack:
        return q4r_repack(type, layout, src, dst, size, s.n, s.k);
      case LoadOp::kUnpack:
        return q4r_unpack(type, layout, src, dst, size, s.n, s.k);
      case LoadOp::kRepackInplace:
        return q4r_repack_inplace(type, layout, dst, size, s.n, s.k);
      default:
        return q4r_unpack_inplace(type, layout, dst, size, s.n, s.k);
    }
  }
  const int64_t groups = q4r_row_groups(layout, s.n);
  const int64_t g0 = groups * part / parts, g1 = groups * (part + 1) / parts;
  switch (op) {
    case LoadOp::kRepack:
      return q4r_repack_range(type, layout, src, dst, size, s.n, s.k, g0, g1);
    case LoadOp::kUnpack:
      return q4r_unpack_range(type, layout, src, dst, size, s.n, s.k, g0, g1);
    case LoadOp::kRepackInplace:
      return q4r_repack_inplace_range(type, layout, dst, size, s.n, s.k, g0, g1);
    default:
      return q4r_unpack_inplace_range(type, layout, dst, size, s.n, s.k, g0, g1);
  }
}

// Seconds of CPU time the calling thread has used.
double thread_cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

// Counters: GB (mean rate, as every family), best_GB (the fastest single pass, wall clock) and,
// at 1 thread, best_cpu_GB (the pass with the least CPU time: on a shared machine the pass least
// disturbed by other work, preemption excluded).
void bm_load(benchmark::State& st, LoadOp op, q4r_type type, q4r_layout layout, Shape s,
             int threads) {
  LoadBuffers& b = load_buffers(s);
  q4r::bench::WorkerPool pool(threads);
  double best_wall = 1e30, best_cpu = 1e30;
  for (auto _ : st) {
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = thread_cpu_seconds();
    if (threads == 1) {
      q4r::bench::check(load_op(b, op, type, layout, s, true, 0, 1), kLoadOpNames[int(op)]);
    } else {
      pool.run([&](int i) {
        q4r::bench::check(load_op(b, op, type, layout, s, false, i, threads),
                          kLoadOpNames[int(op)]);
      });
    }
    best_cpu = std::min(best_cpu, thread_cpu_seconds() - c0);
    best_wall = std::min(
        best_wall, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    benchmark::ClobberMemory();
  }
  const double gb = 1e-9 * static_cast<double>(b.src.size());
  st.counters["GB"] = benchmark::Counter(gb, benchmark::Counter::kIsIterationInvariantRate);
  st.counters["best_GB"] = gb / best_wall;
  if (threads == 1) st.counters["best_cpu_GB"] = gb / best_cpu;
}

void register_load() {
  for (const Shape& s : {Shape{14336, 4096}, Shape{large_repack_rows(), 4096}}) {
    for (int t : kThreads) {
      const std::string tail = "/" + shape_name(s) + "/threads:" + std::to_string(t);
      add("repack/memcpy" + tail, [=](benchmark::State& st) {
        bm_load(st, LoadOp::kMemcpy, Q4R_TYPE_Q4_0, Q4R_LAYOUT_PLAIN, s, t);
      });
      for (LoadOp op :
           {LoadOp::kRepack, LoadOp::kUnpack, LoadOp::kRepackInplace, LoadOp::kUnpackInplace}) {
        for (q4r_type type : kTypes) {
          for (q4r_layout layout : {Q4R_LAYOUT_4X4, Q4R_LAYOUT_4X8, Q4R_LAYOUT_8X8}) {
            add(std::string("repack/") + kLoadOpNames[int(op)] + "/" + q4r_type_name(type) + "/" +
                    q4r_layout_name(layout) + tail,
                [=](benchmark::State& st) { bm_load(st, op, type, layout, s, t); });
          }
        }
      }
    }
  }
}

void register_all() {
  for (int t : kThreads) {
    add("memory/read/threads:" + std::to_string(t),
        [=](benchmark::State& st) { bm_read_bandwidth(st, t); });
  }
  register_load();
  // Grouped by weights (type, layout, shape) so the weight cache is rebuilt rarely.
  for (int isa = 0; isa < Q4R_ISA_COUNT; ++isa) {
    if (!q4r_isa_available(q4r_isa(isa))) continue;
    for (q4r_type type : kTypes) {
      for (q4r_layout layout : kLayouts) {
        for (const Shape& s : kShapes) {
          for (bool cold : {true, false}) {
            for (int m : kBatches) {
              if (cold && m > 4) continue;
              if (isa == Q4R_ISA_SCALAR && 2.0 * m * s.n * s.k > kScalarMaxOps) continue;
              const std::string name = std::string("kernel/") + q4r_isa_name(q4r_isa(isa)) + "/" +
                                       q4r_type_name(type) + "/" + q4r_layout_name(layout) + "/" +
                                       shape_name(s) + "/m:" + std::to_string(m) +
                                       (cold ? "/cold" : "/warm");
              add(name, [=](benchmark::State& st) {
                bm_kernel(st, q4r_isa(isa), type, layout, s, m, cold);
              });
            }
          }
        }
      }
    }
  }
  for (q4r_type type : kTypes) {
    for (q4r_layout layout : kLayouts) {
      for (const Shape& s : kShapes) {
        for (bool cold : {true, false}) {
          for (int m : kBatches) {
            for (int t : kThreads) {
              if (cold && m > 4) continue;
              const std::string name = std::string("run/") + q4r_type_name(type) + "/" +
                                       q4r_layout_name(layout) + "/" + shape_name(s) +
                                       "/m:" + std::to_string(m) + "/threads:" + std::to_string(t) +
                                       (cold ? "/cold" : "/warm");
              add(name, [=](benchmark::State& st) { bm_run(st, type, layout, s, m, t, cold); });
            }
          }
        }
        for (int m : {1, 16}) {
          for (int poll : {0, 100}) {
            for (int gap : {0, 5}) {
              const int t = 2;
              const std::string name = std::string("context/") + q4r_type_name(type) + "/" +
                                       q4r_layout_name(layout) + "/" + shape_name(s) +
                                       "/m:" + std::to_string(m) + "/threads:" + std::to_string(t) +
                                       "/poll:" + std::to_string(poll) +
                                       "/gap:" + std::to_string(gap);
              add(name,
                  [=](benchmark::State& st) { bm_context(st, type, layout, s, m, t, poll, gap); });
            }
          }
        }
        for (int m : kBatches) {
          for (int t : kThreads) {
            const std::string name = std::string("matmul/") + q4r_type_name(type) + "/" +
                                     q4r_layout_name(layout) + "/" + shape_name(s) +
                                     "/m:" + std::to_string(m) + "/threads:" + std::to_string(t);
            add(name, [=](benchmark::State& st) { bm_matmul(st, type, layout, s, m, t); });
          }
        }
      }
    }
  }
}

// The short default: plain vs preferred layout of the best ISA on 4096x4096 Q4_0.
std::string default_filter() {
  const std::string isa = q4r_isa_name(q4r_active_isa());
  const std::string pref = q4r_layout_name(q4r_preferred_layout(Q4R_TYPE_Q4_0, q4r_active_isa()));
  const std::string tail = "/4096x4096/m:(1|16)/";
  return "^(memory/read/threads:1|kernel/" + isa + "/q4_0/(none|" + pref + ")" + tail +
         "|run/q4_0/(none|" + pref + ")" + tail + "threads:1/)";
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> args(argv, argv + argc);
  bool has_filter = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--benchmark_filter", 18) == 0) has_filter = true;
  }
  std::string filter_arg = "--benchmark_filter=" + default_filter();
  if (!has_filter) {
    args.push_back(filter_arg.data());
    std::fprintf(stderr,
                 "q4repack_bench: short default subset (%s);\n"
                 "  --benchmark_filter=. runs the whole sweep (long), e.g. "
                 "--benchmark_filter='^kernel/avx2/q4_0/8x8/'\n",
                 filter_arg.c_str() + 19);
  }
  int n = static_cast<int>(args.size());
  args.push_back(nullptr);
  benchmark::Initialize(&n, args.data());
  if (benchmark::ReportUnrecognizedArguments(n, args.data())) return 1;
  benchmark::AddCustomContext("q4r_version", q4r_version_string());
  benchmark::AddCustomContext("q4r_active_isa", q4r_isa_name(q4r_active_isa()));
  benchmark::AddCustomContext("l3_bytes", std::to_string(q4r::bench::l3_cache_bytes()));
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
