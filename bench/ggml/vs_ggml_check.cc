// Cross-check: our outputs against GGML's on the same weight bytes and f32 activations, for every
// type x layout x available ISA, against both GGML placements (plain and CPU_REPACK).
//
// Tolerance (docs/KERNELS.md). Each side computes sum over blocks l of dW*dA_l*isum_l with exact
// integer block sums; its float order differs (GGML: its kernels' block-FMA or lane order; ours:
// block-FMA or the scalar reference's partial sums), and each side is within
// g * S of the exact dot product E of *its own* quantized activations, where
// g = (4*nb + 8) * 2^-24 and S = sum_e |w_e * a_e| (nb = K/32 blocks). The activations can differ
// by one quantum at rounding ties (our scalar quantizer rounds ties away from zero, the x86 ones
// and GGML's to even), which changes E exactly, so per output
//   |y_ours - y_ggml| <= g * (S_ours + S_ggml) + |E_ours - E_ggml|,
// with E and S computed in double from the dequantized weights and each side's Q8_0 activations
// (GGML's from its own quantizer, the CPU type traits' from_float, which both of its paths use).
// A wrong block, scale or nibble is off by at least |dW*dA| per element, far above that bound.
#include "vs_ggml_modes.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <ggml-cpu.h>
#include <ggml.h>
#include "ggml_matmul.h"
#include "ours_matmul.h"
#include "vs_ggml_common.h"

namespace q4r::bench {

namespace {

struct Shape {
  int64_t n, k;
};
// Rows: multiples of 8 (GGML repacks them), and 100 (GGML keeps it plain; our layouts get a
// plain tail). K: one block, a K that is not a multiple of 256, a long row.
constexpr Shape kShapes[] = {{136, 2880}, {64, 4096}, {40, 32}, {100, 256}};
constexpr int64_t kBatches[] = {1, 2, 3, 4, 5, 8, 16, 17, 33};

// Exact dot products and magnitudes of a (plain weights, plain Q8_0 activations) pair.
struct Exact {
  std::vector<double> e, s;  // m x n
};

std::vector<float> dequantize(q4r_type type, const void* data, std::size_t size, int64_t rows,
                              int64_t k) {
  std::vector<float> out(static_cast<std::size_t>(rows * k));
  check(q4r_dequantize(type, data, size, rows, k, out.data()), "q4r_dequantize");
  return out;
}

// Each dequantized value is an fp16 scale times a small integer (exact in float); their products
// are exact in double, and the double sum's own error (~K * 2^-53) is negligible here.
Exact exact(const std::vector<float>& w, const std::vector<float>& a, int64_t n, int64_t k,
            int64_t m) {
  Exact r{std::vector<double>(m * n), std::vector<double>(m * n)};
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double e = 0, s = 0;
      for (int64_t t = 0; t < k; ++t) {
        const double p = double(w[j * k + t]) * double(a[i * k + t]);
        e += p;
        s += std::fabs(p);
      }
      r.e[i * n + j] = e;
      r.s[i * n + j] = s;
    }
  }
  return r;
}

std::vector<uint8_t> q8_bytes(int64_t m, int64_t k) {
  std::size_t bytes = 0;
  check(q4r_tensor_bytes(Q4R_TYPE_Q8_0, m, k, &bytes), "q4r_tensor_bytes");
  return std::vector<uint8_t>(bytes);
}

// GGML's activation quantizer (the one its plain and repack paths use before their kernels).
std::vector<uint8_t> ggml_activations(const std::vector<float>& x, int64_t m, int64_t k) {
  std::vector<uint8_t> q = q8_bytes(m, k);
  const ggml_from_float_t from_float = ggml_get_type_traits_cpu(GGML_TYPE_Q8_0)->from_float;
  std::size_t row = q.size() / m;
  for (int64_t i = 0; i < m; ++i) from_float(&x[i * k], q.data() + i * row, k);
  return q;
}

std::vector<uint8_t> our_activations(q4r_isa isa, const std::vector<float>& x, int64_t m,
                                     int64_t k) {
  std::vector<uint8_t> q = q8_bytes(m, k);
  const q4r_isa before = q4r_active_isa();
  check(q4r_set_isa(isa), "q4r_set_isa");
  check(q4r_quantize_q8_0_rows(x.data(), k, m, k, q.data(), q.size()), "q4r_quantize_q8_0_rows");
  check(q4r_set_isa(before), "q4r_set_isa");
  return q;
}

// Worst case of one comparison, over all the outputs it saw.
struct Stats {
  std::string what;
  long outputs = 0, bad = 0;
  double max_abs = 0, max_rel = 0, max_ratio = 0;  // rel: err / sum|w*a|; ratio: err / tolerance
  long act_diff = 0;                               // activation bytes that differ from GGML's
  void add(double err, double scale, double tol) {
    ++outputs;
    max_abs = std::max(max_abs, err);
    max_rel = std::max(max_rel, scale > 0 ? err / scale : 0);
    max_ratio = std::max(max_ratio, tol > 0 ? err / tol : (err > 0 ? INFINITY : 0));
    if (!(err <= tol)) ++bad;
  }
};

Stats& stats_for(std::vector<Stats>& all, const std::string& what) {
  for (Stats& s : all) {
    if (s.what == what) return s;
  }
  all.push_back(Stats{what});
  return all.back();
}

void compare(Stats& st, const float* y, const Exact& ey, const float* g, const Exact& eg, int64_t k,
             std::size_t count) {
  const double u = std::ldexp(1.0, -24), terms = 4.0 * double(k / 32) + 8.0;
  const double gamma = terms * u / (1 - terms * u);
  for (std::size_t i = 0; i < count; ++i) {
    const double err = std::fabs(double(y[i]) - double(g[i]));
    const double tol = gamma * (ey.s[i] + eg.s[i]) + std::fabs(ey.e[i] - eg.e[i]);
    st.add(err, std::max(ey.s[i], eg.s[i]), tol);
  }
}

long differing_bytes(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  long d = 0;
  for (std::size_t i = 0; i < a.size(); ++i) d += a[i] != b[i];
  return d;
}

}  // namespace

int run_check(const Options& o) {
  GgmlBackend backend;
  std::vector<Stats> all;
  long repack_bytes_checked = 0, repack_bytes_bad = 0;
  std::vector<q4r_isa> isas;
  for (int i = 0; i < Q4R_ISA_COUNT; ++i) {
    if (q4r_isa_available(static_cast<q4r_isa>(i))) isas.push_back(static_cast<q4r_isa>(i));
  }
  for (q4r_type type : o.types) {
    for (const Shape& sh : kShapes) {
      const Buffer plain = quantized_weights(type, sh.n, sh.k, 3 + sh.n);
      const std::vector<float> wf = dequantize(type, plain.data(), plain.size(), sh.n, sh.k);
      const bool repack = GgmlMatmul::can_repack(backend, type, sh.n, sh.k);
      for (int64_t m : kBatches) {
        std::vector<float> x = random_activations(m, sh.k, 5 + m);
        // An all-zero activation row (d = 0) in every batch of two or more rows.
        if (m > 1) std::fill(x.begin() + (m - 1) * sh.k, x.end(), 0.0f);
        const std::vector<uint8_t> ga = ggml_activations(x, m, sh.k);
        const Exact eg =
            exact(wf, dequantize(Q4R_TYPE_Q8_0, ga.data(), ga.size(), m, sh.k), sh.n, sh.k, m);
        WeightCopies plain_copy(plain, type, Q4R_LAYOUT_PLAIN, sh.n, sh.k, 1);
        std::vector<std::unique_ptr<GgmlMatmul>> ggml;
        ggml.push_back(
            std::make_unique<GgmlMatmul>(backend, GgmlPlacement::kPlain, type, sh.n, sh.k, m,
                                         std::vector<const uint8_t*>{plain.data()}, x.data()));
        if (repack) {
          ggml.push_back(
              std::make_unique<GgmlMatmul>(backend, GgmlPlacement::kRepack, type, sh.n, sh.k, m,
                                           std::vector<const uint8_t*>{plain.data()}, x.data()));
        }
        for (int threads : o.threads) {
          for (auto& g : ggml) g->run(threads);
          if (repack) {
            compare(stats_for(all, std::string(q4r_type_name(type)) + " GGML plain vs repack"),
                    ggml[0]->y(), eg, ggml[1]->y(), eg, sh.k, size_t(m * sh.n));
          }
          for (q4r_isa isa : isas) {
            const std::vector<uint8_t> qa = our_activations(isa, x, m, sh.k);
            const Exact ey =
                exact(wf, dequantize(Q4R_TYPE_Q8_0, qa.data(), qa.size(), m, sh.k), sh.n, sh.k, m);
            for (q4r_layout layout : layouts_for(type, isa, true)) {
              WeightCopies w(plain, type, layout, sh.n, sh.k, 1);
              OursMatmul ours(isa, threads, type, layout, sh.n, sh.k, m, &w, x.data());
              ours.run();
              for (std::size_t g = 0; g < ggml.size(); ++g) {
                Stats& st = stats_for(all, std::string(q4r_type_name(type)) + " " +
                                               q4r_isa_name(isa) + " " + q4r_layout_name(layout) +
                                               " vs " + (g ? "GGML repack" : "GGML plain"));
                compare(st, ours.y(), ey, ggml[g]->y(), eg, sh.k, size_t(m * sh.n));
                st.act_diff += differing_bytes(qa, ga);
              }
            }
          }
        }
        // GGML's repacked bytes are one of our layouts, byte for byte (8x8 on x86).
        if (repack) {
          bool same = false;
          for (q4r_layout layout : layouts_for(type, Q4R_ISA_SCALAR, true)) {
            if (layout == Q4R_LAYOUT_PLAIN) continue;
            WeightCopies w(plain, type, layout, sh.n, sh.k, 1);
            same = same || std::memcmp(w.next(), ggml[1]->weight_data(), w.bytes()) == 0;
          }
          ++repack_bytes_checked;
          repack_bytes_bad += !same;
        }
      }
    }
  }
  std::printf(
      "| comparison | outputs | max abs err | max err / sum|w*a| | max err / tolerance | "
      "activation bytes != GGML's | result |\n|---|---|---|---|---|---|---|\n");
  long failed = 0;
  for (const Stats& s : all) {
    std::printf("| %s | %ld | %.3g | %.3g | %.3f | %ld | %s |\n", s.what.c_str(), s.outputs,
                s.max_abs, s.max_rel, s.max_ratio, s.act_diff, s.bad ? "FAIL" : "ok");
    failed += s.bad != 0;
  }
  std::printf("GGML CPU_REPACK bytes equal to one of our layouts: %ld of %ld tensors\n",
              repack_bytes_checked - repack_bytes_bad, repack_bytes_checked);
  std::printf("ISAs checked:");
  for (q4r_isa isa : isas) std::printf(" %s", q4r_isa_name(isa));
  std::printf("; GGML features: %s; GGML repack kernels: %s\n", ggml_features().c_str(),
              ggml_repack_kernels().c_str());
  if (failed || repack_bytes_bad) {
    std::printf("q4repack_vs_ggml --check: FAILED (%ld comparisons out of tolerance)\n", failed);
    return 1;
  }
  std::printf("q4repack_vs_ggml --check: all %zu comparisons within tolerance\n", all.size());
  return 0;
}

}  // namespace q4r::bench
