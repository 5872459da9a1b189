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

// Integer dots of 4 columns with activation row M; av = the activation block's 16-byte vectors.
// Two chains (low and high nibbles) keep SDOT latency off the critical path.
template <int B, int M>
inline int32x4_t dot_cols4(const int8x16_t w[8], const int8x16_t* av) {
  int32x4_t lo = vdupq_n_s32(0);
  int32x4_t hi = vdupq_n_s32(0);
  unroll<0, 4>([&](auto quad) {
    constexpr int T = decltype(quad)::value;
    constexpr int o_lo = act_offset(B, M, T);
    constexpr int o_hi = act_offset(B, M, T + 4);
    lo = vdotq_laneq_s32(lo, w[T], av[o_lo / 16], (o_lo % 16) / 4);
    hi = vdotq_laneq_s32(hi, w[T + 4], av[o_hi / 16], (o_hi % 16) / 4);
  });
  return vaddq_s32(lo, hi);
}

// ---------------------------------------------------------------- GEMV / GEMM
template <class W>
float32x4_t gemv_block_dot(const int8x16_t w[8], const uint8_t* qs) {
  const int8x16_t av[2] = {vld1q_s8(reinterpret_cast<const int8_t*>(qs)),
                           vld1q_s8(reinterpret_cast<const int8_t*>(qs + 16))};
  return to_float<W>(dot_cols4<0, 0>(w, av));
}

// G groups of 4 activation rows (from group y0) against every column group; the decoded weights
// of a block serve all 4*G rows (16-row blocking for G = 4, the 4-row tail for G = 1).
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
        const float32x4_t dw = halves4(wb + 8 * h);
        for (int g = 0; g < G; ++g) {
          const uint8_t* ab = a + (static_cast<int64_t>(y0 + g) * nb + l) * kQ8x4BlockBytes;
          const auto* aq = reinterpret_cast<const int8_t*>(ab + 8);
          int8x16_t av[8];
          for (int i = 0; i < 8; ++i) av[i] = vld1q_s8(aq + 16 * i);
          const float32x4_t da = halves4(ab);
          unroll<0, 4>([&](auto row) {
            constexpr int M = decltype(row)::value;
            acc[4 * g + M] = vfmaq_f32(acc[4 * g + M], to_float<W>(dot_cols4<B, M>(wq, av)),
                                       vmulq_laneq_f32(dw, da, M));
          });
        }
      }
      store_tile<G>(s, bs, y0, x * N + 4 * h, acc);
    }
  }
}

// ---------------------------------------------------------------- plain rows
template <class W>
inline int32x4_t plain_partials(const W& dec, const uint8_t* qs, int8x16_t a0, int8x16_t a1) {
  int8x16_t lo, hi;
  dec.decode(vld1q_u8(qs), lo, hi);
  return vdotq_s32(vdotq_s32(vdupq_n_s32(0), lo, a0), hi, a1);
}

template <class W>
void plain(int k, float* s, std::size_t bs, const void* vw, int nc, const void* va, int nr) {
  const int nb = k / kBlockValues;
  const int64_t wrow = static_cast<int64_t>(nb) * kQ4BlockBytes;
  const auto* w = static_cast<const uint8_t*>(vw);
  const auto* a = static_cast<const uint8_t*>(va);
  const W dec;
  for (int m = 0; m < nr; ++m) {
    const uint8_t* arow = a + static_cast<int64_t>(m) * nb * kQ8BlockBytes;
    int c = 0;
    for (; c + 4 <= nc; c += 4) {
      float32x4_t sumf = vdupq_n_f32(0.f);
      for (int l = 0; l < nb; ++l) {
        const uint8_t* ab = arow + l * kQ8BlockBytes;
        const int8x16_t a0 = vld1q_s8(reinterpret_cast<const int8_t*>(ab + 2));
        const int8x16_t a1 = vld1q_s8(reinterpret_cast<const int8_t*>(ab + 18));
        int32x4_t part[4];
        uint16_t dw[4];
        for (int j = 0; j < 4; ++j) {
          const uint8_t* wb = w + (c + j) * wrow + l * kQ4BlockBytes;
          part[j] = plain_partials(dec, wb + 2, a0, a1);
          std::memcpy(&dw[j], wb, 2);
        }
        const int32x4_t isum =
            vpaddq_s32(vpaddq_s32(part[0], part[1]), vpaddq_s32(part[2], part[3]));
        const float32x4_t scale =
            vmulq_n_f32(vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(dw))), half_at(ab));
        sumf = vfmaq_f32(sumf, to_float<W>(isum), scale);
      }
      vst1q_f32(s + m * bs + c, sumf);
    }
    for (; c < nc; ++c) {
      float sumf = 0.f;
      for (int l = 0; l < nb; ++l) {
        const uint8_t* ab = arow + l * kQ8BlockBytes;
        const uint8_t* wb = w + c * wrow + l * kQ4BlockBytes;
        const int8x16_t a0 = vld1q_s8(reinterpret_cast<const int8_t*>(ab + 2));
        const int8x16_t a1 = vld1q_s8(reinterpret_cast<const int8_t*>(ab + 18));
        const int32_t isum = vaddvq_s32(plain_partials(dec, wb + 2, a0, a1));
        const float v = W::kTimes16 ? static_cast<float>(isum) * 0.0625f : static_cast<float>(isum);
        sumf = __builtin_fmaf(v, half_at(wb) * half_at(ab), sumf);  // as the vector lanes
      }
      s[m * bs + c] = sumf;
    }
  }
}

}  // namespace

void fill_kernels_dotprod(KernelTable* t) {
  fill_kernels_neon(t);  // the shared ARM activation quantizers
  t->name = "dotprod";
  t->plain[kQ4_0] = plain<Q4_0Plain>;
  t->plain[kIQ4_NL] = plain<Iq4nl>;
  fill_gemv_entries<Q4_0Packed, Iq4nl>(t);
  t->gemm[kQ4_0][k4x4] = gemm<Q4_0Packed, 4, 4>;
  t->gemm[kQ4_0][k4x8] = gemm<Q4_0Packed, 4, 8>;
  t->gemm[kQ4_0][k8x8] = gemm<Q4_0Packed, 8, 8>;
  t->gemm[kIQ4_NL][k4x4] = gemm<Iq4nl, 4, 4>;
  t->gemm[kIQ4_NL][k4x8] = gemm<Iq4nl, 4, 8>;
  t->gemm[kIQ4_NL][k8x8] = gemm<Iq4nl, 8, 8>;
}

}  // namespace q4r
