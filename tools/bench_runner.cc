#include "bench_runner.h"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <numeric>
#include <string>
#include <tuple>

#include "bench/harness/bench_harness.h"
#include "cli.h"
#include "lib/run/dispatch.h"

namespace q4r::bench {

namespace {

using Clock = std::chrono::steady_clock;

constexpr double kMaxCallSeconds = 15;
// Below this share of CPU time over wall time the cell was preempted: other processes ran.
constexpr double kBusyShare = 0.9;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// One measured (shape, type, layout, batch, threads, cache state).
struct Cell {
  const BenchShape* shape;
  q4r_type type;
  q4r_layout layout;
  int m;
  int threads;
  bool cold;
  double median_s = 0, min_s = 0;
  int reps = 0;
  std::size_t weight_bytes = 0;
  int copies = 1;
  double bw_ref = 0;     // the measured read bandwidth (GB/s) this cell is compared with
  double cpu_share = 0;  // CPU time / (wall time x threads): below ~0.9 the machine was busy
  double speedup = 0;    // plain median / this median (same everything else), 0 if no baseline

  double gbps() const { return weight_bytes / median_s * 1e-9; }
  double gops() const { return 2.0 * m * shape->n * shape->k / median_s * 1e-9; }
};

struct Timing {
  double median_s, min_s;
  int reps;
  double cpu_s, wall_s;  // process CPU time and wall time over this variant's timed calls
};

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
}

Timing summarize(std::vector<double> t, double cpu_s, double wall_s) {
  std::sort(t.begin(), t.end());
  const std::size_t h = t.size() / 2;
  const double median = t.size() % 2 ? t[h] : 0.5 * (t[h - 1] + t[h]);
  return {median, t.front(), static_cast<int>(t.size()), cpu_s, wall_s};
}

// Times several variants of one call (the layouts of one shape and batch) in alternating blocks,
// so that a neighbour's load on this shared machine falls on all of them alike and their ratios
// stay meaningful. Each variant first runs once untimed; then blocks of about 20 ms of timed
// calls go round the variants until each has at least 3 calls (1 if a call takes over a second)
// and the budget (per variant) is spent. With `rewarm`, a short call's block starts with one
// untimed call, so that the variant's weights are back in cache after the others ran.
// Reported: the median call (it ignores the occasional preempted call) and the fastest.
std::vector<Timing> time_interleaved(const std::vector<std::function<void()>>& calls,
                                     double budget_s, bool rewarm) {
  const std::size_t n = calls.size();
  std::vector<double> first(n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    calls[i]();
    first[i] = seconds_since(t0);
  }
  constexpr double kBlockSeconds = 0.02;
  std::vector<std::vector<double>> t(n);
  std::vector<double> cpu(n, 0.0);
  const auto start = Clock::now();
  for (bool more = true; more;) {
    for (std::size_t i = 0; i < n; ++i) {
      if (rewarm && first[i] < kBlockSeconds) calls[i]();
      const int block = std::clamp(static_cast<int>(kBlockSeconds / first[i]), 1, 64);
      const double cpu0 = process_cpu_seconds();
      for (int j = 0; j < block; ++j) {
        const auto t0 = Clock::now();
        calls[i]();
        t[i].push_back(seconds_since(t0));
      }
      cpu[i] += process_cpu_seconds() - cpu0;
    }
    more = seconds_since(start) < budget_s * n;
    for (std::size_t i = 0; i < n; ++i) more |= t[i].size() < (first[i] > 1.0 ? 1u : 3u);
  }
  std::vector<Timing> out;
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(summarize(t[i], cpu[i], std::accumulate(t[i].begin(), t[i].end(), 0.0)));
  }
  return out;
}

// Times one call alone (see time_interleaved).
template <class Fn>
Timing time_calls(Fn&& call, double budget_s) {
  return time_interleaved({std::function<void()>(call)}, budget_s, false).front();
}

std::string format_time(double s) {
  char buf[32];
  if (s < 1e-3) {
    std::snprintf(buf, sizeof buf, "%7.1f us", s * 1e6);
  } else if (s < 1) {
    std::snprintf(buf, sizeof buf, "%7.2f ms", s * 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%7.3f s ", s);
  }
  return buf;
}

std::string mib(std::size_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / 1048576.0);
  return buf;
}

void appendf(std::string& out, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void appendf(std::string& out, const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  const int len = std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  out.append(buf, static_cast<std::size_t>(std::min<int>(len, sizeof buf - 1)));
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out += c;
  }
  return out + "\"";
}

// The preferred layout of the active ISA for `type`, never plain (the comparison needs a packed
// layout even if a future table prefers plain for some type).
q4r_layout chosen_layout(q4r_type type) {
  const q4r_layout l = q4r_preferred_layout(type, q4r_active_isa());
  return l == Q4R_LAYOUT_PLAIN ? Q4R_LAYOUT_8X8 : l;
}

class Runner {
 public:
  Runner(const std::vector<BenchShape>& shapes, const BenchOptions& o) : shapes_(shapes), o_(o) {}
  int run();

 private:
  WorkerPool& pool(int threads) {
    auto& p = pools_[threads];
    if (!p) p = std::make_unique<WorkerPool>(threads);
    return *p;
  }
  void print_header();
  void measure_machine();
  // Memory bandwidth of a shared machine varies with the neighbours' load: it is measured again
  // before every shape and the best figure so far is the reference (noise only lowers it).
  void remeasure_bandwidth(int threads, int reps) {
    int streams = 1;
    const double gbps = measure_read_bandwidth(pool(threads), reps, &pages_, &streams);
    if (gbps > bandwidth_[threads]) {
      bandwidth_[threads] = gbps;
      read_streams_[threads] = streams;
    }
  }
  void measure_shape(const BenchShape& s);
  void print_shape(const BenchShape& s, q4r_type type, const std::vector<Cell>& cells);
  void print_summary();
  void print_goals();
  const Cell* find(int64_t n, int64_t k, q4r_type type, q4r_layout layout, int m, int threads,
                   bool cold) const;
  void write_json() const;

  const std::vector<BenchShape>& shapes_;
  const BenchOptions& o_;
  std::map<int, std::unique_ptr<WorkerPool>> pools_;
  std::map<int, double> bandwidth_;     // GB/s per thread count
  std::map<int, int> read_streams_;     // the read pattern that gave it: streams per thread
  std::string pages_;                   // huge-page state of the bandwidth buffer
  std::map<int, double> compute_roof_;  // GOPS per thread count (in-cache GEMM)
  std::vector<Cell> cells_;
  std::vector<std::string> skipped_;
  double total_seconds_ = 0;
};

void Runner::print_header() {
  const CpuReport cpu = cpu_report();
  const q4r_isa isa = q4r_active_isa();
  std::printf("q4repack bench %s: %s %s (%s), %u logical CPUs, L3 %s\n", q4r_version_string(),
              cpu.vendor.c_str(), cpu.brand.c_str(), cpu.arch.c_str(),
              std::thread::hardware_concurrency(), mib(l3_cache_bytes()).c_str());
  std::printf("isa %s; layouts: plain baseline (none) vs ", q4r_isa_name(isa));
  if (o_.all_layouts) {
    std::printf("4x4, 4x8, 8x8");
  } else {
    for (std::size_t i = 0; i < o_.types.size(); ++i) {
      std::printf("%s%s for %s", i ? ", " : "", q4r_layout_name(chosen_layout(o_.types[i])),
                  q4r_type_name(o_.types[i]));
    }
    std::printf(" (q4r_preferred_layout)");
  }
  std::printf("\nshapes: %s\n", o_.source.c_str());
  for (const auto& [type, layout] : o_.stored_layouts) {
    const q4r_layout here = chosen_layout(type);
    std::printf(
        "stored: legacy pre-repacked %s in %s, measured as stored (no repack at load)%s%s\n",
        q4r_type_name(type), q4r_layout_name(layout), here == layout ? "" : "; this isa prefers ",
        here == layout ? "" : q4r_layout_name(here));
  }
}

void Runner::measure_machine() {
  for (int t : o_.threads) {
    remeasure_bandwidth(t, 5);
    // Compute roof: the chosen GEMM with weights (288 KiB) and activations in L2.
    const q4r_layout l = chosen_layout(Q4R_TYPE_Q4_0);
    const BenchShape roof{"roof", 512, 1024, 1};
    const Buffer plain = random_plain_weights(Q4R_TYPE_Q4_0, roof.n, roof.k, 7);
    WeightCopies w(plain, Q4R_TYPE_Q4_0, l, roof.n, roof.k, 1);
    const std::vector<float> x = random_activations(64, roof.k, 8);
    ParallelMatmul mm(Q4R_TYPE_Q4_0, l, roof.n, roof.k, 64);
    const Timing tm = time_calls([&] { mm.run(pool(t), w.next(), x.data()); }, 0.1);
    compute_roof_[t] = 2.0 * 64 * roof.n * roof.k / tm.min_s * 1e-9;
    std::printf(
        "memory read bandwidth, %d thread%s: %.1f GB/s (streaming read, %s buffer, %s, "
        "%d stream%s per thread, the better of 1 and 4; %s); in-cache GEMM (q4_0 %s, M=64): "
        "%.1f GOPS\n",
        t, t > 1 ? "s" : "", bandwidth_[t],
        mib(std::max(8 * l3_cache_bytes(), size_t{256} << 20)).c_str(), read_vector_width(),
        read_streams_[t], read_streams_[t] > 1 ? "s" : "", pages_.c_str(), q4r_layout_name(l),
        compute_roof_[t]);
  }
  std::printf(
      "cache: 'cold' = every call reads a different copy of the weights (copies together >= 4 x "
      "L3),\n       so they stream from memory; 'warm' = one copy, called again and again (it "
      "stays in L3 only if it fits).\n       M <= 4 runs cold (M = 1 also warm); M > 4 runs warm. "
      "Times: median per call, activation quantization included.\n");
}

void Runner::measure_shape(const BenchShape& s) {
  // The variants of this shape: (type, layout) pairs, plain baseline first for each type.
  struct Variant {
    q4r_type type;
    q4r_layout layout;
    std::size_t plain_index;
    std::unique_ptr<WeightCopies> cold, warm;
  };
  std::vector<Buffer> plains;
  std::vector<Variant> vars;
  for (q4r_type type : o_.types) {
    plains.push_back(random_plain_weights(type, s.n, s.k, 1000 + s.n + 3 * s.k + type));
    std::vector<q4r_layout> layouts{Q4R_LAYOUT_PLAIN};
    if (o_.all_layouts) {
      layouts.insert(layouts.end(), {Q4R_LAYOUT_4X4, Q4R_LAYOUT_4X8, Q4R_LAYOUT_8X8});
    } else {
      layouts.push_back(chosen_layout(type));
    }
    for (const auto& [stored_type, stored] : o_.stored_layouts) {
      if (stored_type == type && std::find(layouts.begin(), layouts.end(), stored) == layouts.end())
        layouts.push_back(stored);
    }
    for (q4r_layout l : layouts) vars.push_back({type, l, plains.size() - 1, nullptr, nullptr});
  }
  bool need_cold = false, need_warm = false;
  for (int m : o_.batches) {
    need_cold |= m <= 4;
    need_warm |= m == 1 || m > 4;
  }
  const std::size_t bytes = plains.front().size();
  const int n_cold = cold_copies(bytes);
  for (int t : o_.threads) remeasure_bandwidth(t, 3);
  // Every variant's weights at once (cold: >= 4 x L3 of copies each), so that all variants of one
  // batch are timed in alternation: layouts and types compare under the same load.
  for (Variant& v : vars) {
    const Buffer& plain = plains[v.plain_index];
    if (need_cold)
      v.cold = std::make_unique<WeightCopies>(plain, v.type, v.layout, s.n, s.k, n_cold);
    if (need_warm) v.warm = std::make_unique<WeightCopies>(plain, v.type, v.layout, s.n, s.k, 1);
  }
  std::vector<Cell> cells;
  for (int m : o_.batches) {
    const std::vector<float> x = random_activations(m, s.k, 42 + m);
    std::vector<std::unique_ptr<ParallelMatmul>> mm;
    for (const Variant& v : vars) {
      mm.push_back(std::make_unique<ParallelMatmul>(v.type, v.layout, s.n, s.k, m));
    }
    // Every thread count and variant of one (M, cache) cell in one alternation, so that the
    // 2-thread / 1-thread ratios compare calls made under the same conditions (the speed of a core
    // on a shared VM drifts by tens of percent over minutes).
    for (bool is_cold : {true, false}) {
      if (is_cold ? m > 4 : (m > 1 && m <= 4)) continue;
      std::vector<std::function<void()>> calls;
      std::vector<std::pair<int, std::size_t>> which;  // (threads, variant)
      for (int t : o_.threads) {
        WorkerPool& p = pool(t);
        for (std::size_t vi = 0; vi < vars.size(); ++vi) {
          const Variant& v = vars[vi];
          // A call predicted to take longer than kMaxCallSeconds (at the best rate this variant
          // reached on a smaller batch) is skipped: it only happens with the scalar fallback.
          const double ops = 2.0 * m * s.n * s.k;
          double rate = 0;
          for (const Cell& c : cells) {
            if (c.type == v.type && c.layout == v.layout && c.threads == t) {
              rate = std::max(rate, c.gops() * 1e9);
            }
          }
          if (rate > 0 && ops / rate > kMaxCallSeconds) {
            skipped_.push_back(s.name + " " + q4r_type_name(v.type) + " " +
                               q4r_layout_name(v.layout) + " M=" + std::to_string(m) + " (~" +
                               std::to_string(static_cast<int>(ops / rate)) + " s per call)");
            continue;
          }
          WeightCopies* w = is_cold ? v.cold.get() : v.warm.get();
          ParallelMatmul* job = mm[vi].get();
          calls.push_back([&p, w, job, &x] { job->run(p, w->next(), x.data()); });
          which.emplace_back(t, vi);
        }
      }
      if (calls.empty()) continue;
      const std::vector<Timing> tm = time_interleaved(calls, o_.cell_seconds, !is_cold);
      for (std::size_t i = 0; i < calls.size(); ++i) {
        const int t = which[i].first;
        const Variant& v = vars[which[i].second];
        Cell c{&s, v.type, v.layout, m, t, is_cold};
        c.median_s = tm[i].median_s;
        c.min_s = tm[i].min_s;
        c.reps = tm[i].reps;
        c.weight_bytes = bytes;
        c.copies = (is_cold ? v.cold : v.warm)->copies();
        c.bw_ref = bandwidth_[t];
        c.cpu_share = tm[i].cpu_s / (tm[i].wall_s * t);
        cells.push_back(c);
      }
    }
  }
  // Print order: by M, then thread count, then cold before warm, then variant.
  std::stable_sort(cells.begin(), cells.end(), [](const Cell& a, const Cell& b) {
    return std::make_tuple(a.m, a.threads, !a.cold) < std::make_tuple(b.m, b.threads, !b.cold);
  });
  for (Cell& c : cells) {
    for (const Cell& b : cells) {
      if (b.type == c.type && b.layout == Q4R_LAYOUT_PLAIN && b.m == c.m &&
          b.threads == c.threads && b.cold == c.cold) {
        c.speedup = b.median_s / c.median_s;
      }
    }
  }
  for (q4r_type type : o_.types) {
    std::vector<Cell> of_type;
    for (const Cell& c : cells) {
      if (c.type == type) of_type.push_back(c);
    }
    if (!of_type.empty()) print_shape(s, type, of_type);
  }
  cells_.insert(cells_.end(), cells.begin(), cells.end());
}

void Runner::print_shape(const BenchShape& s, q4r_type type, const std::vector<Cell>& cells) {
  std::printf("\n%s: %lld x %lld %s, %s (x%d per layer)\n", s.name.c_str(), (long long)s.n,
              (long long)s.k, q4r_type_name(type), mib(cells.front().weight_bytes).c_str(),
              s.count);
  std::printf("     M  cache  thr  layout    time/call     GB/s  %%bw     GOPS  speedup  cpu\n");
  for (const Cell& c : cells) {
    char gb[32] = "       -     -";
    if (c.m <= 4) {
      std::snprintf(gb, sizeof gb, "%8.1f %4.0f%%", c.gbps(), 100 * c.gbps() / c.bw_ref);
    }
    char sp[16] = "      -";
    if (c.layout != Q4R_LAYOUT_PLAIN && c.speedup > 0)
      std::snprintf(sp, sizeof sp, "%6.2fx", c.speedup);
    std::printf("  %4d  %-5s  %3d  %-6s  %s  %s %8.1f  %s  %3.0f%%%s\n", c.m,
                c.cold ? "cold" : "warm", c.threads, q4r_layout_name(c.layout),
                format_time(c.median_s).c_str(), gb, c.gops(), sp, 100 * c.cpu_share,
                c.cpu_share < kBusyShare ? " busy" : "");
  }
  std::fflush(stdout);
}

// Weighted totals over the shape list (count x time): a whole layer's matmuls.
void Runner::print_summary() {
  if (shapes_.size() < 2 && !o_.whole_model) return;
  int total_count = 0;
  for (const BenchShape& s : shapes_) total_count += s.count;
  const char* what = o_.whole_model ? "whole model" : "whole layer";
  std::printf("\n%s (%d matrices, count x time per shape)%s:\n", what, total_count,
              o_.whole_model ? "; tokens/s of its matmuls: M=1 decode, M>1 prefill" : "");
  std::printf("  type     M  cache  thr  layout      time    speedup%s\n",
              o_.whole_model ? "     tokens/s" : "");
  // A total is only meaningful over every shape: count how many each one covers.
  std::map<std::tuple<q4r_type, int, bool, int, q4r_layout>, std::pair<double, std::size_t>> sum;
  for (const Cell& c : cells_) {
    auto& e = sum[{c.type, c.m, !c.cold, c.threads, c.layout}];
    e.first += c.shape->count * c.median_s;
    e.second += 1;
  }
  for (const auto& [key, e] : sum) {
    const auto [type, m, warm, threads, layout] = key;
    const auto& base = sum[{type, m, warm, threads, Q4R_LAYOUT_PLAIN}];
    const bool complete = e.second == shapes_.size();
    char sp[16] = "      -";
    if (layout != Q4R_LAYOUT_PLAIN && complete && base.second == shapes_.size()) {
      std::snprintf(sp, sizeof sp, "%6.2fx", base.first / e.first);
    }
    // One forward pass runs every matrix once per batch of m tokens.
    char tps[24] = "";
    if (o_.whole_model && complete && e.first > 0) {
      std::snprintf(tps, sizeof tps, "  %11.1f", m / e.first);
    }
    std::printf("  %-6s %4d  %-5s  %3d  %-6s  %s  %s%s\n", q4r_type_name(type), m,
                warm ? "warm" : "cold", threads, q4r_layout_name(layout),
                complete ? format_time(e.first).c_str() : " (skipped)", sp, tps);
  }
}

const Cell* Runner::find(int64_t n, int64_t k, q4r_type type, q4r_layout layout, int m, int threads,
                         bool cold) const {
  for (const Cell& c : cells_) {
    if (c.shape->n == n && c.shape->k == k && c.type == type && c.layout == layout && c.m == m &&
        c.threads == threads && c.cold == cold) {
      return &c;
    }
  }
  return nullptr;
}

// The project's performance goals (docs/PERFORMANCE.md), for the ones this run measured.
void Runner::print_goals() {
  const q4r_layout l = chosen_layout(Q4R_TYPE_Q4_0);
  const q4r_type q4 = Q4R_TYPE_Q4_0;
  std::vector<std::string> lines;
  auto line = [&](const char* what, double got, const char* unit, double goal, const Cell* base,
                  bool base_gbps) {
    char ref[64] = "no baseline";
    if (base) std::snprintf(ref, sizeof ref, "plain %.1f", base_gbps ? base->gbps() : base->gops());
    char buf[256];
    std::snprintf(buf, sizeof buf, "  %-48s %7.1f %-4s (goal >= %g; %s) %s", what, got, unit, goal,
                  ref, got >= goal ? "met" : "NOT met");
    lines.push_back(buf);
  };
  if (const Cell* c = find(14336, 4096, q4, l, 1, 1, true)) {
    line("GEMV M=1 14336x4096 q4_0 cold, 1 thread", c->gbps(), "GB/s", 26,
         find(14336, 4096, q4, Q4R_LAYOUT_PLAIN, 1, 1, true), true);
  }
  if (const Cell* c = find(4096, 4096, q4, l, 1, 1, false)) {
    line("GEMV M=1 4096x4096 q4_0 warm (L3), 1 thread", c->gbps(), "GB/s", 40,
         find(4096, 4096, q4, Q4R_LAYOUT_PLAIN, 1, 1, false), true);
  }
  if (const Cell* c = find(4096, 14336, q4, l, 16, 1, false)) {
    line("GEMM M=16 4096x14336 q4_0, 1 thread", c->gops(), "GOPS", 250,
         find(4096, 14336, q4, Q4R_LAYOUT_PLAIN, 16, 1, false), false);
  }
  if (const Cell* c = find(4096, 4096, q4, l, 512, 1, false)) {
    line("GEMM M=512 4096x4096 q4_0, 1 thread", c->gops(), "GOPS", 190,
         find(4096, 4096, q4, Q4R_LAYOUT_PLAIN, 512, 1, false), false);
    if (const Cell* c2 = find(4096, 4096, q4, l, 512, 2, false)) {
      char buf[256];
      const double r = c->median_s / c2->median_s;
      std::snprintf(buf, sizeof buf, "  %-48s %7.2f x    (goal >= 1.85) %s",
                    "GEMM M=512 4096x4096 q4_0, 2 threads / 1 thread", r,
                    r >= 1.85 ? "met" : "NOT met");
      lines.push_back(buf);
    }
  }
  // IQ4_NL vs Q4_0: the worst ratio over every matching measurement of the chosen layouts.
  double worst = 0;
  const Cell* worst_cell = nullptr;
  for (const Cell& c : cells_) {
    if (c.type != Q4R_TYPE_IQ4_NL || c.layout != chosen_layout(Q4R_TYPE_IQ4_NL)) continue;
    const Cell* q = find(c.shape->n, c.shape->k, q4, l, c.m, c.threads, c.cold);
    if (q && c.median_s / q->median_s > worst) worst = c.median_s / q->median_s, worst_cell = &c;
  }
  if (worst_cell) {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "  %-48s %7.2f x    (goal <= 1.10; worst at %lldx%lld M=%d %s) %s",
                  "IQ4_NL time / Q4_0 time", worst, (long long)worst_cell->shape->n,
                  (long long)worst_cell->shape->k, worst_cell->m,
                  worst_cell->cold ? "cold" : "warm", worst <= 1.10 ? "met" : "NOT met");
    lines.push_back(buf);
  }
  if (lines.empty()) return;
  std::printf("\ngoals (%s, layout %s; AVX-512 VNNI goals need a CPU that exposes it):\n",
              q4r_isa_name(q4r_active_isa()), q4r_layout_name(l));
  for (const std::string& s : lines) std::printf("%s\n", s.c_str());
}

void Runner::write_json() const {
  std::string f;
  const CpuReport cpu = cpu_report();
  const q4r_isa isa = q4r_active_isa();
  appendf(f, "{\n  \"version\": %s,\n  \"cpu\": %s,\n  \"isa\": %s,\n",
          json_string(q4r_version_string()).c_str(),
          json_string(cpu.vendor + " " + cpu.brand).c_str(),
          json_string(q4r_isa_name(isa)).c_str());
  appendf(f, "  \"logical_cpus\": %u,\n  \"l3_bytes\": %zu,\n  \"source\": %s,\n",
          std::thread::hardware_concurrency(), l3_cache_bytes(), json_string(o_.source).c_str());
  appendf(f, "  \"preferred_layout\": {");
  for (std::size_t i = 0; i < o_.types.size(); ++i) {
    appendf(f, "%s\"%s\": \"%s\"", i ? ", " : "", q4r_type_name(o_.types[i]),
            q4r_layout_name(chosen_layout(o_.types[i])));
  }
  appendf(f, "},\n  \"machine\": [");
  bool first = true;
  for (const auto& [t, bw] : bandwidth_) {
    appendf(f, "%s\n    {\"threads\": %d, \"read_gbps\": %.3f, \"compute_roof_gops\": %.3f}",
            first ? "" : ",", t, bw, compute_roof_.at(t));
    first = false;
  }
  appendf(f, "\n  ],\n  \"results\": [");
  first = true;
  for (const Cell& c : cells_) {
    appendf(f,
            "%s\n    {\"shape\": %s, \"n\": %lld, \"k\": %lld, \"count\": %d, "
            "\"type\": \"%s\", \"layout\": \"%s\", \"isa\": \"%s\", \"m\": %d, "
            "\"threads\": %d, \"cache\": \"%s\", \"copies\": %d, \"weight_bytes\": %zu, "
            "\"time_s\": %.9g, \"time_min_s\": %.9g, \"reps\": %d, \"gbps\": %.4f, "
            "\"gops\": %.4f, \"bw_fraction\": %.4f, \"speedup\": %.4f, \"cpu_share\": %.3f}",
            first ? "" : ",", json_string(c.shape->name).c_str(), (long long)c.shape->n,
            (long long)c.shape->k, c.shape->count, q4r_type_name(c.type), q4r_layout_name(c.layout),
            q4r_isa_name(isa), c.m, c.threads, c.cold ? "cold" : "warm", c.copies, c.weight_bytes,
            c.median_s, c.min_s, c.reps, c.gbps(), c.gops(), c.gbps() / c.bw_ref,
            c.layout == Q4R_LAYOUT_PLAIN ? 1.0 : c.speedup, c.cpu_share);
    first = false;
  }
  appendf(f, "\n  ],\n  \"total_seconds\": %.1f\n}\n", total_seconds_);
  cli::write_atomic(o_.json_path, f.data(), f.size());
  std::printf("\nwrote %s\n", o_.json_path.c_str());
}

int Runner::run() {
  const auto start = Clock::now();
  print_header();
  measure_machine();
  for (const BenchShape& s : shapes_) {
    measure_shape(s);
  }
  print_summary();
  std::printf("\nmemory read bandwidth, best of the measurements before each shape:");
  for (const auto& [t, bw] : bandwidth_)
    std::printf(" %d thread%s %.1f GB/s;", t, t > 1 ? "s" : "", bw);
  std::printf(" %%bw above used the best figure at the time\n");
  print_goals();
  if (!skipped_.empty()) {
    std::printf("\nskipped, too slow on this ISA (> %g s per call):\n", kMaxCallSeconds);
    for (const std::string& s : skipped_) std::printf("  %s\n", s.c_str());
  }
  total_seconds_ = seconds_since(start);
  int busy = 0;
  for (const Cell& c : cells_) busy += c.cpu_share < kBusyShare;
  std::printf("\n%.0f s. cpu = CPU time / (wall time x threads) of the timed calls",
              total_seconds_);
  if (busy) {
    std::printf(
        ": %d of %zu measurements ran below %.0f%% ('busy'):\nother processes shared the "
        "CPUs, so those figures are low; compare ratios from one run, or run again.\n",
        busy, cells_.size(), 100 * kBusyShare);
  } else {
    std::printf(" (every measurement had the CPUs to itself).\n");
  }
  if (!o_.json_path.empty()) write_json();
  return 0;
}

}  // namespace

std::vector<BenchShape> default_model_shapes() {
  return {{"attn_q, attn_output", 4096, 4096, 2},
          {"attn_k, attn_v", 1024, 4096, 2},
          {"ffn_gate, ffn_up", 14336, 4096, 2},
          {"ffn_down", 4096, 14336, 1}};
}

int run_bench(const std::vector<BenchShape>& shapes, const BenchOptions& options) {
  Runner r(shapes, options);
  return r.run();
}

}  // namespace q4r::bench
