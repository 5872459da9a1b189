// ARMv8.2 dotprod kernels (Cortex-A55/A76, Neoverse N1, Apple M1 class), built with
// -march=armv8.2-a+dotprod. This whole file may contain SDOT, so it holds only its own kernels;
// the activation quantizers come from the NEON file (fill_kernels_neon), so every ARM level
// rounds activations the same way.
//
// Q4_0 weights use the x16 trick of FORMATS.md B.2.4: a repacked (XORed) byte b gives
// int8(b << 4) = 16 * low value and int8(b & 0xF0) = 16 * high value, SDOT sums them exactly in
// int32, and the conversion to float divides by 16 exactly (vcvtq_n_f32_s32(x, 4)). Plain Q4_0
// blocks are XORed with 0x88 in the register first. IQ4_NL looks its nibbles up in the codebook
// with TBL.
//
// As in the NEON file, every layout is brought into "column quads" (lane j of quad vector t =
// values k = 4t..4t+3 of column j; one vuzp pair per 32 bytes for the B = 8 layouts). Then one
// SDOT by element (vdotq_laneq_s32) per quad and activation row does 4 columns x 4 values.
#include <arm_neon.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernel_table.h"
#include "lib/format/formats.h"
#include "arm/arm_dot_decoders.inc"
#include "arm/arm_layout.inc"

namespace q4r {
namespace {

// Integer dots of 4 columns with a plain activation block (av = its two 16-byte vectors): one
// SDOT chain (the loops around it have enough independent chains to hide its latency).
inline int32x4_t dot_cols4(const int8x16_t w[8], int8x16_t a0, int8x16_t a1) {
  int32x4_t acc = fresh_zero();
  unroll<0, 4>([&](auto quad) {
    constexpr int T = decltype(quad)::value;
    acc = vdotq_laneq_s32(acc, w[T], a0, T);
  });
  unroll<0, 4>([&](auto quad) {
    constexpr int T = decltype(quad)::value;
    acc = vdotq_laneq_s32(acc, w[T + 4], a1, T);
  });
  return acc;
}

// ---------------------------------------------------------------- GEMV / GEMM
template <class W, int N, int B, int R>
[[gnu::always_inline]] inline void gemv_weights(const W& dec, const uint8_t* qs, int h,
                                                int8x16_t w[8]) {
  load_weights<W, N, B>(dec, qs, h, w);  // column quads: SDOT by element needs no broadcast
}

template <class W, int B, int R>
[[gnu::always_inline]] inline float32x4_t gemv_block_dot(const int8x16_t w[8], const uint8_t* qs) {
  return to_float<W>(dot_cols4(w, vld1q_s8(reinterpret_cast<const int8_t*>(qs)),
                               vld1q_s8(reinterpret_cast<const int8_t*>(qs + 16))));
}

// Row m and quad t of 32-bit lane `lane` of activation vector v (16 bytes at 16v) in a
// block_q8_0x4 with chunk B: the inverse of act_offset.
constexpr int lane_row(int B, int v, int lane) {
  return B == 4 ? lane : (v % 2) * 2 + lane / 2;
}
constexpr int lane_quad(int B, int v, int lane) {
  return B == 4 ? v : (v / 2) * 2 + lane % 2;
}

// G groups of 4 activation rows (from group y0) against every column group. Per block the 4
// columns' weights are decoded once for all 4*G rows; each activation vector is loaded once and
// feeds 4 SDOT (one per lane, i.e. per row for B = 4, per row and quad for B = 8) into 4 fresh
// int32 chains, one per row. The level uses G = 3 (fill_kernels_dotprod): 12 float accumulators,
// 8 weights, 4 chains, one activation vector and two scale vectors; G = 4 needs 35 registers and
// spills in the K-loop (scripts/arm-speed.sh counts stack traffic).
template <class W, int N, int B, int G>
void gemm_rows(int nb, float* s, std::size_t bs, const uint8_t* w, const uint8_t* a, int y0,
               int nc) {
  const W dec;
  for (int x = 0; x < nc / N; ++x) {
    for (int h = 0; h < N / 4; ++h) {
      float32x4_t acc[4 * G];
      for (int i = 0; i < 4 * G; ++i) acc[i] = vdupq_n_f32(0.f);
      for (int l = 0; l < nb; ++l) {
        const uint8_t* wb = w + (static_cast<int64_t>(x) * nb + l) * kQ4BlockBytes * N;
        int8x16_t wq[8];
        load_weights<W, N, B>(dec, wb + 2 * N, h, wq);
        const float32x4_t dw = W::weight_scale(halves4(wb + 8 * h));
        unroll<0, G>([&](auto group) {  // unrolled: acc[] must stay in registers
          constexpr int g = decltype(group)::value;
          const uint8_t* ab = a + (static_cast<int64_t>(y0 + g) * nb + l) * kQ8x4BlockBytes;
          const auto* aq = reinterpret_cast<const int8_t*>(ab + 8);
          int32x4_t isum[4];
          for (int m = 0; m < 4; ++m) isum[m] = fresh_zero();
          unroll<0, 8>([&](auto vec) {
            constexpr int V = decltype(vec)::value;
            const int8x16_t av = vld1q_s8(aq + 16 * V);
            unroll<0, 4>([&](auto ln) {
              constexpr int L = decltype(ln)::value;
              constexpr int M = lane_row(B, V, L);
              isum[M] = vdotq_laneq_s32(isum[M], wq[lane_quad(B, V, L)], av, L);
            });
          });
          const float32x4_t da = halves4(ab);
          unroll<0, 4>([&](auto row) {
            constexpr int M = decltype(row)::value;
            acc[4 * g + M] =
                vfmaq_f32(acc[4 * g + M], to_float<W>(isum[M]), vmulq_laneq_f32(dw, da, M));
          });
        });
      }
      store_tile<G>(s, bs, y0, x * N + 4 * h, acc);
    }
  }
}

// ---------------------------------------------------------------- plain rows
// One SDOT chain per weight row (4 int32 partials), started at -off_sum / 4 in every lane (an
// integer DUP, no vector micro-op), so that the 4 partials sum to the dot minus off_sum.
template <class W>
inline int32x4_t plain_partials(const W& dec, const uint8_t* qs, int8x16_t a0, int8x16_t a1,
                                int32_t off_sum) {
  static_assert(W::kOffset % 4 == 0, "off_sum / 4 must be exact (a shift)");
  int8x16_t lo, hi;
  dec.decode(vld1q_u8(qs), lo, hi);
  const int32x4_t start = W::kOffset != 0 ? fresh_dup(-(off_sum >> 2)) : fresh_zero();
  return vdotq_s32(vdotq_s32(start, lo, a0), hi, a1);
}

template <class W>
[[gnu::always_inline]] inline int32x4_t plain_block4(const W& dec, const uint8_t* qs, int64_t wrow,
                                                     int8x16_t a0, int8x16_t a1, int32_t off_sum) {
  int32x4_t part[4];
  for (int j = 0; j < 4; ++j) part[j] = plain_partials(dec, qs + j * wrow, a0, a1, off_sum);
  return vpaddq_s32(vpaddq_s32(part[0], part[1]), vpaddq_s32(part[2], part[3]));
}

template <class W>
[[gnu::always_inline]] inline int32_t plain_block1(const W& dec, const uint8_t* qs, int8x16_t a0,
                                                   int8x16_t a1, int32_t off_sum) {
  return vaddvq_s32(plain_partials(dec, qs, a0, a1, off_sum));
}

}  // namespace

void fill_kernels_dotprod(KernelTable* t) {
  fill_kernels_neon(t);  // the shared ARM activation quantizers
  t->name = "dotprod";
  t->plain[kQ4_0] = plain<Q4_0Plain>;
  t->plain[kIQ4_NL] = plain<Iq4nl>;
  fill_gemv_entries<Q4_0Packed, Iq4nl>(t);
  fill_gemm_entries<Q4_0Packed, Iq4nl, 3>(t);
}

}  // namespace q4r
