// Every compiled ARM kernel level (neon, dotprod, i8mm, sve256) that the CPU (or the emulated CPU
// under qemu) supports, against an exact double-precision dot product and against the scalar
// kernels. Levels the CPU lacks are skipped: the dispatcher never picks them, and running them
// would be a SIGILL. Q4R_TEST_QUICK=1 (set for emulated runs) trims the shapes.
//
// Tolerance: the integer dot of each block is exact; the float sum over k/32 blocks of
// isum * dW * dA is rounded per block (product, then add or FMA) in kernel-specific order, so the
// error is at most about (k/32 + 3) * 2^-24 of the sum of |terms|. The tests allow
// 4e-6 * (k/32 + 3) * sum|terms|, computed from the dequantized inputs in double.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/kernel_table.h"
#include "lib/run/dispatch.h"
#include "lib/format/formats.h"
#include "lib/format/fp16.h"
#include "lib/format/quantize.h"
#include "lib/format/repack.h"
#include "test_util.h"

namespace q4r::test {
namespace {

#if defined(__aarch64__)

bool quick() {
  const char* e = std::getenv("Q4R_TEST_QUICK");
  return e && *e && std::strcmp(e, "0") != 0;
}

const q4r_isa kArmIsas[] = {Q4R_ISA_NEON, Q4R_ISA_DOTPROD, Q4R_ISA_I8MM, Q4R_ISA_SVE256};

class ArmKernels : public ::testing::TestWithParam<q4r_isa> {
 protected:
  void SetUp() override {
    if (!isa_available(GetParam())) {
      GTEST_SKIP() << q4r_isa_name(GetParam()) << " not available on this CPU";
    }
  }
  const KernelTable& isa() const { return kernels_for(GetParam()); }
  static const KernelTable& scalar() { return kernels_for(Q4R_ISA_SCALAR); }
};

std::string isa_param_name(const ::testing::TestParamInfo<q4r_isa>& info) {
  return q4r_isa_name(info.param);
}

// Weights in plain block format, with both nibble extremes, an all-zero block, and random data.
std::vector<uint8_t> make_weights(int n, int k, uint32_t seed) {
  std::vector<uint8_t> w = random_q4_blocks(n, k, seed);
  const int blocks = n * (k / 32);
  if (blocks > 2) {
    std::memset(&w[1 * 18 + 2], 0x00, 16);  // nibble 0 everywhere: -8 (Q4_0), -127 (IQ4_NL)
    std::memset(&w[2 * 18 + 2], 0xFF, 16);  // nibble 15: +7, +113
  }
  return w;
}

// Activations: random rows, one with a +-127 extreme block, one all zero (scale 0).
std::vector<float> make_activations(int m, int k, uint32_t seed) {
  std::vector<float> x = random_floats(static_cast<std::size_t>(m) * k, seed, 2.f);
  if (m > 1) {
    for (int i = 0; i < 32; ++i) x[k + i] = (i % 2 ? 1.f : -1.f) * (i == 5 ? 8.f : 1.f);
  }
  if (m > 2) std::fill(x.begin() + 2 * k, x.begin() + 2 * k + 32, 0.f);
  return x;
}

// Exact result and error bound for weight row c (plain blocks) and activation row r (plain Q8_0).
struct Exact {
  std::vector<double> value, bound;  // [r * n + c]
};
Exact exact(q4r_type type, const std::vector<uint8_t>& w, const std::vector<uint8_t>& a, int n,
            int m, int k) {
  const int nb = k / 32;
  std::vector<float> wf(static_cast<std::size_t>(n) * k), af(static_cast<std::size_t>(m) * k);
  for (int c = 0; c < n; ++c) {
    const uint8_t* src = w.data() + static_cast<std::size_t>(c) * nb * 18;
    if (type == Q4R_TYPE_Q4_0) {
      dequantize_row_q4_0(src, wf.data() + static_cast<std::size_t>(c) * k, k);
    } else {
      dequantize_row_iq4_nl(src, wf.data() + static_cast<std::size_t>(c) * k, k);
    }
  }
  for (int r = 0; r < m; ++r) {
    dequantize_row_q8_0(a.data() + static_cast<std::size_t>(r) * nb * 34,
                        af.data() + static_cast<std::size_t>(r) * k, k);
  }
  Exact e;
  e.value.resize(static_cast<std::size_t>(m) * n);
  e.bound.resize(e.value.size());
  for (int r = 0; r < m; ++r) {
    for (int c = 0; c < n; ++c) {
      double sum = 0, mag = 0;
      for (int i = 0; i < k; ++i) {
        const double p = double(wf[size_t(c) * k + i]) * af[size_t(r) * k + i];
        sum += p;
        mag += std::fabs(p);
      }
      e.value[size_t(r) * n + c] = sum;
      e.bound[size_t(r) * n + c] = 4e-6 * (nb + 3) * mag + 1e-30;
    }
  }
  return e;
}

void expect_close(const std::vector<float>& got, const Exact& e, int rows, int n,
                  std::size_t stride, const std::string& what) {
  int bad = 0;
  for (int r = 0; r < rows && bad < 5; ++r) {
    for (int c = 0; c < n && bad < 5; ++c) {
      const double v = got[r * stride + c];
      const double want = e.value[size_t(r) * n + c];
      if (!(std::fabs(v - want) <= e.bound[size_t(r) * n + c])) {
        ADD_FAILURE() << what << " row " << r << " col " << c << ": got " << v << " want " << want
                      << " (bound " << e.bound[size_t(r) * n + c] << ")";
        ++bad;
      }
    }
  }
}

struct Shape {
  int n, k;
};
std::vector<Shape> shapes() {
  if (quick()) return {{8, 32}, {16, 96}, {24, 256}};
  return {{8, 32}, {16, 96}, {24, 256}, {40, 576}, {64, 1024}};
}
std::vector<int> row_counts() {
  if (quick()) return {4, 8, 16, 20, 36};
  return {4, 8, 12, 16, 20, 32, 36, 52};
}

const q4r_type kTypes[] = {Q4R_TYPE_Q4_0, Q4R_TYPE_IQ4_NL};
const q4r_layout kLayouts[] = {Q4R_LAYOUT_4X4, Q4R_LAYOUT_4X8, Q4R_LAYOUT_8X8};
int wt(q4r_type t) {
  return t == Q4R_TYPE_Q4_0 ? kQ4_0 : kIQ4_NL;
}

TEST_P(ArmKernels, GemvMatchesExactAndScalar) {
  for (const Shape& sh : shapes()) {
    const int nb = sh.k / 32;
    const int m = 3;
    const auto x = make_activations(m, sh.k, 7 + sh.k);
    std::vector<uint8_t> a(size_t(m) * nb * 34);
    scalar().quant_rows(x.data(), sh.k, a.data(), sh.k, m);
    for (q4r_type type : kTypes) {
      const auto w = make_weights(sh.n, sh.k, 11 + sh.n);
      const Exact e = exact(type, w, a, sh.n, m, sh.k);
      for (q4r_layout layout : kLayouts) {
        const LayoutShape ls = layout_shape(layout);
        std::vector<uint8_t> packed(w.size());
        repack_tensor(w.data(), packed.data(), sh.n, sh.k, ls,
                      type == Q4R_TYPE_Q4_0 ? kQ4_0RepackXor : 0);
        const int li = layout - Q4R_LAYOUT_4X4;
        std::vector<float> got(size_t(m) * sh.n), ref(got.size());
        for (int r = 0; r < m; ++r) {
          isa().gemv[wt(type)][li](sh.k, got.data() + r * sh.n, packed.data(),
                                   a.data() + size_t(r) * nb * 34, sh.n);
          scalar().gemv[wt(type)][li](sh.k, ref.data() + r * sh.n, packed.data(),
                                      a.data() + size_t(r) * nb * 34, sh.n);
        }
        const std::string what = std::string("gemv ") + q4r_type_name(type) + " " +
                                 q4r_layout_name(layout) + " n=" + std::to_string(sh.n) +
                                 " k=" + std::to_string(sh.k);
        expect_close(got, e, m, sh.n, sh.n, what);
        expect_close(ref, e, m, sh.n, sh.n, what + " (scalar)");
      }
    }
  }
}

TEST_P(ArmKernels, GemmMatchesExactAndScalar) {
  for (const Shape& sh : shapes()) {
    const int nb = sh.k / 32;
    for (int m : row_counts()) {
      const auto x = make_activations(m, sh.k, 3 * m + sh.k);
      std::vector<uint8_t> a(size_t(m) * nb * 34);
      scalar().quant_rows(x.data(), sh.k, a.data(), sh.k, m);
      for (q4r_type type : kTypes) {
        const auto w = make_weights(sh.n, sh.k, 5 + sh.n + m);
        const Exact e = exact(type, w, a, sh.n, m, sh.k);
        for (q4r_layout layout : kLayouts) {
          const LayoutShape ls = layout_shape(layout);
          std::vector<uint8_t> packed(w.size());
          repack_tensor(w.data(), packed.data(), sh.n, sh.k, ls,
                        type == Q4R_TYPE_Q4_0 ? kQ4_0RepackXor : 0);
          std::vector<uint8_t> ax4(a.size());
          scalar().quant_x4[ls.chunk == 4 ? kChunk4 : kChunk8](x.data(), sh.k, ax4.data(), sh.k,
                                                               m / 4);
          const int li = layout - Q4R_LAYOUT_4X4;
          const std::size_t bs = sh.n + 3;  // a row stride wider than n
          std::vector<float> got(m * bs, -1.f);
          isa().gemm[wt(type)][li](sh.k, got.data(), bs, packed.data(), ax4.data(), m, sh.n);
          const std::string what = std::string("gemm ") + q4r_type_name(type) + " " +
                                   q4r_layout_name(layout) + " n=" + std::to_string(sh.n) +
                                   " k=" + std::to_string(sh.k) + " m=" + std::to_string(m);
          expect_close(got, e, m, sh.n, bs, what);
          for (int r = 0; r < m; ++r) {
            for (std::size_t c = sh.n; c < bs; ++c) {
              ASSERT_EQ(got[r * bs + c], -1.f) << what << ": wrote outside the columns";
            }
          }
        }
      }
    }
  }
}

TEST_P(ArmKernels, PlainMatchesExact) {
  for (const Shape& sh : shapes()) {
    const int nb = sh.k / 32;
    for (int n : {1, 3, 5, sh.n + 3}) {
      const int m = quick() ? 3 : 5;
      const auto x = make_activations(m, sh.k, 13 + sh.k);
      std::vector<uint8_t> a(size_t(m) * nb * 34);
      scalar().quant_rows(x.data(), sh.k, a.data(), sh.k, m);
      for (q4r_type type : kTypes) {
        const auto w = make_weights(n, sh.k, 17 + n);
        const Exact e = exact(type, w, a, n, m, sh.k);
        const std::size_t bs = n + 1;
        std::vector<float> got(m * bs, -1.f);
        isa().plain[wt(type)](sh.k, got.data(), bs, w.data(), n, a.data(), m);
        expect_close(got, e, m, n, bs,
                     std::string("plain ") + q4r_type_name(type) + " n=" + std::to_string(n) +
                         " k=" + std::to_string(sh.k));
        for (int r = 0; r < m; ++r) EXPECT_EQ(got[r * bs + n], -1.f);
      }
    }
  }
}

// GGML's NEON rounding: d = amax/127, q = nearest-even(x * (1/d)); d stored as fp16.
std::vector<uint8_t> q8_rows_ties_even(const std::vector<float>& x, int m, int k) {
  const int nb = k / 32;
  std::vector<uint8_t> y(size_t(m) * nb * 34);
  for (int r = 0; r < m; ++r) {
    for (int l = 0; l < nb; ++l) {
      const float* xb = x.data() + size_t(r) * k + l * 32;
      uint8_t* yb = y.data() + (size_t(r) * nb + l) * 34;
      float amax = 0;
      for (int i = 0; i < 32; ++i) amax = std::fmax(amax, std::fabs(xb[i]));
      const float d = amax / 127.f;
      const float id = d != 0.f ? 1.f / d : 0.f;
      const uint16_t h = fp32_to_fp16(d);
      std::memcpy(yb, &h, 2);
      for (int i = 0; i < 32; ++i) {
        const float v = xb[i] * id;
        yb[2 + i] = static_cast<uint8_t>(static_cast<int8_t>(std::nearbyint(v)));
      }
    }
  }
  return y;
}

TEST_P(ArmKernels, ActivationQuantizersRoundTiesToEven) {
  for (int k : {32, 96, 512}) {
    const int m = 8;
    auto x = make_activations(m, k, 23 + k);
    // A rounding-tie block (golden MANIFEST section 3): amax 127 gives d = 1, so x.5 are ties.
    for (int i = 0; i < 32; ++i) {
      x[i] = i == 0 ? 127.f : (i % 2 ? 1.f : -1.f) * float((i * 37) % 127) + 0.5f;
    }
    const auto want = q8_rows_ties_even(x, m, k);
    std::vector<uint8_t> rows(want.size());
    isa().quant_rows(x.data(), k, rows.data(), k, m);
    EXPECT_EQ(rows, want) << "quant_rows k=" << k;
    for (int chunk : {4, 8}) {
      std::vector<uint8_t> x4(want.size()), expect_x4(want.size());
      isa().quant_x4[chunk == 4 ? kChunk4 : kChunk8](x.data(), k, x4.data(), k, m / 4);
      for (int g = 0; g < m / 4; ++g) {
        const size_t off = size_t(g) * 4 * (k / 32) * 34;
        interleave_q8_0_x4(want.data() + off, (k / 32) * 34, expect_x4.data() + off, k, chunk);
      }
      EXPECT_EQ(x4, expect_x4) << "quant_x4 chunk " << chunk << " k=" << k;
    }
  }
}

TEST_P(ArmKernels, DispatcherPicksOnlyAvailableLevels) {
  // The best ISA on an ARM CPU is one of the ARM levels and never above what the CPU has.
  const q4r_isa best = best_isa();
  EXPECT_TRUE(isa_available(best));
  EXPECT_GE(int(best), int(GetParam()));
}

INSTANTIATE_TEST_SUITE_P(Levels, ArmKernels, ::testing::ValuesIn(kArmIsas), isa_param_name);

#endif  // __aarch64__

}  // namespace
}  // namespace q4r::test
