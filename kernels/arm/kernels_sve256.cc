// SVE kernels for a 256-bit vector length (Neoverse V1 / Graviton 3, A64FX class), built with
// -march=armv8.2-a+dotprod+i8mm+sve -msve-vector-bits=256: every SVE type here is exactly 256 bits,
// so this file's code is only correct where svcntb() == 32. The dispatcher selects the level only
// then (lib/dispatch.cc); other vector lengths keep the i8mm / dotprod kernels. Only the 8x8 layout
// (the one GGML uses on such CPUs) gets SVE kernels: the GEMV (and multi-row GEMV) with SDOT and
// the GEMM with SMMLA; every other entry comes from the i8mm level.
//
// 8x8 blocks (FORMATS.md B.2): 16 bytes of fp16 scales, then 128 quant bytes; bytes 0-63 hold
// quant bytes 0-7 of columns 0..7 (8 each), bytes 64-127 quant bytes 8-15. One 256-bit vector is
// 32 bytes = 4 columns x 8 bytes.
//
// Float order per block and output: acc = fma(float(isum), dW * dA, acc) with an exact isum, as in
// the NEON levels. Q4_0 nibbles are decoded x16 (shift / mask) and the 1/16 is folded into dW
// (exact: a power of two), since SVE's SCVTF has no fixed-point form.
#include <arm_neon.h>
#include <arm_sve.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernel_table.h"
#include "lib/format/formats.h"
#include "arm/arm_common.inc"

#if !defined(__ARM_FEATURE_SVE_BITS) || __ARM_FEATURE_SVE_BITS != 256
#error "kernels_sve256.cc must be compiled with -msve-vector-bits=256"
#endif

namespace q4r {
namespace {

using VU8 = svuint8_t __attribute__((arm_sve_vector_bits(256)));
using VI8 = svint8_t __attribute__((arm_sve_vector_bits(256)));
using VI32 = svint32_t __attribute__((arm_sve_vector_bits(256)));
using VF32 = svfloat32_t __attribute__((arm_sve_vector_bits(256)));

inline svbool_t all8() {
  return svptrue_b8();
}
inline svbool_t all32() {
  return svptrue_b32();
}

// Integer dot chains start at kMagicBits (arm_common.inc) instead of 0: 0x4B400000 is the float
// 1.5 * 2^23 = kMagic, so a chain holding kMagicBits + isum is, read as a float, exactly
// kMagic + isum for |isum| < 2^22 (|isum| < 2^20 here: 32 products of at most 128 * 128, x16 for
// Q4_0), and one FSUB gives the exact float(isum). SVE's SCVTF costs two micro-ops (one on
// Neoverse V1's V0 pipe only); the FSUB one. The start value is duplicated from a general register
// (an integer pipe; volatile, so that the chains get their own registers instead of one shared
// constant plus a vector MOV each).
inline VI32 fresh_chain(int32_t start) {
  VI32 z;
  asm volatile("mov %0.s, %w1" : "=w"(z) : "r"(start));
  return z;
}
// For chains whose 32-bit lane pairs are added up at the end (the GEMV): the start value in the
// even lanes only.
inline VI32 fresh_pair_chain(int32_t start) {
  VI32 z;
  asm volatile("mov %0.d, %x1"
               : "=w"(z)
               : "r"(static_cast<uint64_t>(static_cast<uint32_t>(start))));
  return z;
}
inline VF32 chain_to_float(VI32 chain) {
  return svsub_n_f32_x(all32(), svreinterpret_f32_s32(chain), kMagic);
}

// A constant vector the compiler cannot see through: AND with an immediate is destructive in SVE,
// so with the mask in a register the decode needs no MOVPRFX copy per vector.
inline VU8 opaque_u8(uint8_t v) {
  VU8 r = svdup_n_u8(v);
  asm("" : "+w"(r));
  return r;
}

struct SveQ4_0 {  // XORed nibbles, decoded x16; the 1/16 goes into the weight scale
  SveQ4_0() : high(opaque_u8(0xF0)) {}
  VU8 high;
  static VF32 weight_scale(VF32 d) { return svmul_n_f32_x(all32(), d, 0.0625f); }
  void decode(VU8 b, VI8& lo, VI8& hi) const {
    lo = svreinterpret_s8_u8(svlsl_n_u8_x(all8(), b, 4));
    hi = svreinterpret_s8_u8(svand_u8_x(all8(), b, high));
  }
};
struct SveIq4nl {  // codebook lookup (TBL on the first 16 bytes of the table vector)
  SveIq4nl() : table(svld1rq_s8(all8(), kIq4nlValues)), low(opaque_u8(0x0F)) {}
  VI8 table;
  VU8 low;
  static VF32 weight_scale(VF32 d) { return d; }
  void decode(VU8 b, VI8& lo, VI8& hi) const {
    lo = svtbl_s8(table, svand_u8_x(all8(), b, low));
    hi = svtbl_s8(table, svlsr_n_u8_x(all8(), b, 4));
  }
};

// The 8 fp16 weight scales of a block, as fp32 lanes 0..7 (times the decoder's factor).
template <class W>
inline VF32 weight_scales(const uint8_t* wb) {
  const svfloat16_t h =
      svreinterpret_f16_u32(svld1uh_u32(all32(), reinterpret_cast<const uint16_t*>(wb)));
  return W::weight_scale(svcvt_f32_f16_x(all32(), h));
}

// ---------------------------------------------------------------- GEMV
// R (1 to 3) plain activation rows against nc columns (8 per group). Per block: the 4 quant vectors
// (columns 0-3 / 4-7 x bytes 0-7 / 8-15) are decoded once for the R rows; each 64-bit lane of a
// weight vector holds 8 k of one column, so SDOT against an activation octet replicated to every
// 64-bit lane (LD1RD) leaves two partial sums per column, which UZP1/UZP2 + ADD fold into the 8
// columns. Row r writes s[r * bs + c], exactly what R single-row calls write.
template <class W, int N, int B, int R>
void gemv_rows(int k, float* s, std::size_t bs, const void* vw, const void* va, int nc) {
  static_assert(N == 8 && B == 8, "SVE 256 kernels exist for the 8x8 layout only");
  const int nb = k / kBlockValues;
  const auto* w = static_cast<const uint8_t*>(vw);
  const auto* a = static_cast<const uint8_t*>(va);
  const int64_t a_row = static_cast<int64_t>(nb) * kQ8BlockBytes;
  const W dec;
  for (int x = 0; x < nc / 8; ++x) {
    VF32 sumf[R];
    for (int r = 0; r < R; ++r) sumf[r] = svdup_n_f32(0.f);
    const uint8_t* wb = w + static_cast<int64_t>(x) * nb * kQ4BlockBytes * 8;
    for (int l = 0; l < nb; ++l, wb += kQ4BlockBytes * 8) {
      VI8 lo[4], hi[4];  // [cols 0-3 bytes 0-7, cols 4-7 bytes 0-7, cols 0-3 8-15, cols 4-7 8-15]
      for (int i = 0; i < 4; ++i) dec.decode(svld1_u8(all8(), wb + 16 + 32 * i), lo[i], hi[i]);
      const VF32 dw = weight_scales<W>(wb);
      for (int r = 0; r < R; ++r) {
        const uint8_t* ab = a + r * a_row + static_cast<int64_t>(l) * kQ8BlockBytes;
        VI8 act[4];  // k-octet o (ab + 2 + 8o) in every 64-bit lane (LD1RD)
        for (int o = 0; o < 4; ++o) {
          int64_t octet;
          std::memcpy(&octet, ab + 2 + 8 * o, 8);
          act[o] = svreinterpret_s8_s64(svdup_n_s64(octet));
        }
        // Columns 0-3 and 4-7; UZP1 + UZP2 + ADD sum each column's lane pair (start value once).
        VI32 c0 = fresh_pair_chain(kMagicBits), c1 = fresh_pair_chain(kMagicBits);
        c0 = svdot_s32(c0, lo[0], act[0]);  // k 0-7 (low nibbles of bytes 0-7)
        c1 = svdot_s32(c1, lo[1], act[0]);
        c0 = svdot_s32(c0, lo[2], act[1]);  // k 8-15
        c1 = svdot_s32(c1, lo[3], act[1]);
        c0 = svdot_s32(c0, hi[0], act[2]);  // k 16-23
        c1 = svdot_s32(c1, hi[1], act[2]);
        c0 = svdot_s32(c0, hi[2], act[3]);  // k 24-31
        c1 = svdot_s32(c1, hi[3], act[3]);
        const VI32 isum = svadd_s32_x(all32(), svuzp1_s32(c0, c1), svuzp2_s32(c0, c1));
        const VF32 scale = svmul_n_f32_x(all32(), dw, half_at(ab));
        sumf[r] = svmla_f32_x(all32(), sumf[r], chain_to_float(isum), scale);
      }
    }
    for (int r = 0; r < R; ++r) svst1_f32(all32(), s + r * bs + x * 8, sumf[r]);
  }
}

#include "gemv_entries.inc"

// ---------------------------------------------------------------- GEMM
// G groups of 4 activation rows (from group y0) against every 8-column group, 4 columns (two
// column pairs) at a time. SMMLA on 256 bits does one 2x2 tile per 128-bit segment: the activation
// octet vector holds rows (0,1) in segment 0 and rows (2,3) in segment 1 (block_q8_0x4 with chunk
// 8 as stored), and the weight column pair is replicated to both segments by LD1RQB, so one SMMLA
// gives [rows 0,1 x pair | rows 2,3 x pair]. Floats stay in that tile form, scaled by
// [dc dc+1 dc dc+1 | ...] x [da0 da0 da1 da1 | da2 da2 da3 da3] (the same products dW * dA), and
// become rows at the store.
template <class W, int N, int B, int G>
void gemm_rows(int nb, float* s, std::size_t bs, const uint8_t* w, const uint8_t* a, int y0,
               int nc) {
  static_assert(N == 8 && B == 8, "SVE 256 kernels exist for the 8x8 layout only");
  const W dec;
  for (int x = 0; x < nc / 8; ++x) {
    unroll<0, 2>([&](auto half) {  // unrolled: the scale lanes (2h, 2h + 1) are constants
      constexpr int h = decltype(half)::value;
      VF32 acc[G][2];  // [group][column pair]
      for (int g = 0; g < G; ++g) acc[g][0] = acc[g][1] = svdup_n_f32(0.f);
      for (int l = 0; l < nb; ++l) {
        const uint8_t* wb = w + (static_cast<int64_t>(x) * nb + l) * kQ4BlockBytes * 8;
        VI8 wp[2][4];  // [pair][k-octet], the pair's 16 bytes in both segments
        for (int p = 0; p < 2; ++p) {
          const uint8_t* q = wb + 16 + 32 * h + 16 * p;
          dec.decode(svld1rq_u8(all8(), q), wp[p][0], wp[p][2]);       // k 0-7, 16-23
          dec.decode(svld1rq_u8(all8(), q + 64), wp[p][1], wp[p][3]);  // k 8-15, 24-31
        }
        const svfloat64_t dw = svreinterpret_f64_f32(weight_scales<W>(wb));
        const VF32 dwp[2] = {svreinterpret_f32_f64(svdup_lane_f64(dw, 2 * h)),
                             svreinterpret_f32_f64(svdup_lane_f64(dw, 2 * h + 1))};
        unroll<0, G>([&](auto group) {  // unrolled: acc[] must stay in registers
          constexpr int g = decltype(group)::value;
          const uint8_t* ab = a + (static_cast<int64_t>(y0 + g) * nb + l) * kQ8x4BlockBytes;
          VI32 t0 = fresh_chain(kMagicBits), t1 = fresh_chain(kMagicBits);
          unroll<0, 4>([&](auto octet) {
            constexpr int o = decltype(octet)::value;
            const VI8 av = svld1_s8(all8(), reinterpret_cast<const int8_t*>(ab + 8 + 32 * o));
            t0 = svmmla_s32(t0, av, wp[0][o]);
            t1 = svmmla_s32(t1, av, wp[1][o]);
          });
          const svfloat16_t dah =
              svreinterpret_f16_u32(svld1uh_u32(all32(), reinterpret_cast<const uint16_t*>(ab)));
          const VF32 da = svcvt_f32_f16_x(all32(), dah);  // lanes 0-3 used
          const VF32 dap = svzip1_f32(da, da);            // [da0 da0 da1 da1 | da2 da2 da3 da3]
          acc[g][0] = svmla_f32_x(all32(), acc[g][0], chain_to_float(t0),
                                  svmul_f32_x(all32(), dwp[0], dap));
          acc[g][1] = svmla_f32_x(all32(), acc[g][1], chain_to_float(t1),
                                  svmul_f32_x(all32(), dwp[1], dap));
        });
      }
      // 64-bit lane r of a tile = row r's two columns of the pair: zip the pairs into rows.
      const int col = x * 8 + 4 * h;
      for (int g = 0; g < G; ++g) {
        const svfloat64_t p0 = svreinterpret_f64_f32(acc[g][0]);
        const svfloat64_t p1 = svreinterpret_f64_f32(acc[g][1]);
        const VF32 rows01 = svreinterpret_f32_f64(svzip1_f64(p0, p1));
        const VF32 rows23 = svreinterpret_f32_f64(svzip2_f64(p0, p1));
        const svbool_t first4 = svwhilelt_b32(0, 4);
        float* row = s + static_cast<std::size_t>(4 * (y0 + g)) * bs + col;
        svst1_f32(first4, row, rows01);
        svst1_f32(first4, row + bs, svext_f32(rows01, rows01, 4));
        svst1_f32(first4, row + 2 * bs, rows23);
        svst1_f32(first4, row + 3 * bs, svext_f32(rows23, rows23, 4));
      }
    });
  }
}

}  // namespace

void fill_kernels_sve256(KernelTable* t) {
  fill_kernels_i8mm(t);  // every other entry, the quantizers included
  t->name = "sve256";
  t->gemv[kQ4_0][k8x8] = gemv<SveQ4_0, 8, 8>;
  t->gemv[kIQ4_NL][k8x8] = gemv<SveIq4nl, 8, 8>;
  t->gemv_rows[kQ4_0][k8x8] = gemv_n<SveQ4_0, 8, 8>;
  t->gemv_rows[kIQ4_NL][k8x8] = gemv_n<SveIq4nl, 8, 8>;
  t->gemm[kQ4_0][k8x8] = gemm<SveQ4_0, 8, 8, 4>;
  t->gemm[kIQ4_NL][k8x8] = gemm<SveIq4nl, 8, 8, 4>;
}

}  // namespace q4r
