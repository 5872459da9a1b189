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

// The four 2x2 tiles of one block_q8_0x4 (aq = its 128 quant bytes) against the decoded column
// pairs w: t[rp][cp] = rows 2rp, 2rp+1 x columns 2cp, 2cp+1, [r.c, r.c+1, r+1.c, r+1.c+1], over
// the 32 values, in fresh int32 chains. k-octet o of row pair rp is the first / second 16 bytes
// of the octet's 32 (B = 8) or a zip of the 4-row quads (B = 4); it is loaded right before its
// four SMMLA, so that only two activation vectors are live.
template <int B>
inline void block_tiles(const int8_t* aq, const int8x16_t w[2][4], int32x4_t t[2][2]) {
  for (int rp = 0; rp < 2; ++rp)
    for (int cp = 0; cp < 2; ++cp) t[rp][cp] = fresh_zero();
  unroll<0, 4>([&](auto octet) {
    constexpr int o = decltype(octet)::value;
    int8x16_t a[2];
    if constexpr (B == 8) {
      a[0] = vld1q_s8(aq + 32 * o);
      a[1] = vld1q_s8(aq + 32 * o + 16);
    } else {
      const int32x4_t q0 = vreinterpretq_s32_s8(vld1q_s8(aq + 32 * o));  // k 8o..8o+3, 4 rows
      const int32x4_t q1 = vreinterpretq_s32_s8(vld1q_s8(aq + 32 * o + 16));
      a[0] = vreinterpretq_s8_s32(vzip1q_s32(q0, q1));
      a[1] = vreinterpretq_s8_s32(vzip2q_s32(q0, q1));
    }
    for (int rp = 0; rp < 2; ++rp)
      for (int cp = 0; cp < 2; ++cp) t[rp][cp] = vmmlaq_s32(t[rp][cp], a[rp], w[cp][o]);
  });
}

// G groups of 4 activation rows (from group y0) against every column group. The float
// accumulators stay in SMMLA's 2x2 tile form (acc[4g + 2 rp + cp] = rows 2rp, 2rp+1 x columns
// 2cp, 2cp+1) and are scaled by tile-shaped scale vectors [dw_c da_r, dw_c+1 da_r, dw_c da_r+1,
// dw_c+1 da_r+1] (the same products as the row form, so the same result); only the store turns
// tiles into rows. Per block and group: 16 SMMLA, 4 conversions, 4 scale products, 4 FMA.
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
        const float64x2_t dw = vreinterpretq_f64_f32(W::weight_scale(halves4(wb + 8 * h)));
        // [dw0 dw1 dw0 dw1] and [dw2 dw3 dw2 dw3]
        const float32x4_t dwp[2] = {vreinterpretq_f32_f64(vdupq_laneq_f64(dw, 0)),
                                    vreinterpretq_f32_f64(vdupq_laneq_f64(dw, 1))};
        unroll<0, G>([&](auto group) {  // unrolled: acc[] must stay in registers
          constexpr int g = decltype(group)::value;
          const uint8_t* ab = a + (static_cast<int64_t>(y0 + g) * nb + l) * kQ8x4BlockBytes;
          int32x4_t tiles[2][2];
          block_tiles<B>(reinterpret_cast<const int8_t*>(ab + 8), wp, tiles);
          const float32x4_t da = halves4(ab);
          // [da0 da0 da1 da1] and [da2 da2 da3 da3]
          const float32x4_t dap[2] = {vzip1q_f32(da, da), vzip2q_f32(da, da)};
          unroll<0, 4>([&](auto t) {
            constexpr int rp = decltype(t)::value / 2, cp = decltype(t)::value % 2;
            acc[4 * g + 2 * rp + cp] = vfmaq_f32(
                acc[4 * g + 2 * rp + cp], to_float<W>(tiles[rp][cp]), vmulq_f32(dwp[cp], dap[rp]));
          });
        });
      }
      // Tiles to rows: 64-bit lane rp of tiles (rp, 0) and (rp, 1) form row 2rp + rp-lane.
      const int col = x * N + 4 * h;
      for (int g = 0; g < G; ++g) {
        for (int rp = 0; rp < 2; ++rp) {
          const float64x2_t t0 = vreinterpretq_f64_f32(acc[4 * g + 2 * rp]);
          const float64x2_t t1 = vreinterpretq_f64_f32(acc[4 * g + 2 * rp + 1]);
          float* row = s + static_cast<std::size_t>(4 * (y0 + g) + 2 * rp) * bs + col;
          vst1q_f32(row, vreinterpretq_f32_f64(vzip1q_f64(t0, t1)));
          vst1q_f32(row + bs, vreinterpretq_f32_f64(vzip2q_f64(t0, t1)));
        }
      }
    }
  }
}

}  // namespace

void fill_kernels_i8mm(KernelTable* t) {
  fill_kernels_dotprod(t);  // GEMV, plain rows and quantizers
  t->name = "i8mm";
  fill_gemm_entries<Q4_0Packed, Iq4nl, 3>(t);
}

}  // namespace q4r
