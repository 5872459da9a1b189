// ARMv8.6 i8mm kernels (Neoverse N2/V1/V2, Apple M2+, Cortex-A510/A710 class), built with
// -march=armv8.2-a+dotprod+i8mm. Only the GEMMs use SMMLA (FORMATS.md B.5.3); GEMV, the plain
// rows and the activation quantizers come from the dotprod level (fill_kernels_dotprod), because
// a single activation row would leave half of every 2x2 SMMLA tile unused.
//
// SMMLA (vmmlaq_s32) multiplies a 2x8 int8 matrix by the transpose of another: with 8 consecutive
// k of activation rows (r, r+1) and of weight columns (c, c+1) it accumulates the 2x2 tile
// [r.c, r.c+1, r+1.c, r+1.c+1]. Every layout is brought into "column pairs" (16 bytes = 8 quant
// bytes of two columns: B = 8 layouts are already in that form, 4x4 needs one vzip pair per 32
// bytes) and every activation chunk into "row pairs" (block_q8_0x4 with B = 8 already is; B = 4
// needs one vzip pair). Per block and 4x4 tile: 16 SMMLA over the 4 k-octets (low nibbles of
// bytes 0-7 and 8-15 = k 0-15, high nibbles = k 16-31), then 64-bit zips turn the 2x2 tiles into
// rows. Q4_0 uses the x16 decode (exact /16 in the conversion), IQ4_NL a TBL codebook lookup.
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

// Decoded column pairs of 4-column subgroup h: w[p][o] = k-octet o (k 8o..8o+7) of columns
// 4h+2p (bytes 0-7) and 4h+2p+1 (bytes 8-15).
template <class W, int N, int B>
inline void load_pairs(const W& dec, const uint8_t* qs, int h, int8x16_t w[2][4]) {
  uint8x16_t raw[2][2];  // [pair][quant bytes 0-7 / 8-15]
  if constexpr (B == 4) {
    static_assert(N == 4, "chunk 4 exists only for 4 rows");
    // Quad vectors: lane j = bytes 4i..4i+3 of column j. Zipping quads 0,1 gives bytes 0-7 of
    // columns (0,1) and (2,3); quads 2,3 give bytes 8-15.
    for (int half = 0; half < 2; ++half) {
      const uint32x4_t q0 = vreinterpretq_u32_u8(vld1q_u8(qs + 32 * half));
      const uint32x4_t q1 = vreinterpretq_u32_u8(vld1q_u8(qs + 32 * half + 16));
      raw[0][half] = vreinterpretq_u8_u32(vzip1q_u32(q0, q1));
      raw[1][half] = vreinterpretq_u8_u32(vzip2q_u32(q0, q1));
    }
  } else {
    for (int p = 0; p < 2; ++p) {
      raw[p][0] = vld1q_u8(qs + 32 * h + 16 * p);
      raw[p][1] = vld1q_u8(qs + 8 * N + 32 * h + 16 * p);
    }
  }
  for (int p = 0; p < 2; ++p) {
    dec.decode(raw[p][0], w[p][0], w[p][2]);  // k 0-7 and 16-23
    dec.decode(raw[p][1], w[p][1], w[p][3]);  // k 8-15 and 24-31
  }
}

// Activation row pairs of one block_q8_0x4 (aq = its 128 quant bytes): a[r][o] = k-octet o of
// rows 2r (first 8 bytes) and 2r+1.
template <int B>
inline void load_row_pairs(const int8_t* aq, int8x16_t a[2][4]) {
  for (int o = 0; o < 4; ++o) {
    if constexpr (B == 8) {
      a[0][o] = vld1q_s8(aq + 32 * o);
      a[1][o] = vld1q_s8(aq + 32 * o + 16);
    } else {
      const int32x4_t q0 = vreinterpretq_s32_s8(vld1q_s8(aq + 32 * o));  // k 8o..8o+3, 4 rows
      const int32x4_t q1 = vreinterpretq_s32_s8(vld1q_s8(aq + 32 * o + 16));
      a[0][o] = vreinterpretq_s8_s32(vzip1q_s32(q0, q1));
      a[1][o] = vreinterpretq_s8_s32(vzip2q_s32(q0, q1));
    }
  }
}

// 2x2 tile of row pair a and column pair w over the 32 values of a block.
inline int32x4_t tile(const int8x16_t a[4], const int8x16_t w[4]) {
  int32x4_t t = vmmlaq_s32(vdupq_n_s32(0), a[0], w[0]);
  t = vmmlaq_s32(t, a[1], w[1]);
  t = vmmlaq_s32(t, a[2], w[2]);
  return vmmlaq_s32(t, a[3], w[3]);
}

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
        int8x16_t wp[2][4];
        load_pairs<W, N, B>(dec, wb + 2 * N, h, wp);
        const float32x4_t dw = halves4(wb + 8 * h);
        for (int g = 0; g < G; ++g) {
          const uint8_t* ab = a + (static_cast<int64_t>(y0 + g) * nb + l) * kQ8x4BlockBytes;
          int8x16_t ap[2][4];
          load_row_pairs<B>(reinterpret_cast<const int8_t*>(ab + 8), ap);
          const float32x4_t da = halves4(ab);
          int32x4_t rows[4];
          for (int r = 0; r < 2; ++r) {
            // 64-bit lanes: tile(.,0) = [row 2r: c0 c1 | row 2r+1: c0 c1], tile(.,1) = c2 c3.
            const int64x2_t t0 = vreinterpretq_s64_s32(tile(ap[r], wp[0]));
            const int64x2_t t1 = vreinterpretq_s64_s32(tile(ap[r], wp[1]));
            rows[2 * r] = vreinterpretq_s32_s64(vzip1q_s64(t0, t1));
            rows[2 * r + 1] = vreinterpretq_s32_s64(vzip2q_s64(t0, t1));
          }
          unroll<0, 4>([&](auto row) {
            constexpr int M = decltype(row)::value;
            acc[4 * g + M] =
                vfmaq_f32(acc[4 * g + M], to_float<W>(rows[M]), vmulq_laneq_f32(dw, da, M));
          });
        }
      }
      store_tile<G>(s, bs, y0, x * N + 4 * h, acc);
    }
  }
}

}  // namespace

void fill_kernels_i8mm(KernelTable* t) {
  fill_kernels_dotprod(t);  // GEMV, plain rows and quantizers
  t->name = "i8mm";
  t->gemm[kQ4_0][k4x4] = gemm<Q4_0Packed, 4, 4>;
  t->gemm[kQ4_0][k4x8] = gemm<Q4_0Packed, 4, 8>;
  t->gemm[kQ4_0][k8x8] = gemm<Q4_0Packed, 8, 8>;
  t->gemm[kIQ4_NL][k4x4] = gemm<Iq4nl, 4, 4>;
  t->gemm[kIQ4_NL][k4x8] = gemm<Iq4nl, 4, 8>;
  t->gemm[kIQ4_NL][k8x8] = gemm<Iq4nl, 8, 8>;
}

}  // namespace q4r
