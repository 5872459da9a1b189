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
  // The activation scales as floats, converted once per block and group for every column group
  // (FCVTL is two micro-ops on the pipes the SDOTs use); a long row goes chunk by chunk, each
  // chunk continuing the sums the previous one stored in s (the same float operations in order).
  constexpr int kChunk = 64;
  float32x4_t da_f[kChunk * G];
  const W dec;
  for (int l0 = 0; l0 < nb; l0 += kChunk) {
    const int nl = nb - l0 < kChunk ? nb - l0 : kChunk;
    for (int l = 0; l < nl; ++l) {
      for (int g = 0; g < G; ++g) {
        da_f[l * G + g] =
            halves4(a + (static_cast<int64_t>(y0 + g) * nb + l0 + l) * kQ8x4BlockBytes);
      }
    }
    for (int x = 0; x < nc / N; ++x) {
      for (int h = 0; h < N / 4; ++h) {
        float32x4_t acc[4 * G];
        if (l0 == 0) {
          for (int i = 0; i < 4 * G; ++i) acc[i] = vdupq_n_f32(0.f);
        } else {
          load_tile<G>(s, bs, y0, x * N + 4 * h, acc);
        }
        const float32x4_t* daf = da_f;
        for (int l = l0; l < l0 + nl; ++l, daf += G) {
          const uint8_t* wb = w + (static_cast<int64_t>(x) * nb + l) * kQ4BlockBytes * N;
          int8x16_t wq[8];
          load_weights<W, N, B>(dec, wb + 2 * N, h, wq);
          const float32x4_t dw = W::weight_scale(halves4(wb + 8 * h));
          unroll<0, G>([&](auto group) {  // unrolled: acc[] must stay in registers
            constexpr int g = decltype(group)::value;
            const uint8_t* ab = a + (static_cast<int64_t>(y0 + g) * nb + l) * kQ8x4BlockBytes;
            const auto* aq = reinterpret_cast<const int8_t*>(ab + 8);
            const float32x4_t da = daf[g];
            unroll<0, 2>([&](auto pair) {  // rows 2p, 2p+1: two live chains
              constexpr int P = decltype(pair)::value;
              int32x4_t isum[2] = {fresh_zero(), fresh_zero()};
              // B = 4 loads every activation vector once per pair: the opaque pointer keeps the
              // compiler from merging the two loads into one register live across both pairs.
              const int8_t* ap = aq;
              asm volatile("" : "+r"(ap));
              unroll<0, 8>([&](auto vec) {
                constexpr int V = decltype(vec)::value;
                if constexpr (B == 4 || V % 2 == P) {  // B = 8: vectors of rows 2p, 2p+1
                  const int8x16_t av = vld1q_s8(ap + 16 * V);
                  unroll<0, 4>([&](auto ln) {
                    constexpr int L = decltype(ln)::value;
                    constexpr int M = lane_row(B, V, L);
                    if constexpr (M / 2 == P) {
                      isum[M % 2] = vdotq_laneq_s32(isum[M % 2], wq[lane_quad(B, V, L)], av, L);
                    }
                  });
                }
              });
              unroll<0, 2>([&](auto row) {
                constexpr int M = 2 * P + decltype(row)::value;
                acc[4 * g + M] =
                    vfmaq_f32(acc[4 * g + M], to_float<W>(isum[M % 2]), vmulq_laneq_f32(dw, da, M));
              });
            });
          });
        }
        store_tile<G>(s, bs, y0, x * N + 4 * h, acc);
      }
    }
  }
}

// ---------------------------------------------------------------- plain rows
// One SDOT chain per weight row (4 int32 partials) from acc (a fresh chain: fresh_zero or
// fresh_dup, integer DUPs, no vector micro-op).
template <class W>
inline int32x4_t plain_partials(const W& dec, const uint8_t* qs, int8x16_t a0, int8x16_t a1,
                                int32x4_t acc) {
  int8x16_t lo, hi;
  dec.decode(vld1q_u8(qs), lo, hi);
  return vdotq_s32(vdotq_s32(acc, lo, a0), hi, a1);
}

// Q4_0 (kOffset): the 4 chains of a row start at (kMagicBits - off_sum) / 4 in every lane, so the
// folded sum is kMagicBits + dot - off_sum, converted by magic_to_float (|dot| < 2^15). IQ4_NL:
// chains from 0, fixed-point SCVTF (to_float).
template <class W>
[[gnu::always_inline]] inline float32x4_t plain_block4(const W& dec, const uint8_t* qs,
                                                       int64_t wrow, int8x16_t a0, int8x16_t a1,
                                                       int32_t off_sum) {
  static_assert(W::kOffset % 4 == 0 && kMagicBits % 4 == 0, "exact quarters (shifts)");
  int32x4_t part[4];
  for (int j = 0; j < 4; ++j) {
    const int32x4_t acc =
        W::kOffset != 0 ? fresh_dup((kMagicBits >> 2) - (off_sum >> 2)) : fresh_zero();
    part[j] = plain_partials(dec, qs + j * wrow, a0, a1, acc);
  }
  const int32x4_t sum = vpaddq_s32(vpaddq_s32(part[0], part[1]), vpaddq_s32(part[2], part[3]));
  if constexpr (W::kOffset != 0) {
    return magic_to_float(sum);
  } else {
    return to_float<W>(sum);
  }
}

template <class W>
[[gnu::always_inline]] inline int32_t plain_block1(const W& dec, const uint8_t* qs, int8x16_t a0,
                                                   int8x16_t a1, int32_t off_sum) {
  const int32x4_t acc = W::kOffset != 0 ? fresh_dup(-(off_sum >> 2)) : fresh_zero();
  return vaddvq_s32(plain_partials(dec, qs, a0, a1, acc));
}

}  // namespace

void fill_kernels_dotprod(KernelTable* t) {
  fill_kernels_neon(t);  // the shared ARM activation quantizers
  t->name = "dotprod";
  t->plain[kQ4_0] = plain<Q4_0Plain>;
  t->plain[kIQ4_NL] = plain<Iq4nl>;
  fill_gemv_entries<Q4_0Packed, Iq4nl>(t);
  fill_gemm_entries<Q4_0Packed, Iq4nl, 4>(t);
}

}  // namespace q4r
