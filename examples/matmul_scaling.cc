// Thread scaling of one matmul through the public API (the library's own pool):
//   matmul_scaling [m] [n] [k] [reps]      (defaults: 512 4096 4096 3)
// Q4_0 weights in the active ISA's preferred layout; prints the best of `reps` wall times for
// 1, 2, ... hardware threads and the speed-up over one thread, measured in the same run, plus:
//  - CPU time per run (all threads): cpu(1) / cpu(t) near 1 means splitting the work cost nothing
//    extra, so the wall speed-up is bounded only by how many cores the machine really gives us;
//  - a control: a pure arithmetic loop split the same way. On a shared machine (other processes
//    busy) its speed-up shows how much parallelism was actually available during the run.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <thread>
#include <vector>

#include "q4repack/q4repack.hpp"

namespace {

double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

volatile double g_sink;
// The control: fixed arithmetic work split over `threads` threads; returns wall seconds.
double control_run(int threads) {
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> th;
  for (int i = 0; i < threads; ++i) {
    th.emplace_back([threads] {
      double s = 0;
      for (long j = 0; j < 200000000L / threads; ++j) s += j * 1e-9;
      g_sink = s;
    });
  }
  for (auto& t : th) t.join();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t m = argc > 1 ? std::atoll(argv[1]) : 512;
  const int64_t n = argc > 2 ? std::atoll(argv[2]) : 4096;
  const int64_t k = argc > 3 ? std::atoll(argv[3]) : 4096;
  const int reps = argc > 4 ? std::atoi(argv[4]) : 3;
  std::vector<float> wf(n * k), x(m * k);
  uint32_t s = 1;
  for (float& v : wf) v = (s = s * 1664525u + 1013904223u) / 4294967296.f - 0.5f;
  for (float& v : x) v = (s = s * 1664525u + 1013904223u) / 4294967296.f - 0.5f;
  try {
    std::vector<uint8_t> w = q4repack::quantize(Q4R_TYPE_Q4_0, wf.data(), n, k);
    wf = {};
    const q4r_layout layout = q4r_preferred_layout(Q4R_TYPE_Q4_0, q4r_active_isa());
    if (layout != Q4R_LAYOUT_PLAIN) {
      q4repack::repack_inplace(Q4R_TYPE_Q4_0, layout, w.data(), w.size(), n, k);
    }
    std::vector<float> y(m * n);
    const int max_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    std::printf("m=%lld n=%lld k=%lld q4_0 %s on %s, best of %d\n", (long long)m, (long long)n,
                (long long)k, q4r_layout_name(layout), q4r_isa_name(q4r_active_isa()), reps);
    double one = 0, one_cpu = 0, one_control = 0;
    for (int t = 1; t <= max_threads; ++t) {
      double best = 1e30, best_cpu = 1e30, control = 1e30;
      for (int r = 0; r < reps; ++r) {
        const double c0 = cpu_seconds();
        const auto t0 = std::chrono::steady_clock::now();
        q4repack::check(
            q4r_matmul(Q4R_TYPE_Q4_0, layout, w.data(), w.size(), n, k, x.data(), m, y.data(), t));
        const auto t1 = std::chrono::steady_clock::now();
        best = std::min(best, std::chrono::duration<double>(t1 - t0).count());
        best_cpu = std::min(best_cpu, cpu_seconds() - c0);
      }
      for (int r = 0; r < 3; ++r) control = std::min(control, control_run(t));
      if (t == 1) one = best, one_cpu = best_cpu, one_control = control;
      std::printf(
          "threads %2d: %8.2f ms %6.1f GOP/s  speed-up %.2fx | cpu %8.2f ms, "
          "cpu(1)/cpu %.2f | control speed-up %.2fx\n",
          t, best * 1e3, 2.0 * m * n * k / best * 1e-9, one / best, best_cpu * 1e3,
          one_cpu / best_cpu, one_control / control);
    }
  } catch (const q4repack::Error& e) {
    std::fprintf(stderr, "matmul_scaling: %s\n", e.what());
    return 1;
  }
  return 0;
}
