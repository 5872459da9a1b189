// Timing: every variant of one case (type, shape, M, threads) alternates round-robin in this
// process, on the same plain weight bytes and the same f32 activations.
//
// Method. A round gives each variant one slot, in an order rotated by one every round (no variant
// always follows the same one). Before a slot the bench sleeps 2 ms, so the previous variant's
// threads (GGML's OpenMP workers spin for a while after a parallel region) are idle; a warm slot
// makes one untimed call first (the other variants' weights have displaced this one's from the
// caches), then times single calls (wall clock) until the slot has lasted 5 ms. The figure is the
// fastest call (min of N); the median is in the JSON. Rounds repeat until --seconds have passed
// and at least --min-rounds were made. Cold cases: each variant owns copies of its weights
// totalling >= --cold-mib (512 MiB), each call reads the next copy, and the variants run in turn,
// so between two uses of a copy several GiB were read: every call streams its weights from DRAM.
#include "vs_ggml_modes.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "ggml_matmul.h"
#include "ours_matmul.h"
#include "vs_ggml_common.h"
#include "vs_ggml_report.h"

namespace q4r::bench {

namespace {

using Clock = std::chrono::steady_clock;

struct Variant {
  Measurement info;
  std::function<void()> call;
  std::vector<double> samples;
};

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void time_round_robin(std::vector<Variant>& vs, bool cold, const Options& o) {
  const auto start = Clock::now();
  for (int round = 0; round < o.min_rounds || seconds_since(start) < o.seconds; ++round) {
    for (std::size_t j = 0; j < vs.size(); ++j) {
      Variant& v = vs[(round + j) % vs.size()];
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      if (!cold) v.call();
      const auto slot = Clock::now();
      do {
        const auto t0 = Clock::now();
        v.call();
        v.samples.push_back(seconds_since(t0));
      } while (seconds_since(slot) < 0.005);
    }
  }
}

void summarize(Variant& v, const CaseSpec& c, std::size_t weight_bytes) {
  std::vector<double>& s = v.samples;
  std::sort(s.begin(), s.end());
  v.info.calls = static_cast<int>(s.size());
  v.info.min_s = s.front();
  v.info.median_s = s[s.size() / 2];
  v.info.gbps = static_cast<double>(weight_bytes) / v.info.min_s * 1e-9;
  v.info.gops = 2.0 * c.m * c.n * c.k / v.info.min_s * 1e-9;
}

// Pointers to every copy (the rotation comes back to its start).
std::vector<const uint8_t*> pointers(WeightCopies& copies) {
  std::vector<const uint8_t*> out;
  for (int i = 0; i < copies.copies(); ++i) out.push_back(copies.next());
  return out;
}

// Everything one (type, shape, M) case owns: weights, activations and the variants' state.
struct CaseData {
  std::vector<std::unique_ptr<WeightCopies>> copies;
  std::vector<std::unique_ptr<GgmlMatmul>> ggml;
  std::vector<std::unique_ptr<OursMatmul>> ours;
};

}  // namespace

int run_bench(const Options& o) {
  Report report(o);
  GgmlBackend backend;
  std::map<std::pair<int, std::pair<int64_t, int64_t>>, Buffer> weights;  // quantize once
  for (q4r_type type : o.types) {
    for (const CaseSpec& c : o.cases) {
      auto key = std::make_pair(int(type), std::make_pair(c.n, c.k));
      if (!weights.count(key)) weights.emplace(key, quantized_weights(type, c.n, c.k, 7));
      const Buffer& plain = weights.at(key);
      const int copies =
          c.cold ? int(std::max<int64_t>(2, ((o.cold_mib << 20) + plain.size() - 1) / plain.size()))
                 : 1;
      const std::vector<float> x = random_activations(c.m, c.k, 11);
      CaseData d;
      auto new_copies = [&](q4r_layout layout) {
        d.copies.push_back(std::make_unique<WeightCopies>(plain, type, layout, c.n, c.k, copies));
        return d.copies.back().get();
      };
      const std::vector<const uint8_t*> upload(copies, plain.data());
      d.ggml.push_back(std::make_unique<GgmlMatmul>(backend, GgmlPlacement::kPlain, type, c.n, c.k,
                                                    c.m, pointers(*new_copies(Q4R_LAYOUT_PLAIN)),
                                                    x.data()));
      const bool repack = GgmlMatmul::can_repack(backend, type, c.n, c.k);
      if (repack) {
        d.ggml.push_back(std::make_unique<GgmlMatmul>(backend, GgmlPlacement::kRepack, type, c.n,
                                                      c.k, c.m, upload, x.data()));
      }
      for (int threads : o.threads) {
        std::vector<Variant> vs;
        for (std::size_t g = 0; g < d.ggml.size(); ++g) {
          GgmlMatmul* m = d.ggml[g].get();
          const auto p = g == 0 ? GgmlPlacement::kPlain : GgmlPlacement::kRepack;
          vs.push_back({Measurement::ggml(p), [m, threads] { m->run(threads); }, {}});
        }
        for (q4r_isa isa : o.isas) {
          for (q4r_layout layout : layouts_for(type, isa, o.all_layouts)) {
            d.ours.push_back(std::make_unique<OursMatmul>(isa, threads, type, layout, c.n, c.k, c.m,
                                                          new_copies(layout), x.data()));
            OursMatmul* m = d.ours.back().get();
            vs.push_back({Measurement::ours(isa, layout, type), [m] { m->run(); }, {}});
          }
        }
        time_round_robin(vs, c.cold, o);
        std::vector<Measurement> row;
        for (Variant& v : vs) {
          summarize(v, c, plain.size());
          row.push_back(v.info);
        }
        report.add_row(type, c, threads, row);
        // Free this thread count's variants of ours and their copies (copies[0] is GGML plain's).
        d.ours.clear();
        d.copies.resize(1);
      }
    }
  }
  return report.finish();
}

}  // namespace q4r::bench
