// Every kernel table entry of every ISA available on this machine against an exact reference, on
// random data and edge cases; the x86 quantizers and 8x8 kernels against the golden .native files;
// and the public driver (q4r_matmul, q4r_quantize_activations + q4r_run) per ISA.
//
// Tolerance. Every kernel computes sum over blocks l of t_l = dW*dA*isum_l with an exact integer
// isum_l (|isum| < 2^24, so its float conversion is exact). The scalar kernels add up to 4 partial
// products per block (2 roundings each, then the add); the x86 block-FMA model rounds dW*dA once
// and fuses the rest. A float sum of n terms has an error of at most about n ulps of the sum of the
// magnitudes of its terms, so with u = 2^-24 every kernel is within (4*nb + 8) * u * M of the exact
// double value, where M = sum_l |dW*dA| * sum_e |w_e*a_e| bounds every partial sum.
//
// Keep it cheap: the ARM build runs this binary under qemu. Q4R_TEST_QUICK=1 shrinks the shapes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/kernel_table.h"
#include "lib/run/dispatch.h"
#include "lib/format/formats.h"
#include "lib/format/fp16.h"
#include "lib/format/quantize.h"
#include "q4repack/q4repack.h"
#include "test_util.h"

#if defined(Q4R_HAVE_AVX512_EMULATION)
namespace q4r {
// kernels/x86/kernels_avx512vnni.cc and kernels_avx512vnni512.cc compiled against SIMDe
// (tests/kernels/avx512_emulated.cc, tests/kernels/avx512vnni512_emulated.cc).
void fill_kernels_avx512vnni_emulated(KernelTable* t);
void fill_kernels_avx512vnni512_emulated(KernelTable* t);
}  // namespace q4r
#endif

namespace q4r::test {
namespace {

bool quick() {
  const char* q = std::getenv("Q4R_TEST_QUICK");
  return q && *q && *q != '0';
}

struct NamedTable {
  std::string name;
  KernelTable table;
};

bool same_kernels(const KernelTable& a, const KernelTable& b) {
  KernelTable x = a, y = b;
  x.name = y.name = nullptr;
  return std::memcmp(&x, &y, sizeof x) == 0;
}

// The merged tables of every available ISA (scalar included: it must match the reference too);
// a level whose table equals an earlier one (avx512vnni is avx512vnni256 or avx512vnni512) once.
std::vector<NamedTable> available_tables() {
  std::vector<NamedTable> out;
  for (int i = 0; i < Q4R_ISA_COUNT; ++i) {
    const q4r_isa isa = q4r_isa(i);
    if (!isa_available(isa)) continue;
    const KernelTable& t = kernels_for(isa);
    bool dup = false;
    for (const NamedTable& o : out) dup |= same_kernels(o.table, t);
    if (!dup) out.push_back({q4r_isa_name(isa), t});
  }
  return out;
}

const KernelTable& scalar_table() {
  return kernels_for(Q4R_ISA_SCALAR);
}

constexpr q4r_type kTypes[] = {Q4R_TYPE_Q4_0, Q4R_TYPE_IQ4_NL};
constexpr q4r_layout kPacked[] = {Q4R_LAYOUT_4X4, Q4R_LAYOUT_4X8, Q4R_LAYOUT_8X8};
int wt_index(q4r_type t) {
  return t == Q4R_TYPE_Q4_0 ? kQ4_0 : kIQ4_NL;
}
int layout_index(q4r_layout l) {
  return l - Q4R_LAYOUT_4X4;
}

// ---------------------------------------------------------------- data
enum class Pattern { kRandom, kExtreme, kZeroBlocks };
const char* pattern_name(Pattern p) {
  return p == Pattern::kRandom ? "random" : p == Pattern::kExtreme ? "extreme" : "zero-blocks";
}

void put_half(uint8_t* p, float f) {
  const uint16_t h = fp32_to_fp16(f);
  std::memcpy(p, &h, 2);
}
float get_half(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return fp16_to_fp32(h);
}

// Plain Q4_0 / IQ4_NL rows. Extreme: every nibble 0 or 15 (the ends of both value ranges). Zero
// blocks: every third block has scale 0 or (Q4_0) all nibbles 8, i.e. value 0.
std::vector<uint8_t> make_weights(int64_t rows, int64_t k, Pattern p, uint32_t seed) {
  std::vector<uint8_t> w = random_q4_blocks(rows, k, seed);
  std::mt19937 rng(seed ^ 0x5bd1e995u);
  const int64_t blocks = rows * (k / 32);
  for (int64_t b = 0; b < blocks; ++b) {
    uint8_t* blk = &w[b * kQ4BlockBytes];
    if (p == Pattern::kExtreme) {
      for (int i = 0; i < 16; ++i) blk[2 + i] = (rng() & 1 ? 0x0F : 0x00) | (rng() & 1 ? 0xF0 : 0);
    } else if (p == Pattern::kZeroBlocks && b % 3 == 0) {
      if (b % 2) {
        put_half(blk, 0.f);
      } else {
        std::memset(blk + 2, 0x88, 16);
      }
    }
  }
  return w;
}

// Plain Q8_0 rows with int8 in [-127, 127]. Extreme: every value +-127. Zero blocks: every third
// block all zero (scale 0, values 0).
std::vector<uint8_t> make_act(int64_t rows, int64_t k, Pattern p, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> scale(0.001f, 0.05f);
  std::uniform_int_distribution<int> val(-127, 127);
  const int64_t blocks = rows * (k / 32);
  std::vector<uint8_t> a(blocks * kQ8BlockBytes);
  for (int64_t b = 0; b < blocks; ++b) {
    uint8_t* blk = &a[b * kQ8BlockBytes];
    const bool zero = p == Pattern::kZeroBlocks && b % 3 == 1;
    put_half(blk, zero ? 0.f : scale(rng));
    for (int i = 0; i < 32; ++i) {
      int v = p == Pattern::kExtreme ? (rng() & 1 ? 127 : -127) : val(rng);
      if (zero) v = 0;
      blk[2 + i] = static_cast<uint8_t>(static_cast<int8_t>(v));
    }
  }
  return a;
}

// Rows [0, 4*groups) of plain Q8_0 rows -> block_q8_0x4 groups with the given chunk.
std::vector<uint8_t> interleave_groups(const std::vector<uint8_t>& rows, int groups, int64_t k,
                                       int chunk) {
  const int64_t row_bytes = k / 32 * kQ8BlockBytes;
  std::vector<uint8_t> out(groups * 4 * row_bytes);
  for (int g = 0; g < groups; ++g) {
    interleave_q8_0_x4(&rows[g * 4 * row_bytes], row_bytes, &out[g * 4 * row_bytes], k, chunk);
  }
  return out;
}

std::vector<uint8_t> repack(q4r_type type, q4r_layout layout, const std::vector<uint8_t>& plain,
                            int64_t n, int64_t k) {
  std::vector<uint8_t> out(plain.size());
  EXPECT_EQ(q4r_repack(type, layout, plain.data(), out.data(), out.size(), n, k), Q4R_OK)
      << q4r_last_error();
  return out;
}

// ---------------------------------------------------------------- exact reference
struct Reference {
  std::vector<double> exact;  // [m][n]
  // sum over blocks of |dW*dA| * sum|w*a|: bounds every partial sum, however a kernel splits the
  // block (the scalar kernels add 16/B partial products per block).
  std::vector<double> mag;
};

int weight_value(q4r_type type, const uint8_t* blk, int e) {
  const uint8_t b = blk[2 + (e & 15)];
  const int nib = e < 16 ? b & 0x0F : b >> 4;
  return type == Q4R_TYPE_Q4_0 ? nib - 8 : kIq4nlValues[nib];
}

Reference reference(q4r_type type, const std::vector<uint8_t>& w, int64_t n,
                    const std::vector<uint8_t>& a, int64_t m, int64_t k) {
  const int64_t nb = k / 32;
  Reference r{std::vector<double>(m * n), std::vector<double>(m * n)};
  std::vector<int> wv(n * k);
  for (int64_t c = 0; c < n; ++c) {
    for (int64_t e = 0; e < k; ++e) {
      wv[c * k + e] = weight_value(type, &w[(c * nb + e / 32) * kQ4BlockBytes], int(e % 32));
    }
  }
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t c = 0; c < n; ++c) {
      double sum = 0, mag = 0;
      for (int64_t l = 0; l < nb; ++l) {
        const uint8_t* ab = &a[(i * nb + l) * kQ8BlockBytes];
        const auto* aq = reinterpret_cast<const int8_t*>(ab + 2);
        int isum = 0, iabs = 0;
        for (int e = 0; e < 32; ++e) {
          isum += wv[c * k + l * 32 + e] * aq[e];
          iabs += std::abs(wv[c * k + l * 32 + e] * aq[e]);
        }
        const double scale = double(get_half(&w[(c * nb + l) * kQ4BlockBytes])) * get_half(ab);
        sum += scale * isum;
        mag += std::fabs(scale) * iabs;
      }
      r.exact[i * n + c] = sum;
      r.mag[i * n + c] = mag;
    }
  }
  return r;
}

// got[i*bs + c] for i < m, c < n against the reference; counts failures, reports the first few.
void expect_near_reference(const float* got, std::size_t bs, const Reference& ref, int64_t m,
                           int64_t n, int64_t k, const std::string& what, int64_t ref_n = 0) {
  if (ref_n == 0) ref_n = n;
  const double ulp = std::ldexp(1.0, -24);
  const double factor = (4.0 * (k / 32) + 8) * ulp;
  int bad = 0;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t c = 0; c < n; ++c) {
      const double want = ref.exact[i * ref_n + c];
      const double tol = factor * ref.mag[i * ref_n + c] + 1e-30;
      const double g = got[i * bs + c];
      if (!(std::fabs(g - want) <= tol)) {
        if (++bad <= 3) {
          ADD_FAILURE() << what << ": y[" << i << "][" << c << "] = " << g << ", exact " << want
                        << ", tolerance " << tol;
        }
      }
    }
  }
  if (bad > 3) ADD_FAILURE() << what << ": " << bad << " outputs out of tolerance in total";
}

std::vector<int> k_values() {
  if (quick()) return {32, 96, 576};
  return {32, 96, 576, 2880, 4096};
}

// Longer rows than one prepared slab (the kernels keep accumulators in the output between slabs).
constexpr int kLongK = 8224;       // 257 blocks
constexpr int kLongGemvK = 16448;  // 514 blocks

// ---------------------------------------------------------------- packed kernels
void check_gemv(const NamedTable& t) {
  for (q4r_type type : kTypes) {
    for (int k : k_values()) {
      for (Pattern p : {Pattern::kRandom, Pattern::kExtreme, Pattern::kZeroBlocks}) {
        if (k > 576 && p != Pattern::kRandom) continue;
        // 23 groups of 8 and 46 of 4; with nc = 3N and 5N odd numbers of groups too. The GEMVs
        // cut the columns into 2 or 4 streams (gemv_streams): 23 groups leave remainders.
        const int64_t n = 184;
        const auto w = make_weights(n, k, p, 100 + k);
        const int64_t rows = 3;
        const auto a = make_act(rows, k, p, 200 + k);
        const Reference ref = reference(type, w, n, a, rows, k);
        for (q4r_layout layout : kPacked) {
          const int N = q4r_layout_rows(layout);
          const auto packed = repack(type, layout, w, n, k);
          for (int nc : {N, 3 * N, 5 * N, int(n)}) {
            std::vector<float> y(rows * n, NAN);
            for (int64_t i = 0; i < rows; ++i) {
              t.table.gemv[wt_index(type)][layout_index(layout)](k, &y[i * n], packed.data(),
                                                                 &a[i * (k / 32) * 34], nc);
            }
            // Columns past nc stay untouched (NaN): compare only [0, nc) via a sub-reference.
            Reference sub{std::vector<double>(rows * nc), std::vector<double>(rows * nc)};
            for (int64_t i = 0; i < rows; ++i) {
              for (int c = 0; c < nc; ++c) {
                sub.exact[i * nc + c] = ref.exact[i * n + c];
                sub.mag[i * nc + c] = ref.mag[i * n + c];
              }
              for (int64_t c = nc; c < n; ++c) {
                EXPECT_TRUE(std::isnan(y[i * n + c])) << "gemv wrote past nc";
              }
            }
            // The multi-row GEMV writes exactly what nr GEMV calls write.
            if (const GemvRowsFn gr = t.table.gemv_rows[wt_index(type)][layout_index(layout)]) {
              for (int nr = 1; nr <= rows; ++nr) {
                std::vector<float> yr(rows * n, NAN);
                gr(k, yr.data(), n, packed.data(), a.data(), nr, nc);
                EXPECT_EQ(std::memcmp(yr.data(), y.data(), nr * n * sizeof(float)), 0)
                    << t.name << " gemv_rows nr=" << nr << " " << q4r_type_name(type) << " "
                    << q4r_layout_name(layout) << " k=" << k << " nc=" << nc << " "
                    << pattern_name(p);
                for (std::size_t i = nr * n; i < yr.size(); ++i) EXPECT_TRUE(std::isnan(yr[i]));
              }
            }
            expect_near_reference(y.data(), n, sub, rows, nc, k,
                                  t.name + " gemv " + q4r_type_name(type) + " " +
                                      q4r_layout_name(layout) + " k=" + std::to_string(k) +
                                      " nc=" + std::to_string(nc) + " " + pattern_name(p));
          }
        }
      }
    }
  }
}

bool arm_level(const std::string& name) {
  return name == "neon" || name == "dotprod" || name == "i8mm" || name == "sve256";
}

void check_gemm(const NamedTable& t, int k, int nr, int n, Pattern p) {
  for (q4r_type type : kTypes) {
    const auto w = make_weights(n, k, p, 300 + k + nr);
    const auto a = make_act(nr + 3, k, p, 400 + k + nr);  // 3 more plain rows for gemm_plus_rows
    const Reference ref = reference(type, w, n, a, nr, k);
    for (q4r_layout layout : kPacked) {
      const auto packed = repack(type, layout, w, n, k);
      const auto ax4 = interleave_groups(a, nr / 4, k, q4r_layout_chunk(layout));
      const int nc = n / q4r_layout_rows(layout) * q4r_layout_rows(layout);
      const std::size_t bs = n + 3;  // a wider output row: the kernel must honour bs
      std::vector<float> y(nr * bs, NAN);
      t.table.gemm[wt_index(type)][layout_index(layout)](k, y.data(), bs, packed.data(), ax4.data(),
                                                         nr, nc);
      for (int i = 0; i < nr; ++i) {
        for (std::size_t c = nc; c < bs; ++c) EXPECT_TRUE(std::isnan(y[i * bs + c]));
      }
      // The GEMM with 1-3 leftover plain rows in the same pass writes exactly what the GEMM and
      // the multi-row GEMV write.
      const int li = layout_index(layout), wi = wt_index(type);
      if (const GemmPlusRowsFn gp = t.table.gemm_plus_rows[wi][li]) {
        ASSERT_NE(t.table.gemv_rows[wi][li], nullptr);
        const uint8_t* ar = &a[nr * (k / 32) * kQ8BlockBytes];
        for (int nrem = 1; nrem <= 3; ++nrem) {
          std::vector<float> yp((nr + 3) * bs, NAN), yg(nrem * bs, NAN);
          gp(k, yp.data(), bs, packed.data(), ax4.data(), nr, ar, nrem, nc);
          t.table.gemv_rows[wi][li](k, yg.data(), bs, packed.data(), ar, nrem, nc);
          const std::string what = t.name + " gemm_plus_rows " + q4r_type_name(type) +
                                   " k=" + std::to_string(k) + " nr=" + std::to_string(nr) +
                                   " nrem=" + std::to_string(nrem) + " " + pattern_name(p);
          EXPECT_EQ(std::memcmp(yp.data(), y.data(), nr * bs * sizeof(float)), 0) << what;
          for (int i = 0; i < nrem; ++i) {
            for (int c = 0; c < nc; ++c) {
              ASSERT_EQ(yp[(nr + i) * bs + c], yg[i * bs + c]) << what << " row " << i;
            }
            for (std::size_t c = nc; c < bs; ++c) EXPECT_TRUE(std::isnan(yp[(nr + i) * bs + c]));
          }
          for (std::size_t i = (nr + nrem) * bs; i < yp.size(); ++i) EXPECT_TRUE(std::isnan(yp[i]));
        }
      }
      if (arm_level(t.name)) {  // block-FMA order in any row tile and across block chunks
        std::vector<float> yv(nc);
        for (int i = 0; i < nr; ++i) {
          t.table.gemv[wi][li](k, yv.data(), packed.data(), &a[i * (k / 32) * kQ8BlockBytes], nc);
          for (int c = 0; c < nc; ++c) {
            ASSERT_EQ(y[i * bs + c], yv[c]) << t.name << " gemm vs gemv " << q4r_type_name(type)
                                            << " " << q4r_layout_name(layout) << " k=" << k
                                            << " nr=" << nr << " row " << i << " col " << c;
          }
        }
      }
      expect_near_reference(y.data(), bs, ref, nr, nc, k,
                            t.name + " gemm " + q4r_type_name(type) + " " +
                                q4r_layout_name(layout) + " k=" + std::to_string(k) +
                                " nr=" + std::to_string(nr) + " nc=" + std::to_string(nc) + " " +
                                pattern_name(p),
                            n);
    }
  }
}

void check_gemm_all(const NamedTable& t) {
  // nr: one 4-row group, tails of 2 and 3 groups, one 16-row tile, tile + tail, 2 tiles + 1 group.
  const std::vector<int> nrs =
      quick() ? std::vector<int>{4, 12, 20} : std::vector<int>{4, 8, 12, 16, 20, 36};
  for (int k : k_values()) {
    for (int nr : nrs) {
      if (k >= 2880 && nr > 20) continue;
      check_gemm(t, k, nr, 24, Pattern::kRandom);  // 24 = 3 groups of 8, 6 of 4
    }
  }
  for (int nr : {4, 16}) {
    check_gemm(t, 96, nr, 8, Pattern::kExtreme);
    check_gemm(t, 96, nr, 12, Pattern::kZeroBlocks);  // 12: an odd number of 4-groups
  }
  check_gemm(t, quick() ? 4128 : kLongK, 4, 8, Pattern::kRandom);
}

// The x86 kernels use GGML's x86 float order (block-FMA), which the golden 8x8 .native files hold;
// the order does not depend on the layout, so every x86 layout and the plain kernel must equal them
// bit for bit. The ARM levels compute the same per-block fma(float(isum), dW * dA, acc) (their
// conversions and scale factors are exact: docs/ARM.md), so they must equal them too.
bool block_fma_isa(const std::string& name) {
  return name == "avx2" || name == "avxvnni" || name.rfind("avx512vnni", 0) == 0 ||
         name == "neon" || name == "dotprod" || name == "i8mm" || name == "sve256";
}

void check_plain(const NamedTable& t) {
  for (q4r_type type : kTypes) {
    for (int k : k_values()) {
      for (Pattern p : {Pattern::kRandom, Pattern::kExtreme, Pattern::kZeroBlocks}) {
        if (k > 576 && p != Pattern::kRandom) continue;
        const int64_t n = 9, rows = 6;
        const auto w = make_weights(n, k, p, 500 + k);
        const auto a = make_act(rows, k, p, 600 + k);
        const Reference ref = reference(type, w, n, a, rows, k);
        for (int nc : {1, 3, 4, 7, 9}) {
          for (int nr : {1, 3, 6}) {
            const std::size_t bs = n + 1;
            std::vector<float> y(rows * bs, NAN);
            t.table.plain[wt_index(type)](k, y.data(), bs, w.data(), nc, a.data(), nr);
            Reference sub{std::vector<double>(nr * nc), std::vector<double>(nr * nc)};
            for (int i = 0; i < nr; ++i) {
              for (int c = 0; c < nc; ++c) {
                sub.exact[i * nc + c] = ref.exact[i * n + c];
                sub.mag[i * nc + c] = ref.mag[i * n + c];
              }
              for (std::size_t c = nc; c < bs; ++c) EXPECT_TRUE(std::isnan(y[i * bs + c]));
            }
            expect_near_reference(y.data(), bs, sub, nr, nc, k,
                                  t.name + " plain " + q4r_type_name(type) +
                                      " k=" + std::to_string(k) + " nc=" + std::to_string(nc) +
                                      " nr=" + std::to_string(nr) + " " + pattern_name(p));
          }
        }
      }
    }
    // Rows longer than one prepared slab (the x86 plain slab is 512 blocks: also 514 blocks).
    const int k = quick() ? 4128 : kLongK;
    std::vector<int> plain_ks{k};
    if (!quick()) plain_ks.push_back(kLongGemvK);
    for (int kp : plain_ks) {
      const auto w = make_weights(5, kp, Pattern::kRandom, 77);
      const auto a = make_act(2, kp, Pattern::kRandom, 78);
      const Reference ref = reference(type, w, 5, a, 2, kp);
      std::vector<float> y(2 * 5);
      t.table.plain[wt_index(type)](kp, y.data(), 5, w.data(), 5, a.data(), 2);
      expect_near_reference(y.data(), 5, ref, 2, 5, kp, t.name + " plain long k");
      // The SIMD plain kernels go through long rows in slabs or chunks of blocks (docs/ARM.md,
      // docs/KERNELS.md): bit for bit the block-FMA order across the boundaries too.
      if (block_fma_isa(t.name)) {
        const int nb = kp / 32;
        for (int i = 0; i < 2; ++i) {
          for (int c = 0; c < 5; ++c) {
            float acc = 0.f;
            for (int l = 0; l < nb; ++l) {
              const uint8_t* wb = &w[(static_cast<std::size_t>(c) * nb + l) * 18];
              const uint8_t* ab = &a[(static_cast<std::size_t>(i) * nb + l) * 34];
              int isum = 0;
              for (int e = 0; e < 32; ++e) {
                isum += weight_value(type, wb, e) * static_cast<int8_t>(ab[2 + e]);
              }
              acc = std::fma(static_cast<float>(isum), get_half(wb) * get_half(ab), acc);
            }
            EXPECT_EQ(y[i * 5 + c], acc) << t.name << " plain long k=" << kp << ", block-FMA order";
          }
        }
      }
    }
    // The GEMVs have longer slabs (512 blocks on x86): also a row of 514 blocks.
    std::vector<int> gemv_ks{k};
    if (!quick()) gemv_ks.push_back(kLongGemvK);
    for (int kg : gemv_ks) {
      const auto ag = make_act(3, kg, Pattern::kRandom, 80);
      for (q4r_layout layout : kPacked) {
        const int N = q4r_layout_rows(layout);
        const auto w8 = make_weights(N, kg, Pattern::kRandom, 79);
        const Reference r8 = reference(type, w8, N, ag, 3, kg);
        const auto packed = repack(type, layout, w8, N, kg);
        std::vector<float> y8(3 * N);
        for (int i = 0; i < 3; ++i) {
          t.table.gemv[wt_index(type)][layout_index(layout)](kg, &y8[i * N], packed.data(),
                                                             &ag[i * (kg / 32) * 34], N);
        }
        expect_near_reference(y8.data(), N, r8, 3, N, kg,
                              t.name + " gemv long k " + q4r_layout_name(layout));
        if (const GemvRowsFn gr = t.table.gemv_rows[wt_index(type)][layout_index(layout)]) {
          std::vector<float> yr(3 * N);
          gr(kg, yr.data(), N, packed.data(), ag.data(), 3, N);
          EXPECT_EQ(yr, y8) << t.name << " gemv_rows long k " << q4r_layout_name(layout);
        }
      }
    }
  }
}

void check_golden_native(const NamedTable& t) {
  struct Case {
    const char* dir;
    int n, k;
    std::vector<int> ms;
  };
  const Case cases[] = {{"n16_k256", 16, 256, {1, 4, 8}}, {"n64_k1024", 64, 1024, {1, 4, 8, 16}}};
  for (const Case& c : cases) {
    for (q4r_type type : kTypes) {
      const std::string tn = q4r_type_name(type);
      const auto plain = read_golden(std::string(c.dir) + "/" + tn + ".bin");
      ASSERT_FALSE(plain.empty());
      for (int m : c.ms) {
        const std::string md = std::string(c.dir) + "/m" + std::to_string(m) + "/";
        const auto a = read_golden(md + "act_q8_0.bin");
        const auto want_gemv = read_golden_f32(md + "gemv_" + tn + "_8x8.native.bin");
        const auto want_gemm =
            m >= 4 ? read_golden_f32(md + "gemm_" + tn + "_8x8.native.bin") : std::vector<float>();
        ASSERT_EQ(want_gemv.size(), size_t(m * c.n));
        const int64_t row_bytes = c.k / 32 * kQ8BlockBytes;
        for (q4r_layout layout : kPacked) {
          const auto packed = repack(type, layout, plain, c.n, c.k);
          const std::string what = t.name + " " + md + tn + " " + q4r_layout_name(layout);
          std::vector<float> y(m * c.n);
          for (int i = 0; i < m; ++i) {
            t.table.gemv[wt_index(type)][layout_index(layout)](c.k, &y[i * c.n], packed.data(),
                                                               &a[i * row_bytes], c.n);
          }
          EXPECT_EQ(y, want_gemv) << what << " gemv";
          if (const GemvRowsFn gr = t.table.gemv_rows[wt_index(type)][layout_index(layout)]) {
            std::vector<float> yr(m * c.n);
            for (int i = 0; i < m; i += 3) {
              gr(c.k, &yr[i * c.n], c.n, packed.data(), &a[i * row_bytes], std::min(3, m - i), c.n);
            }
            EXPECT_EQ(yr, want_gemv) << what << " gemv_rows";
          }
          const int nr = m - m % 4;
          if (nr > 0) {
            const auto ax4 = interleave_groups(a, nr / 4, c.k, q4r_layout_chunk(layout));
            std::vector<float> g(nr * c.n);
            t.table.gemm[wt_index(type)][layout_index(layout)](c.k, g.data(), c.n, packed.data(),
                                                               ax4.data(), nr, c.n);
            EXPECT_EQ(g, std::vector<float>(want_gemm.begin(), want_gemm.begin() + nr * c.n))
                << what << " gemm";
          }
        }
        std::vector<float> y(m * c.n);
        t.table.plain[wt_index(type)](c.k, y.data(), c.n, plain.data(), c.n, a.data(), m);
        EXPECT_EQ(y, want_gemv) << t.name << " " << md << tn << " plain";
      }
    }
  }
}

std::vector<NamedTable> tables_under_test() {
  std::vector<NamedTable> t = available_tables();
#if defined(Q4R_HAVE_AVX512_EMULATION)
  KernelTable e = scalar_table();
  fill_kernels_avx512vnni_emulated(&e);
  t.push_back({"avx512vnni-emulated", e});
  // The 512-bit file fills only the 8x8 GEMV / GEMV rows / GEMM, over the 256-bit table (as the
  // dispatcher's avx512vnni512 kernel set does).
  fill_kernels_avx512vnni512_emulated(&e);
  t.push_back({"avx512vnni512-emulated", e});
#endif
  return t;
}

TEST(Kernels, GemvMatchesExactReference) {
  for (const NamedTable& t : tables_under_test()) check_gemv(t);
}

TEST(Kernels, GemmMatchesExactReference) {
  for (const NamedTable& t : tables_under_test()) check_gemm_all(t);
}

TEST(Kernels, PlainMatchesExactReference) {
  for (const NamedTable& t : tables_under_test()) check_plain(t);
}

TEST(Kernels, SimdKernelsMatchGoldenNativeBitExactly) {
  int checked = 0;
  for (const NamedTable& t : tables_under_test()) {
    if (!block_fma_isa(t.name)) continue;
    check_golden_native(t);
    ++checked;
  }
  if (checked == 0) GTEST_SKIP() << "no block-FMA SIMD kernels on this machine";
}

TEST(Kernels, Avx512TableOnlyWhenAvailable) {
  if (!q4r_isa_available(Q4R_ISA_AVX512VNNI)) {
    EXPECT_EQ(q4r_set_isa(Q4R_ISA_AVX512VNNI), Q4R_E_ISA);
    GTEST_SKIP() << "AVX-512 VNNI not available here (its logic is tested through SIMDe)";
  }
  EXPECT_STREQ(kernels_for(Q4R_ISA_AVX512VNNI).name, "avx512vnni");
  // The auto level runs exactly one of the two widths.
  const KernelTable& t = kernels_for(Q4R_ISA_AVX512VNNI);
  EXPECT_TRUE(same_kernels(t, kernels_for(Q4R_ISA_AVX512VNNI256)) ||
              same_kernels(t, kernels_for(Q4R_ISA_AVX512VNNI512)));
  // 512-bit entries for the 8x8 GEMV and GEMM and the plain kernel; the rest is the 256-bit
  // table's.
  const KernelTable& k256 = kernels_for(Q4R_ISA_AVX512VNNI256);
  const KernelTable& k512 = kernels_for(Q4R_ISA_AVX512VNNI512);
  for (int w = 0; w < kWeightTypes; ++w) {
    EXPECT_NE(k512.gemm[w][k8x8], k256.gemm[w][k8x8]);
    EXPECT_NE(k512.gemv[w][k8x8], k256.gemv[w][k8x8]);
    EXPECT_EQ(k512.gemm[w][k4x8], k256.gemm[w][k4x8]);
    EXPECT_NE(k512.plain[w], k256.plain[w]);
  }
}

TEST(Kernels, AvxVnniOnlyWhenAvailable) {
  if (!q4r_isa_available(Q4R_ISA_AVXVNNI)) {
    EXPECT_EQ(q4r_set_isa(Q4R_ISA_AVXVNNI), Q4R_E_ISA);
    GTEST_SKIP() << "AVX-VNNI not available here";
  }
  EXPECT_STREQ(kernels_for(Q4R_ISA_AVXVNNI).name, "avxvnni");
}

// ---------------------------------------------------------------- activation quantizers
TEST(Kernels, QuantizersMatchGoldenAndAgree) {
  const struct {
    const char* dir;
    int k;
    std::vector<int> ms;
  } cases[] = {{"n16_k256", 256, {1, 4, 8}}, {"n64_k1024", 1024, {1, 4, 8, 16}}};
  for (const NamedTable& t : available_tables()) {
    ASSERT_TRUE(t.table.quant_rows && t.table.quant_x4[kChunk4] && t.table.quant_x4[kChunk8]);
    const bool x86 = block_fma_isa(t.name);
    for (const auto& c : cases) {
      for (int m : c.ms) {
        const std::string md = std::string(c.dir) + "/m" + std::to_string(m) + "/";
        const auto x = read_golden_f32(md + "act_f32.bin");
        ASSERT_EQ(x.size(), size_t(m) * c.k);
        const int64_t row_bytes = c.k / 32 * kQ8BlockBytes;
        std::vector<uint8_t> rows(m * row_bytes);
        t.table.quant_rows(x.data(), c.k, rows.data(), c.k, m);
        if (t.name == "scalar") {
          EXPECT_EQ(rows, read_golden(md + "act_q8_0.bin")) << md;
        } else if (x86) {
          EXPECT_EQ(rows, read_golden(md + "act_q8_0.native.bin")) << t.name << " " << md;
        } else {
          // Other ISAs may round ties differently: same scales, values within one step.
          std::vector<uint8_t> ref(m * row_bytes);
          scalar_table().quant_rows(x.data(), c.k, ref.data(), c.k, m);
          for (std::size_t b = 0; b < ref.size(); b += kQ8BlockBytes) {
            EXPECT_EQ(get_half(&rows[b]), get_half(&ref[b]));
            for (int i = 2; i < kQ8BlockBytes; ++i) {
              EXPECT_LE(std::abs(int(int8_t(rows[b + i])) - int(int8_t(ref[b + i]))), 1);
            }
          }
        }
        // The interleaved quantizers round exactly like the row quantizer of the same ISA.
        const int groups = m / 4;
        if (groups == 0) continue;
        for (int chunk : {4, 8}) {
          std::vector<uint8_t> x4(groups * 4 * row_bytes);
          t.table.quant_x4[chunk == 4 ? kChunk4 : kChunk8](x.data(), c.k, x4.data(), c.k, groups);
          EXPECT_EQ(x4, interleave_groups(rows, groups, c.k, chunk))
              << t.name << " " << md << " chunk " << chunk;
          if (x86 && chunk == 8) {
            EXPECT_EQ(x4, read_golden(md + "act_q8_0_x4_il8.native.bin")) << t.name << " " << md;
          }
        }
      }
    }
    // Row strides larger than k, odd row counts, an all-zero row.
    const int k = 96, m = 5;
    const std::size_t stride = k + 7;
    std::vector<float> x = random_floats(m * stride, 9, 3.f);
    for (int i = 0; i < k; ++i) x[2 * stride + i] = 0.f;
    std::vector<uint8_t> rows(m * (k / 32) * kQ8BlockBytes), ref(rows.size());
    t.table.quant_rows(x.data(), stride, rows.data(), k, m);
    scalar_table().quant_rows(x.data(), stride, ref.data(), k, m);
    for (std::size_t b = 0; b < ref.size(); b += kQ8BlockBytes) {
      EXPECT_EQ(get_half(&rows[b]), get_half(&ref[b])) << t.name;
    }
    std::vector<uint8_t> x4(4 * (k / 32) * kQ8BlockBytes);
    t.table.quant_x4[kChunk8](x.data(), stride, x4.data(), k, 1);
    EXPECT_EQ(x4, interleave_groups(rows, 1, k, 8)) << t.name << " strided x4";
  }
}

// ---------------------------------------------------------------- public driver, every ISA
// Activations whose blocks all have amax = 127 * 2^-j: every quantizer (any rounding rule, 1/d or
// 127/amax) gives d = 2^-j and exact integers, so all ISAs quantize them identically and the
// exact result is the double dot of the dequantized weights with these floats.
std::vector<float> exact_activations(int64_t m, int64_t k, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> val(-127, 127);
  std::vector<float> x(m * k);
  for (int64_t i = 0; i < m; ++i) {
    const float scale = std::ldexp(1.f, -int(i % 3));
    for (int64_t e = 0; e < k; ++e) {
      const int v = e % 32 == 5 ? (i % 2 ? -127 : 127) : val(rng);
      x[i * k + e] = float(v) * scale;
    }
  }
  return x;
}

void expect_driver_result(const std::vector<float>& y, const std::vector<float>& wdeq,
                          const std::vector<float>& x, int64_t m, int64_t n, int64_t k,
                          const std::string& what) {
  const double factor = (4.0 * (k / 32) + 8) * std::ldexp(1.0, -24);
  int bad = 0;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t c = 0; c < n; ++c) {
      double sum = 0, mag = 0;
      for (int64_t e = 0; e < k; ++e) {
        const double t = double(wdeq[c * k + e]) * x[i * k + e];
        sum += t;
        mag += std::fabs(t);
      }
      if (!(std::fabs(y[i * n + c] - sum) <= factor * mag + 1e-30) && ++bad <= 3) {
        ADD_FAILURE() << what << ": y[" << i << "][" << c << "] = " << y[i * n + c] << ", exact "
                      << sum;
      }
    }
  }
}

TEST(Kernels, DriverEveryIsaMatchesExact) {
  const q4r_isa before = q4r_active_isa();
  const int64_t k = quick() ? 96 : 576;
  std::vector<int64_t> ms;
  for (int64_t m = 1; m <= 17; ++m) ms.push_back(m);
  ms.push_back(33);
  std::vector<const KernelTable*> done;
  for (int i = 0; i < Q4R_ISA_COUNT; ++i) {
    const q4r_isa isa = q4r_isa(i);
    if (!q4r_isa_available(isa)) continue;
    // avx512vnni runs the kernels of avx512vnni256 or avx512vnni512: each table once.
    bool dup = false;
    for (const KernelTable* d : done) dup |= same_kernels(*d, kernels_for(isa));
    if (dup) continue;
    done.push_back(&kernels_for(isa));
    ASSERT_EQ(q4r_set_isa(isa), Q4R_OK);
    for (q4r_type type : kTypes) {
      for (int64_t n : {13, 36, 40}) {  // 13: tails of 1 and 5 rows; 36: a 4-row tail for 8x8
        const auto wf = random_floats(n * k, uint32_t(n + 7 * i), 1.f);
        size_t bytes = 0;
        ASSERT_EQ(q4r_tensor_bytes(type, n, k, &bytes), Q4R_OK);
        std::vector<uint8_t> plain(bytes);
        ASSERT_EQ(q4r_quantize(type, wf.data(), n, k, nullptr, plain.data(), bytes), Q4R_OK);
        std::vector<float> wdeq(n * k);
        ASSERT_EQ(q4r_dequantize(type, plain.data(), bytes, n, k, wdeq.data()), Q4R_OK);
        for (q4r_layout layout :
             {Q4R_LAYOUT_PLAIN, Q4R_LAYOUT_4X4, Q4R_LAYOUT_4X8, Q4R_LAYOUT_8X8}) {
          std::vector<uint8_t> w = plain;
          if (layout != Q4R_LAYOUT_PLAIN) {
            ASSERT_EQ(q4r_repack(type, layout, plain.data(), w.data(), bytes, n, k), Q4R_OK)
                << q4r_last_error();
          }
          for (int64_t m : ms) {
            const auto x = exact_activations(m, k, uint32_t(m));
            const std::string what = std::string(q4r_isa_name(isa)) + " " + q4r_type_name(type) +
                                     " " + q4r_layout_name(layout) + " n=" + std::to_string(n) +
                                     " m=" + std::to_string(m);
            std::vector<float> y(m * n, NAN);
            ASSERT_EQ(q4r_matmul(type, layout, w.data(), bytes, n, k, x.data(), m, y.data(), 1),
                      Q4R_OK)
                << what << ": " << q4r_last_error();
            expect_driver_result(y, wdeq, x, m, n, k, what + " matmul");
            // The two-step API over two column ranges.
            size_t ws_bytes = 0;
            ASSERT_EQ(q4r_workspace_size(layout, n, m, k, &ws_bytes), Q4R_OK);
            std::vector<uint8_t> ws(ws_bytes);
            ASSERT_EQ(q4r_quantize_activations(layout, n, x.data(), k, m, k, ws.data(), ws_bytes),
                      Q4R_OK);
            std::vector<float> y2(m * n, NAN);
            const int64_t step = q4r_column_step(layout);
            const int64_t split = 2 * step < n ? 2 * step : step;
            ASSERT_EQ(q4r_run(type, layout, w.data(), bytes, n, k, ws.data(), ws_bytes, m,
                              y2.data(), n, 0, split),
                      Q4R_OK)
                << q4r_last_error();
            ASSERT_EQ(q4r_run(type, layout, w.data(), bytes, n, k, ws.data(), ws_bytes, m,
                              y2.data(), n, split, n),
                      Q4R_OK)
                << q4r_last_error();
            EXPECT_EQ(y2, y) << what << " run";
          }
        }
      }
    }
  }
  ASSERT_EQ(q4r_set_isa(before), Q4R_OK);
}

}  // namespace
}  // namespace q4r::test
