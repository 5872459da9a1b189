// ARMv8.0 Advanced SIMD kernels (Cortex-A53/A72 class: no SDOT, no SMMLA), built with
// -march=armv8-a only. Also home of the ARM activation quantizers, which the dotprod and i8mm
// levels reuse through fill_kernels_neon (they round the same way on every ARM level).
//
// Integer dot products without SDOT: widening multiplies (vmull_s8 / vmlal_s8) into int16 lanes,
// then pairwise widening adds (vpaddlq / vpadalq) into int32. Weights are decoded to their true
// values here (Q4_0: -8..7, IQ4_NL: codebook -127..113), not the x16 form the SDOT kernels use,
// so that an int16 lane holds 8 Q4_0 products (8 * 8 * 128 <= 8192) or 2 IQ4_NL products
// (2 * 127 * 128 <= 32512) without overflow.
//
// Every layout is first brought into "column quads": for each 4-column subgroup of a row group,
// 4 vectors whose 32-bit lane j holds 4 consecutive quant bytes of column j (4x4 is already in that
// form; the B=8 layouts need one vuzp1/vuzp2 pair per 32 bytes). One kernel body then serves every
// (type, N, B). Semantics: kernels/kernel_table.h, FORMATS.md B.4.
#include <arm_neon.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <xsimd/xsimd.hpp>

#include "kernel_table.h"
#include "lib/format/formats.h"
#include "arm/arm_layout.inc"

namespace q4r {
namespace {

inline int32_t load_i32(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// ---------------------------------------------------------------- weight decoders (true values)
// True values: the dots are the true integer dots (kFracBits 0) and dW is used as is.
struct TrueValues {
  static constexpr int kFracBits = 0;
  static float32x4_t weight_scale(float32x4_t d) { return d; }
  static float weight_scale(float d) { return d; }
};
struct Q4_0Packed : TrueValues {  // nibbles XORed with 0x88: each is a 4-bit two's-complement value
  static constexpr int kProductsPerI16 = 8;
  void decode(uint8x16_t b, int8x16_t& lo, int8x16_t& hi) const {
    const int8x16_t s = vreinterpretq_s8_u8(b);
    lo = vshrq_n_s8(vshlq_n_s8(s, 4), 4);
    hi = vshrq_n_s8(s, 4);
  }
};
// Plain (un-repacked) Q4_0: the stored nibbles u = q + 8 (0..15) as they are; the plain kernel
// subtracts 8 * sum(a) from the int32 dot (kOffset; dot(q, a) = dot(u, a) - 8 * sum(a), exact).
// An int16 lane holds 16 products u * a (16 * 15 * 128 = 30720).
struct Q4_0Plain : TrueValues {
  static constexpr int kOffset = 8;
  void decode(uint8x16_t b, int8x16_t& lo, int8x16_t& hi) const {
    lo = vreinterpretq_s8_u8(vandq_u8(b, vdupq_n_u8(0x0F)));
    hi = vreinterpretq_s8_u8(vshrq_n_u8(b, 4));
  }
};
struct Iq4nl : TrueValues {  // codebook indices: one TBL lookup per nibble
  static constexpr int kProductsPerI16 = 2;
  static constexpr int kOffset = 0;
  Iq4nl() : table(vld1q_s8(kIq4nlValues)) {}
  int8x16_t table;
  void decode(uint8x16_t b, int8x16_t& lo, int8x16_t& hi) const {
    lo = vqtbl1q_s8(table, vandq_u8(b, vdupq_n_u8(0x0F)));
    hi = vqtbl1q_s8(table, vshrq_n_u8(b, 4));
  }
};

// Integer dots of 4 columns (decoded quads w) with activation row M of block aq, as
// kMagicBits + dot (for magic_to_float: one FSUB instead of a two-micro-op SCVTF).
template <class W, int B, int M>
inline int32x4_t dot_cols4(const int8x16_t w[8], const int8_t* aq) {
  int8x16_t act[8];
  unroll<0, 8>([&](auto quad) {
    constexpr int T = decltype(quad)::value;
    act[T] = vreinterpretq_s8_s32(vdupq_n_s32(load_i32(aq + act_offset(B, M, T))));
  });
  if constexpr (W::kProductsPerI16 >= 8) {
    int16x8_t lo = vmull_s8(vget_low_s8(w[0]), vget_low_s8(act[0]));
    int16x8_t hi = vmull_high_s8(w[0], act[0]);
    for (int t = 1; t < 8; ++t) {
      lo = vmlal_s8(lo, vget_low_s8(w[t]), vget_low_s8(act[t]));
      hi = vmlal_high_s8(hi, w[t], act[t]);
    }
    // lo: columns 0,1 (4 int16 each); hi: columns 2,3.
    return vpaddq_s32(vpadalq_s16(fresh_dup(kMagicBits / 2), lo),
                      vpadalq_s16(fresh_dup(kMagicBits / 2), hi));
  } else {
    int32x4_t acc_lo = fresh_dup(kMagicBits / 2);
    int32x4_t acc_hi = fresh_dup(kMagicBits / 2);
    for (int t = 0; t < 4; ++t) {  // two products per int16 lane: quads t and t + 4
      int16x8_t lo = vmull_s8(vget_low_s8(w[t]), vget_low_s8(act[t]));
      lo = vmlal_s8(lo, vget_low_s8(w[t + 4]), vget_low_s8(act[t + 4]));
      int16x8_t hi = vmull_high_s8(w[t], act[t]);
      hi = vmlal_high_s8(hi, w[t + 4], act[t + 4]);
      acc_lo = vpadalq_s16(acc_lo, lo);
      acc_hi = vpadalq_s16(acc_hi, hi);
    }
    return vpaddq_s32(acc_lo, acc_hi);
  }
}

// Products of one block's weights (lo = values 0..15, hi = 16..31 of one column or plain row)
// with an activation block (a0, a1), laid out lane by lane. dot4_i16: 4 products per int16 lane
// (for weights with |w * a| <= 2048: up to 16 per lane after two pairwise adds). dot2_i32: two
// per int16 lane, widened and added to init: 4 int32 partials (IQ4_NL: |w * a| <= 127 * 128).
inline int16x8_t dot4_i16(int8x16_t lo, int8x16_t hi, int8x16_t a0, int8x16_t a1) {
  int16x8_t p = vmull_s8(vget_low_s8(lo), vget_low_s8(a0));
  p = vmlal_high_s8(p, lo, a0);
  p = vmlal_s8(p, vget_low_s8(hi), vget_low_s8(a1));
  return vmlal_high_s8(p, hi, a1);
}
inline int32x4_t dot2_i32(int8x16_t lo, int8x16_t hi, int8x16_t a0, int8x16_t a1, int32x4_t init) {
  int16x8_t p = vmull_s8(vget_low_s8(lo), vget_low_s8(a0));
  p = vmlal_s8(p, vget_low_s8(hi), vget_low_s8(a1));
  int16x8_t q = vmull_high_s8(lo, a0);
  q = vmlal_high_s8(q, hi, a1);
  return vpadalq_s16(vpadalq_s16(init, p), q);
}
// Lane j = the sum of the lanes of column j's products (two or three pairwise adds; the int16
// form added to init).
inline int32x4_t fold4(const int16x8_t c[4], int32x4_t init) {
  return vpadalq_s16(init, vpaddq_s16(vpaddq_s16(c[0], c[1]), vpaddq_s16(c[2], c[3])));
}
inline int32x4_t fold4(const int32x4_t c[4]) {
  return vpaddq_s32(vpaddq_s32(c[0], c[1]), vpaddq_s32(c[2], c[3]));
}

// ---------------------------------------------------------------- GEMV
// Mostly on columns, not column quads: column j's 16 quant bytes in one vector (byte i = values i
// and 16 + i, as in a plain block), multiplied lane by lane with the activation block as loaded.
// Column quads need each activation quad broadcast into its own register (8 per row): for 2-3
// rows that costs more than the transpose and does not fit the registers, and for IQ4_NL and the
// B = 8 layouts (4 ZIPs per block instead of 4 UZPs) it costs more already for one row. Only
// Q4_0 4x4 with one row keeps the quads (no transpose; the int16 lanes there hold 8 products).
template <class W, int B, int R>
constexpr bool kGemvQuads = W::kProductsPerI16 >= 8 && B == 4 && R == 1;

template <int N, int B>
inline void load_columns(const uint8_t* qs, int h, uint8x16_t c[4]) {
  if constexpr (B == 4) {  // a 4x4 transpose of the 32-bit lanes of the column quads
    static_assert(N == 4, "chunk 4 exists only for 4 rows");
    uint32x4_t q[4];
    for (int i = 0; i < 4; ++i) q[i] = vreinterpretq_u32_u8(vld1q_u8(qs + 16 * i));
    const uint64x2_t t0 = vreinterpretq_u64_u32(vtrn1q_u32(q[0], q[1]));
    const uint64x2_t t1 = vreinterpretq_u64_u32(vtrn2q_u32(q[0], q[1]));
    const uint64x2_t t2 = vreinterpretq_u64_u32(vtrn1q_u32(q[2], q[3]));
    const uint64x2_t t3 = vreinterpretq_u64_u32(vtrn2q_u32(q[2], q[3]));
    c[0] = vreinterpretq_u8_u64(vtrn1q_u64(t0, t2));
    c[1] = vreinterpretq_u8_u64(vtrn1q_u64(t1, t3));
    c[2] = vreinterpretq_u8_u64(vtrn2q_u64(t0, t2));
    c[3] = vreinterpretq_u8_u64(vtrn2q_u64(t1, t3));
  } else {  // B = 8: bytes 0-7 of columns (0,1) and (2,3), then bytes 8-15 of the same pairs
    const uint8_t* p = qs + 32 * h;
    const uint64x2_t c01_lo = vreinterpretq_u64_u8(vld1q_u8(p));
    const uint64x2_t c23_lo = vreinterpretq_u64_u8(vld1q_u8(p + 16));
    const uint64x2_t c01_hi = vreinterpretq_u64_u8(vld1q_u8(p + 8 * N));
    const uint64x2_t c23_hi = vreinterpretq_u64_u8(vld1q_u8(p + 8 * N + 16));
    c[0] = vreinterpretq_u8_u64(vzip1q_u64(c01_lo, c01_hi));
    c[1] = vreinterpretq_u8_u64(vzip2q_u64(c01_lo, c01_hi));
    c[2] = vreinterpretq_u8_u64(vzip1q_u64(c23_lo, c23_hi));
    c[3] = vreinterpretq_u8_u64(vzip2q_u64(c23_lo, c23_hi));
  }
}

// Columns: w[2j] = values 0..15 of column 4h+j, w[2j+1] = values 16..31. Quads: load_weights.
template <class W, int N, int B, int R>
[[gnu::always_inline]] inline void gemv_weights(const W& dec, const uint8_t* qs, int h,
                                                int8x16_t w[8]) {
  if constexpr (kGemvQuads<W, B, R>) {
    load_weights<W, N, B>(dec, qs, h, w);
  } else {
    uint8x16_t c[4];
    load_columns<N, B>(qs, h, c);
    for (int j = 0; j < 4; ++j) dec.decode(c[j], w[2 * j], w[2 * j + 1]);
  }
}

template <class W, int B, int R>
[[gnu::always_inline]] inline float32x4_t gemv_block_dot(const int8x16_t w[8], const uint8_t* qs) {
  if constexpr (kGemvQuads<W, B, R>) {
    return magic_to_float(dot_cols4<W, 0, 0>(w, reinterpret_cast<const int8_t*>(qs)));
  }
  const int8x16_t a0 = vld1q_s8(reinterpret_cast<const int8_t*>(qs));
  const int8x16_t a1 = vld1q_s8(reinterpret_cast<const int8_t*>(qs + 16));
  if constexpr (W::kProductsPerI16 >= 8) {  // 16 products per int16 lane: 16 * 8 * 128 = 16384
    int16x8_t col[4];
    for (int j = 0; j < 4; ++j) col[j] = dot4_i16(w[2 * j], w[2 * j + 1], a0, a1);
    return magic_to_float(fold4(col, fresh_dup(kMagicBits)));
  } else {
    int32x4_t col[4];
    for (int j = 0; j < 4; ++j) {
      col[j] = dot2_i32(w[2 * j], w[2 * j + 1], a0, a1, fresh_dup(kMagicBits / 4));
    }
    return magic_to_float(fold4(col));
  }
}

// ---------------------------------------------------------------- GEMM
// G groups of 4 activation rows (starting at group y0) against every column group: weights are
// decoded once per block and used for 4*G rows.
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
          const float32x4_t da = halves4(ab);
          unroll<0, 4>([&](auto row) {
            constexpr int M = decltype(row)::value;
            const int32x4_t isum = dot_cols4<W, B, M>(wq, aq);
            acc[4 * g + M] =
                vfmaq_f32(acc[4 * g + M], magic_to_float(isum), vmulq_laneq_f32(dw, da, M));
          });
        }
      }
      store_tile<G>(s, bs, y0, x * N + 4 * h, acc);
    }
  }
}

// ---------------------------------------------------------------- plain rows
template <class W>
[[gnu::always_inline]] inline float32x4_t plain_block4(const W& dec, const uint8_t* qs,
                                                       int64_t wrow, int8x16_t a0, int8x16_t a1,
                                                       int32_t off_sum) {
  if constexpr (W::kOffset != 0) {
    // Unsigned nibbles in int16 lanes; one add of kMagicBits - off_sum per block, converted by
    // magic_to_float (|dot| < 2^15).
    int16x8_t col[4];
    for (int j = 0; j < 4; ++j) {
      int8x16_t lo, hi;
      dec.decode(vld1q_u8(qs + j * wrow), lo, hi);
      col[j] = dot4_i16(lo, hi, a0, a1);
    }
    return magic_to_float(fold4(col, fresh_dup(kMagicBits - off_sum)));
  } else {
    int32x4_t col[4];
    for (int j = 0; j < 4; ++j) {
      int8x16_t lo, hi;
      dec.decode(vld1q_u8(qs + j * wrow), lo, hi);
      col[j] = dot2_i32(lo, hi, a0, a1, fresh_dup(kMagicBits / 4));
    }
    return magic_to_float(fold4(col));
  }
}

template <class W>
[[gnu::always_inline]] inline int32_t plain_block1(const W& dec, const uint8_t* qs, int8x16_t a0,
                                                   int8x16_t a1, int32_t off_sum) {
  int8x16_t lo, hi;
  dec.decode(vld1q_u8(qs), lo, hi);
  if constexpr (W::kOffset != 0) {
    return vaddlvq_s16(dot4_i16(lo, hi, a0, a1)) - off_sum;
  } else {
    return vaddvq_s32(dot2_i32(lo, hi, a0, a1, fresh_zero()));
  }
}

// ---------------------------------------------------------------- activation quantizers
// GGML's NEON rounding (quantize_row_q8_0 / ggml_quantize_mat_q8_0_4x{4,8} on ARM): per block of
// 32, d = amax / 127, multiplier id = 1/d (0 for an all-zero block), q = round-to-nearest-even of
// x * id (vcvtnq_s32_f32), d stored as fp16 (round to nearest even). The float side is xsimd on
// neon64; xsimd 8.1 has no narrowing, so the int32 -> int8 step is NEON.
using FloatBatch = xsimd::batch<float, xsimd::neon64>;

// One block of 32 floats -> q[0] (values 0..15), q[1] (16..31); returns d (fp32).
inline float quant_block(const float* x, int8x16_t q[2]) {
  FloatBatch v[8];
  for (int i = 0; i < 8; ++i) v[i] = FloatBatch::load_unaligned(x + 4 * i);
  FloatBatch amax = xsimd::abs(v[0]);
  for (int i = 1; i < 8; ++i) amax = xsimd::max(amax, xsimd::abs(v[i]));
  const float d = vmaxvq_f32(amax) / 127.f;
  const float id = d != 0.f ? 1.f / d : 0.f;
  const FloatBatch vid(id);
  int16x8_t h[4];
  for (int i = 0; i < 4; ++i) {
    const int32x4_t q0 = xsimd::nearbyint_as_int(v[2 * i] * vid);
    const int32x4_t q1 = xsimd::nearbyint_as_int(v[2 * i + 1] * vid);
    h[i] = vcombine_s16(vmovn_s32(q0), vmovn_s32(q1));
  }
  q[0] = vcombine_s8(vmovn_s16(h[0]), vmovn_s16(h[1]));
  q[1] = vcombine_s8(vmovn_s16(h[2]), vmovn_s16(h[3]));
  return d;
}

inline void store_half(uint8_t* p, float d) {
  const __fp16 h = static_cast<__fp16>(d);
  std::memcpy(p, &h, 2);
}

void quant_rows(const float* x, std::size_t x_stride, void* vy, int k, int nrows) {
  auto* y = static_cast<uint8_t*>(vy);
  const int nb = k / kBlockValues;
  for (int r = 0; r < nrows; ++r) {
    for (int l = 0; l < nb; ++l) {
      uint8_t* yb = y + (static_cast<int64_t>(r) * nb + l) * kQ8BlockBytes;
      int8x16_t q[2];
      store_half(yb, quant_block(x + r * x_stride + l * kBlockValues, q));
      vst1q_s8(reinterpret_cast<int8_t*>(yb + 2), q[0]);
      vst1q_s8(reinterpret_cast<int8_t*>(yb + 18), q[1]);
    }
  }
}

// 4 rows -> block_q8_0x4 with chunk B: the rows are quantized like quant_rows, then interleaved in
// registers (B = 4: 4x4 transpose of 32-bit lanes; B = 8: zips of 64-bit lanes).
template <int B>
void quant_x4(const float* x, std::size_t x_stride, void* vy, int k, int ngroups) {
  auto* y = static_cast<uint8_t*>(vy);
  const int nb = k / kBlockValues;
  for (int g = 0; g < ngroups; ++g) {
    for (int l = 0; l < nb; ++l) {
      uint8_t* yb = y + (static_cast<int64_t>(g) * nb + l) * kQ8x4BlockBytes;
      int8x16_t q[4][2];
      for (int m = 0; m < 4; ++m) {
        store_half(yb + 2 * m, quant_block(x + (4 * g + m) * x_stride + l * kBlockValues, q[m]));
      }
      auto* out = reinterpret_cast<int8_t*>(yb + 8);
      for (int half = 0; half < 2; ++half) {  // values 0..15, then 16..31
        if constexpr (B == 4) {
          const int32x4_t r0 = vreinterpretq_s32_s8(q[0][half]);
          const int32x4_t r1 = vreinterpretq_s32_s8(q[1][half]);
          const int32x4_t r2 = vreinterpretq_s32_s8(q[2][half]);
          const int32x4_t r3 = vreinterpretq_s32_s8(q[3][half]);
          const int64x2_t t0 = vreinterpretq_s64_s32(vtrn1q_s32(r0, r1));
          const int64x2_t t1 = vreinterpretq_s64_s32(vtrn2q_s32(r0, r1));
          const int64x2_t t2 = vreinterpretq_s64_s32(vtrn1q_s32(r2, r3));
          const int64x2_t t3 = vreinterpretq_s64_s32(vtrn2q_s32(r2, r3));
          vst1q_s8(out + 64 * half + 0, vreinterpretq_s8_s64(vtrn1q_s64(t0, t2)));
          vst1q_s8(out + 64 * half + 16, vreinterpretq_s8_s64(vtrn1q_s64(t1, t3)));
          vst1q_s8(out + 64 * half + 32, vreinterpretq_s8_s64(vtrn2q_s64(t0, t2)));
          vst1q_s8(out + 64 * half + 48, vreinterpretq_s8_s64(vtrn2q_s64(t1, t3)));
        } else {
          const int64x2_t r0 = vreinterpretq_s64_s8(q[0][half]);
          const int64x2_t r1 = vreinterpretq_s64_s8(q[1][half]);
          const int64x2_t r2 = vreinterpretq_s64_s8(q[2][half]);
          const int64x2_t r3 = vreinterpretq_s64_s8(q[3][half]);
          vst1q_s8(out + 64 * half + 0, vreinterpretq_s8_s64(vzip1q_s64(r0, r1)));
          vst1q_s8(out + 64 * half + 16, vreinterpretq_s8_s64(vzip1q_s64(r2, r3)));
          vst1q_s8(out + 64 * half + 32, vreinterpretq_s8_s64(vzip2q_s64(r0, r1)));
          vst1q_s8(out + 64 * half + 48, vreinterpretq_s8_s64(vzip2q_s64(r2, r3)));
        }
      }
    }
  }
}

}  // namespace

void fill_kernels_neon(KernelTable* t) {
  t->name = "neon";
  t->quant_rows = quant_rows;
  t->quant_x4[kChunk4] = quant_x4<4>;
  t->quant_x4[kChunk8] = quant_x4<8>;
  t->plain[kQ4_0] = plain<Q4_0Plain>;
  t->plain[kIQ4_NL] = plain<Iq4nl>;
  fill_gemv_entries<Q4_0Packed, Iq4nl>(t);
  fill_gemm_entries<Q4_0Packed, Iq4nl, 4>(t);
}

}  // namespace q4r
