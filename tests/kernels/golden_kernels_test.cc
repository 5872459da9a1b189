// The scalar kernels and the public matmul against the reference implementation's golden files.
//
// Bit-exact: the scalar GEMV/GEMM (GGML's generic float order, built with -ffp-contract=off)
// against every generic gemv_*.bin / gemm_*.bin, and the scalar activation quantizers against
// act_q8_0*.bin. Within a bound: q4r_matmul (scalar ISA, every layout and the plain path) against
// the exact dot products dot_exact_*.f64.bin. The `.native` files belong to the SIMD kernels' own
// tests.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "lib/run/dispatch.h"
#include "lib/format/formats.h"
#include "lib/format/fp16.h"
#include "q4repack/q4repack.h"
#include "test_util.h"

namespace q4r::test {
namespace {

struct Case {
  const char* dir;
  int64_t n, k;
  std::vector<int64_t> batches;
};
const Case kCases[] = {{"n16_k256", 16, 256, {1, 4, 8}}, {"n64_k1024", 64, 1024, {1, 4, 8, 16}}};

// The golden layouts (the reference has no iq4_nl 4x8).
struct GoldenLayout {
  q4r_type type;
  q4r_layout layout;
  const char* weights;  // repacked weights file
  const char* kernel;   // gemv_<kernel>.bin / gemm_<kernel>.bin
};
const GoldenLayout kGoldenLayouts[] = {
    {Q4R_TYPE_Q4_0, Q4R_LAYOUT_4X4, "q4_0_x4_il4.bin", "q4_0_4x4"},
    {Q4R_TYPE_Q4_0, Q4R_LAYOUT_4X8, "q4_0_x4_il8.bin", "q4_0_4x8"},
    {Q4R_TYPE_Q4_0, Q4R_LAYOUT_8X8, "q4_0_x8_il8.bin", "q4_0_8x8"},
    {Q4R_TYPE_IQ4_NL, Q4R_LAYOUT_4X4, "iq4_nl_x4_il4.bin", "iq4_nl_4x4"},
    {Q4R_TYPE_IQ4_NL, Q4R_LAYOUT_8X8, "iq4_nl_x8_il8.bin", "iq4_nl_8x8"},
};

std::string mdir(const Case& c, int64_t m) {
  return std::string(c.dir) + "/m" + std::to_string(m) + "/";
}
int wtype(q4r_type t) {
  return t == Q4R_TYPE_Q4_0 ? kQ4_0 : kIQ4_NL;
}
int packed(q4r_layout l) {
  return l - Q4R_LAYOUT_4X4;
}
const char* plain_file(q4r_type t) {
  return t == Q4R_TYPE_Q4_0 ? "q4_0.bin" : "iq4_nl.bin";
}

// Bitwise float comparison that reports the first difference.
::testing::AssertionResult same_bits(const std::vector<float>& got,
                                     const std::vector<float>& want) {
  if (got.size() != want.size()) {
    return ::testing::AssertionFailure() << "size " << got.size() << " vs " << want.size();
  }
  for (size_t i = 0; i < got.size(); ++i) {
    if (float_bits(got[i]) != float_bits(want[i])) {
      return ::testing::AssertionFailure()
             << "element " << i << ": " << got[i] << " vs " << want[i] << " (and maybe more)";
    }
  }
  return ::testing::AssertionSuccess();
}

TEST(GoldenKernels, ScalarGemvBitExact) {
  const KernelTable& kt = kernels_for(Q4R_ISA_SCALAR);
  for (const Case& c : kCases) {
    for (const GoldenLayout& g : kGoldenLayouts) {
      const auto w = read_golden(std::string(c.dir) + "/" + g.weights);
      for (int64_t m : c.batches) {
        const auto act = read_golden(mdir(c, m) + "act_q8_0.bin");
        const auto want = read_golden_f32(mdir(c, m) + "gemv_" + g.kernel + ".bin");
        ASSERT_EQ(act.size(), size_t(m * c.k / 32 * kQ8BlockBytes));
        std::vector<float> got(m * c.n, -1.f);
        for (int64_t r = 0; r < m; ++r) {
          kt.gemv[wtype(g.type)][packed(g.layout)](int(c.k), &got[r * c.n], w.data(),
                                                   &act[r * (c.k / 32) * kQ8BlockBytes], int(c.n));
        }
        EXPECT_TRUE(same_bits(got, want)) << mdir(c, m) << "gemv_" << g.kernel;
      }
    }
  }
}

TEST(GoldenKernels, ScalarGemmBitExact) {
  const KernelTable& kt = kernels_for(Q4R_ISA_SCALAR);
  for (const Case& c : kCases) {
    for (const GoldenLayout& g : kGoldenLayouts) {
      const auto w = read_golden(std::string(c.dir) + "/" + g.weights);
      const int chunk = q4r_layout_chunk(g.layout);
      for (int64_t m : c.batches) {
        if (m < 4) continue;  // GEMM needs a group of 4 rows (the m1 folder has no gemm files)
        const auto act =
            read_golden(mdir(c, m) + "act_q8_0_x4_il" + std::to_string(chunk) + ".bin");
        const auto want = read_golden_f32(mdir(c, m) + "gemm_" + g.kernel + ".bin");
        const int64_t nr = m - m % 4;
        std::vector<float> got(nr * c.n, -1.f);
        kt.gemm[wtype(g.type)][packed(g.layout)](int(c.k), got.data(), size_t(c.n), w.data(),
                                                 act.data(), int(nr), int(c.n));
        EXPECT_TRUE(same_bits(got, want)) << mdir(c, m) << "gemm_" << g.kernel;
      }
    }
  }
}

TEST(GoldenKernels, ScalarActivationQuantizersBitExact) {
  const KernelTable& kt = kernels_for(Q4R_ISA_SCALAR);
  for (const Case& c : kCases) {
    for (int64_t m : c.batches) {
      const auto x = read_golden_f32(mdir(c, m) + "act_f32.bin");
      ASSERT_EQ(x.size(), size_t(m * c.k));
      const size_t bytes = size_t(m * c.k / 32 * kQ8BlockBytes);
      std::vector<uint8_t> rows(bytes, 0xCD);
      kt.quant_rows(x.data(), size_t(c.k), rows.data(), int(c.k), int(m));
      EXPECT_EQ(rows, read_golden(mdir(c, m) + "act_q8_0.bin")) << mdir(c, m);
      // The public entry point with the scalar ISA gives the same bytes.
      ASSERT_EQ(q4r_set_isa(Q4R_ISA_SCALAR), Q4R_OK);
      std::vector<uint8_t> api(bytes, 0xCD);
      ASSERT_EQ(q4r_quantize_q8_0_rows(x.data(), size_t(c.k), m, c.k, api.data(), api.size()),
                Q4R_OK);
      EXPECT_EQ(api, rows);
      // And the weight-style quantizer entry point (quantize_row_q8_0_ref) as well.
      std::vector<uint8_t> ref(bytes, 0xCD);
      ASSERT_EQ(q4r_quantize(Q4R_TYPE_Q8_0, x.data(), m, c.k, nullptr, ref.data(), ref.size()),
                Q4R_OK);
      EXPECT_EQ(ref, rows);
      if (m < 4) continue;
      for (int chunk : {4, 8}) {
        const size_t gbytes = size_t(m / 4 * (c.k / 32) * kQ8x4BlockBytes);
        std::vector<uint8_t> groups(gbytes, 0xCD);
        kt.quant_x4[chunk == 4 ? kChunk4 : kChunk8](x.data(), size_t(c.k), groups.data(), int(c.k),
                                                    int(m / 4));
        EXPECT_EQ(groups,
                  read_golden(mdir(c, m) + "act_q8_0_x4_il" + std::to_string(chunk) + ".bin"))
            << mdir(c, m) << " chunk " << chunk;
        std::vector<uint8_t> api4(gbytes, 0xCD);
        ASSERT_EQ(
            q4r_quantize_q8_0_x4(x.data(), size_t(c.k), m, c.k, chunk, api4.data(), api4.size()),
            Q4R_OK);
        EXPECT_EQ(api4, groups);
      }
    }
  }
  q4r_set_isa(q4r_best_isa());
}

// Exact value (double; every term is exact in double and the sum has at most 2^-53 relative error
// per addition, far below float resolution) and the sum of absolute terms, per output, from plain
// weights and plain q8_0 activation rows. This is an independent implementation of B.4.2.
struct Reference {
  std::vector<double> exact, abs_sum;
};
Reference reference(q4r_type type, const std::vector<uint8_t>& w, const std::vector<uint8_t>& a,
                    int64_t n, int64_t k, int64_t m) {
  Reference r{std::vector<double>(m * n), std::vector<double>(m * n)};
  const int64_t nb = k / 32;
  auto half = [](const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return double(fp16_to_fp32(h));
  };
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t c = 0; c < n; ++c) {
      double sum = 0, abs = 0;
      for (int64_t l = 0; l < nb; ++l) {
        const uint8_t* wb = &w[(c * nb + l) * kQ4BlockBytes];
        const uint8_t* ab = &a[(i * nb + l) * kQ8BlockBytes];
        const double scale = half(wb) * half(ab);
        long isum = 0, iabs = 0;
        for (int e = 0; e < 32; ++e) {
          const int q = e < 16 ? wb[2 + e] & 0xF : wb[2 + e - 16] >> 4;
          const int v = type == Q4R_TYPE_Q4_0 ? q - 8 : kIq4nlValues[q];
          const int av = static_cast<int8_t>(ab[2 + e]);
          isum += v * av;
          iabs += std::abs(v * av);
        }
        sum += double(isum) * scale;
        abs += double(iabs) * std::fabs(scale);
      }
      r.exact[i * n + c] = sum;
      r.abs_sum[i * n + c] = abs;
    }
  }
  return r;
}

// Any float evaluation of a sum of at most `terms` products, each product and each addition
// rounded once (or fused), in any order, is within gamma(terms + 2) * sum|products| of the exact
// value (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., section 3.1; u = 2^-24).
// The scalar kernels add 16/B partial sums per block (at most 4 * nb additions), so `terms` is
// 4 * nb. The bound is rigorous, and still fine enough to catch one wrong block or element
// (an error of at least |dW dA| * 1 on typically ~1e3 * |dW dA| per element).
double tolerance(int64_t k, double abs_sum) {
  const double u = std::ldexp(1.0, -24);
  const double n = double(4 * (k / 32) + 2);
  return n * u / (1 - n * u) * abs_sum;
}

TEST(GoldenKernels, ReferenceMatchesDotExact) {
  // Cross-check of the test's own reference against the golden exact dot products.
  for (const Case& c : kCases) {
    for (q4r_type t : {Q4R_TYPE_Q4_0, Q4R_TYPE_IQ4_NL}) {
      const auto w = read_golden(std::string(c.dir) + "/" + plain_file(t));
      for (int64_t m : c.batches) {
        const auto a = read_golden(mdir(c, m) + "act_q8_0.bin");
        const auto want =
            read_golden_f64(mdir(c, m) + "dot_exact_" + q4r_type_name(t) + ".f64.bin");
        const Reference r = reference(t, w, a, c.n, c.k, m);
        ASSERT_EQ(want.size(), r.exact.size());
        for (size_t i = 0; i < want.size(); ++i) {
          EXPECT_NEAR(r.exact[i], want[i], 1e-12 * (1 + r.abs_sum[i])) << mdir(c, m) << " " << i;
        }
      }
    }
  }
}

TEST(GoldenKernels, PublicMatmulScalarWithinBoundOfDotExact) {
  ASSERT_EQ(q4r_set_isa(Q4R_ISA_SCALAR), Q4R_OK);
  for (const Case& c : kCases) {
    for (q4r_type t : {Q4R_TYPE_Q4_0, Q4R_TYPE_IQ4_NL}) {
      const auto plain = read_golden(std::string(c.dir) + "/" + plain_file(t));
      for (int li = 0; li < Q4R_LAYOUT_COUNT; ++li) {
        const q4r_layout layout = q4r_layout(li);
        std::vector<uint8_t> w = plain;
        if (layout != Q4R_LAYOUT_PLAIN) {
          ASSERT_EQ(q4r_repack_inplace(t, layout, w.data(), w.size(), c.n, c.k), Q4R_OK);
        }
        for (int64_t m : c.batches) {
          const std::string where = mdir(c, m) + q4r_type_name(t) + " " + q4r_layout_name(layout);
          const auto x = read_golden_f32(mdir(c, m) + "act_f32.bin");
          const auto a = read_golden(mdir(c, m) + "act_q8_0.bin");
          const auto exact =
              read_golden_f64(mdir(c, m) + "dot_exact_" + q4r_type_name(t) + ".f64.bin");
          const Reference r = reference(t, plain, a, c.n, c.k, m);
          std::vector<float> y(m * c.n, NAN);
          ASSERT_EQ(q4r_matmul(t, layout, w.data(), w.size(), c.n, c.k, x.data(), m, y.data(), 1),
                    Q4R_OK)
              << q4r_last_error();
          for (size_t i = 0; i < y.size(); ++i) {
            EXPECT_NEAR(y[i], exact[i], tolerance(c.k, r.abs_sum[i])) << where << " output " << i;
          }
          // Where the reference has a kernel for this layout, the scalar path is bit-exact with it:
          // GEMM for the first m - m%4 rows, GEMV for the rest (m = 1: GEMV only).
          for (const GoldenLayout& g : kGoldenLayouts) {
            if (g.type != t || g.layout != layout) continue;
            const auto want =
                read_golden_f32(mdir(c, m) + (m >= 4 ? "gemm_" : "gemv_") + g.kernel + ".bin");
            EXPECT_TRUE(same_bits(y, want)) << where;
          }
        }
      }
    }
  }
  q4r_set_isa(q4r_best_isa());
}

TEST(GoldenKernels, DequantizeMatchesBlockFormula) {
  // Dequantized golden blocks equal level * fp16 scale, computed independently here.
  for (const Case& c : kCases) {
    for (q4r_type t : {Q4R_TYPE_Q4_0, Q4R_TYPE_IQ4_NL}) {
      const auto q = read_golden(std::string(c.dir) + "/" + plain_file(t));
      std::vector<float> y(c.n * c.k);
      ASSERT_EQ(q4r_dequantize(t, q.data(), q.size(), c.n, c.k, y.data()), Q4R_OK);
      for (int64_t b = 0; b < c.n * c.k / 32; ++b) {
        uint16_t h;
        std::memcpy(&h, &q[b * 18], 2);
        for (int e = 0; e < 32; ++e) {
          const int nib = e < 16 ? q[b * 18 + 2 + e] & 0xF : q[b * 18 + 2 + e - 16] >> 4;
          const int v = t == Q4R_TYPE_Q4_0 ? nib - 8 : kIq4nlValues[nib];
          ASSERT_EQ(y[b * 32 + e], float(v) * fp16_to_fp32(h)) << c.dir << " block " << b;
        }
      }
    }
    // q8_0: the golden activation rows.
    for (int64_t m : c.batches) {
      const auto a = read_golden(mdir(c, m) + "act_q8_0.bin");
      std::vector<float> y(m * c.k);
      ASSERT_EQ(q4r_dequantize(Q4R_TYPE_Q8_0, a.data(), a.size(), m, c.k, y.data()), Q4R_OK);
      for (int64_t b = 0; b < m * c.k / 32; ++b) {
        uint16_t h;
        std::memcpy(&h, &a[b * 34], 2);
        for (int e = 0; e < 32; ++e) {
          ASSERT_EQ(y[b * 32 + e], float(int8_t(a[b * 34 + 2 + e])) * fp16_to_fp32(h));
        }
      }
    }
  }
}

}  // namespace
}  // namespace q4r::test
