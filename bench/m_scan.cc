// q4repack_mscan: GOPS for every batch size M in [lo, hi] on warm weights, one thread, for several
// ISA levels alternated in one process, so that a step down from M - 1 to M (issue 10's "no cliff"
// goal) can be told apart from the machine's drift. Each round times M ascending or descending
// (alternately), min of 3 calls per M, thread CPU time; prints the min over the rounds and, per
// M, the median over the rounds of the change from M - 1 to M timed milliseconds apart
// (docs/KERNELS.md, "The steps of the 256-bit sets").
//
//   q4repack_mscan [--rounds R] [--isas avx2,avxvnni,...] [--types q4_0,iq4_nl] [--m LO-HI]
//                  [--shape NxK] [--layout 8x8]
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

double thread_seconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t end = std::min(text.find(',', pos), text.size());
    if (end > pos) out.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "q4repack_mscan: %s\nusage: q4repack_mscan [--rounds R] [--isas LIST] [--types "
               "LIST] [--m LO-HI] [--shape NxK] [--layout L]\n",
               why);
  std::exit(2);
}

struct Batch {
  int m;
  std::vector<uint8_t> ws;
};

// One call of Y = X * W^T over all columns with the batch already quantized.
void run_once(q4r_type type, q4r_layout layout, const q4r::bench::Buffer& w, int64_t n, int64_t k,
              const Batch& b, std::vector<float>& y) {
  if (q4r_run(type, layout, w.data(), w.size(), n, k, b.ws.data(), b.ws.size(), b.m, y.data(),
              static_cast<std::size_t>(n), 0, n) != Q4R_OK) {
    usage("q4r_run failed");
  }
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 20, lo = 1, hi = 16;
  long long n = 4096, k = 4096;
  std::vector<std::string> isas, type_names = {"q4_0", "iq4_nl"};
  q4r_layout layout = Q4R_LAYOUT_8X8;
  for (int i = 1; i < argc; ++i) {
    const std::string opt = argv[i];
    if (i + 1 >= argc) usage("missing value");
    const char* v = argv[++i];
    if (opt == "--rounds") {
      rounds = std::atoi(v);
    } else if (opt == "--isas") {
      isas = split(v);
    } else if (opt == "--types") {
      type_names = split(v);
    } else if (opt == "--m") {
      if (std::sscanf(v, "%d-%d", &lo, &hi) != 2) usage("--m wants LO-HI");
    } else if (opt == "--shape") {
      if (std::sscanf(v, "%lldx%lld", &n, &k) != 2) usage("--shape wants NxK");
    } else if (opt == "--layout") {
      if (q4r_parse_layout(v, &layout) != Q4R_OK) usage("unknown layout");
    } else {
      usage("unknown option");
    }
  }
  if (rounds < 1 || lo < 1 || hi < lo || hi > 64 || n < 8 || k < 32 || k % 32) usage("bad value");
  std::vector<q4r_isa> levels;
  if (isas.empty()) {
    for (q4r_isa isa :
         {Q4R_ISA_AVX2, Q4R_ISA_AVXVNNI, Q4R_ISA_AVX512VNNI256, Q4R_ISA_AVX512VNNI512})
      if (q4r_isa_available(isa)) levels.push_back(isa);
  }
  for (const std::string& s : isas) {
    q4r_isa isa;
    if (q4r_parse_isa(s.c_str(), &isa) != Q4R_OK || !q4r_isa_available(isa)) usage("isa");
    levels.push_back(isa);
  }
  if (levels.empty()) usage("no ISA level to measure");
  std::printf("q4repack_mscan: %lldx%lld %s, warm, 1 thread, %d rounds, GOPS = 2*M*N*K/s\n", n, k,
              q4r_layout_name(layout), rounds);
  for (const std::string& tn : type_names) {
    q4r_type type;
    if (q4r_parse_type(tn.c_str(), &type) != Q4R_OK || type == Q4R_TYPE_Q8_0) usage("type");
    const q4r::bench::Buffer plain = q4r::bench::random_plain_weights(type, n, k, 7);
    q4r::bench::Buffer w(plain.size());
    if (q4r_repack(type, layout, plain.data(), w.data(), plain.size(), n, k) != Q4R_OK) {
      usage("repack failed");
    }
    std::vector<Batch> batches;
    for (int m = lo; m <= hi; ++m) {
      const std::vector<float> x = q4r::bench::random_activations(m, k, 99 + m);
      std::size_t bytes = 0;
      q4r_workspace_size(layout, n, m, k, &bytes);
      Batch b{m, std::vector<uint8_t>(bytes)};
      q4r_quantize_activations(layout, n, x.data(), static_cast<std::size_t>(k), m, k, b.ws.data(),
                               bytes);
      batches.push_back(std::move(b));
    }
    const int nm = hi - lo + 1, nl = static_cast<int>(levels.size());
    // t[level][m - lo][round]: fastest of 3 calls, seconds.
    std::vector<std::vector<std::vector<double>>> t(nl, std::vector<std::vector<double>>(nm));
    std::vector<float> y(static_cast<std::size_t>(hi) * n);
    for (int r = 0; r < rounds; ++r) {
      for (int j = 0; j < nl; ++j) {
        const int li = (j + r) % nl;
        q4r_set_isa(levels[li]);
        for (int step = 0; step < nm; ++step) {
          const int mi = r % 2 == 0 ? step : nm - 1 - step;
          double best = 1e30;
          for (int c = 0; c < 3; ++c) {
            const double t0 = thread_seconds();
            run_once(type, layout, w, n, k, batches[mi], y);
            best = std::min(best, thread_seconds() - t0);
          }
          t[li][mi].push_back(best);
        }
      }
    }
    const double ops = 2.0 * static_cast<double>(n) * static_cast<double>(k) * 1e-9;
    for (int li = 0; li < nl; ++li) {
      std::printf("%-14s %-6s GOPS (min) :", q4r_isa_name(levels[li]), tn.c_str());
      for (int mi = 0; mi < nm; ++mi) {
        const double best = *std::min_element(t[li][mi].begin(), t[li][mi].end());
        std::printf(" %4.0f", ops * (lo + mi) / best);
      }
      std::printf("\n%-14s %-6s step M-1->M:", q4r_isa_name(levels[li]), tn.c_str());
      double worst = 1e30;
      for (int mi = 1; mi < nm; ++mi) {
        std::vector<double> q;
        for (int r = 0; r < rounds; ++r) {
          // GOPS(M) / GOPS(M - 1) of one round.
          q.push_back(t[li][mi - 1][r] / (lo + mi - 1) / (t[li][mi][r] / (lo + mi)));
        }
        std::sort(q.begin(), q.end());
        const double pct = (q[q.size() / 2] - 1) * 100;
        worst = std::min(worst, pct);
        std::printf(" %+4.0f", pct);
      }
      std::printf("  %% (worst %+.1f %%)\n", nm > 1 ? worst : 0.0);
    }
    std::fflush(stdout);
  }
  return 0;
}
