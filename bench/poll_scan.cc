// q4repack_pollscan: what the thread pool's polling is worth. Contexts that differ only in
// poll_us (how long the pool's workers poll for the next call before they sleep) are alternated
// in one process on the same weights, every call after a busy gap on the caller (an engine's
// other ops, a Python caller's own code), so the VM's drift between runs cancels out
// (docs/PERFORMANCE.md, "Fifth session"). Prints min / quartiles / median of the call time.
//
//   q4repack_pollscan [--threads T] [--rounds R] [--gap-us G] [--polls 0,20,100,300]
//                     [--shape NxK] [--m M]
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench/harness/bench_harness.h"
#include "q4repack/q4repack.h"

namespace {

int64_t now_ns() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return int64_t{t.tv_sec} * 1000000000 + t.tv_nsec;
}

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "q4repack_pollscan: %s\nusage: q4repack_pollscan [--threads T] [--rounds R] "
               "[--gap-us G] [--polls P,P,...] [--shape NxK] [--m M]\n",
               why);
  std::exit(2);
}

void check(q4r_status s, const char* what) {
  if (s != Q4R_OK) {
    std::fprintf(stderr, "q4repack_pollscan: %s: %s\n", what, q4r_last_error());
    std::exit(1);
  }
}

struct Side {
  explicit Side(int poll) : poll_us(poll) {}
  int poll_us;
  q4r_context* ctx = nullptr;
  std::vector<uint8_t> ws;
  std::vector<double> us;
};

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, rounds = 100, gap_us = 3, m = 1;
  long long n = 4096, k = 4096;
  std::vector<Side> sides;
  for (int i = 1; i < argc; ++i) {
    const std::string opt = argv[i];
    if (i + 1 >= argc) usage(("missing value after " + opt).c_str());
    const char* v = argv[++i];
    if (opt == "--threads") {
      threads = std::atoi(v);
    } else if (opt == "--rounds") {
      rounds = std::atoi(v);
    } else if (opt == "--gap-us") {
      gap_us = std::atoi(v);
    } else if (opt == "--m") {
      m = std::atoi(v);
    } else if (opt == "--shape") {
      if (std::sscanf(v, "%lldx%lld", &n, &k) != 2) usage("--shape takes NxK");
    } else if (opt == "--polls") {
      for (char* p = const_cast<char*>(v); *p;) {
        sides.emplace_back(static_cast<int>(std::strtol(p, &p, 10)));
        if (*p == ',')
          ++p;
        else if (*p)
          usage("--polls takes a comma-separated list of microseconds");
      }
    } else {
      usage(("unknown option " + opt).c_str());
    }
  }
  if (sides.empty()) {
    for (int p : {0, 20, 100, 300}) sides.emplace_back(p);
  }
  if (threads < 1 || rounds < 1 || gap_us < 0 || m < 1) usage("values must be positive");

  const q4r_type type = Q4R_TYPE_Q4_0;
  const q4r_layout layout = Q4R_LAYOUT_8X8;
  const q4r::bench::Buffer plain = q4r::bench::random_plain_weights(type, n, k, 7);
  q4r::bench::Buffer w(plain.size());
  check(q4r_repack(type, layout, plain.data(), w.data(), plain.size(), n, k), "q4r_repack");
  const q4r_weights desc{type, layout, w.data(), w.size(), n, k};
  const std::vector<float> x = q4r::bench::random_activations(m, k, 99);
  std::vector<float> y(static_cast<std::size_t>(m * n));
  for (Side& s : sides) {
    q4r_context_options o;
    q4r_context_options_init(&o);
    o.n_threads = threads;
    o.poll_us = s.poll_us;
    check(q4r_context_create(&o, &s.ctx), "q4r_context_create");
    std::size_t bytes = 0;
    check(q4r_context_workspace_size(s.ctx, &desc, m, &bytes), "q4r_context_workspace_size");
    s.ws.resize(bytes);
  }
  auto call = [&](Side& s) {
    check(q4r_context_matmul(s.ctx, &desc, x.data(), static_cast<std::size_t>(k), m, y.data(),
                             static_cast<std::size_t>(n), s.ws.data(), s.ws.size()),
          "q4r_context_matmul");
  };
  // Each round gives every side one untimed call and then 10 timed ones, each after the gap; the
  // order of the sides rotates every round.
  const int per_round = 10;
  const int count = static_cast<int>(sides.size());
  for (int r = 0; r < rounds; ++r) {
    for (int j = 0; j < count; ++j) {
      Side& s = sides[static_cast<std::size_t>((j + r) % count)];
      call(s);
      for (int rep = 0; rep < per_round; ++rep) {
        q4r::bench::busy_wait_us(gap_us);
        const int64_t a = now_ns();
        call(s);
        s.us.push_back(1e-3 * static_cast<double>(now_ns() - a));
      }
    }
  }
  std::printf(
      "q4repack_pollscan: q4_0 8x8 %lldx%lld, M = %d, %d threads, %d us busy gap before "
      "each call, %d calls per side\n",
      n, k, m, threads, gap_us, rounds * per_round);
  for (Side& s : sides) {
    std::sort(s.us.begin(), s.us.end());
    const std::size_t c = s.us.size();
    std::printf("poll %7d us: min %8.1f  p25 %8.1f  median %8.1f  p75 %8.1f us\n", s.poll_us,
                s.us[0], s.us[c / 4], s.us[c / 2], s.us[3 * c / 4]);
    q4r_context_destroy(s.ctx);
  }
  return 0;
}
