// AVX2 (+FMA, F16C) kernels: the GEMV / GEMM / plain template of lut_kernels_x86.inc with
// maddubs+madd products, and the x86 activation quantizers (xsimd for the float side, intrinsics
// for packing). Built with -mavx2 -mfma -mf16c only (cmake/Q4rKernels.cmake).
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <xsimd/xsimd.hpp>

#include "kernel_table.h"
#include "x86/quant_x86.h"

#define Q4R_X86_VNNI 0
#include "x86/lut_kernels_x86.inc"

namespace q4r {
namespace {

using Arch = xsimd::fma3<xsimd::avx2>;
using FloatBatch = xsimd::batch<float, Arch>;

// GGML's x86 rule (quantize_row_q8_0 / ggml_quantize_mat_q8_0_4x8 on AVX2): d = amax/127 stored as
// fp16, values multiplied by 127/amax (not 1/d) and rounded to nearest even. Returns the 32 int8 in
// natural order.
inline __m256i quantize_block(const float* x, uint16_t* d) {
  FloatBatch v[4];
  for (int i = 0; i < 4; ++i) v[i] = FloatBatch::load_unaligned(x + 8 * i);
  const FloatBatch m = xsimd::max(xsimd::max(xsimd::abs(v[0]), xsimd::abs(v[1])),
                                  xsimd::max(xsimd::abs(v[2]), xsimd::abs(v[3])));
  // xsimd 8.1 has no reduce_max.
  __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  h = _mm_max_ps(h, _mm_movehl_ps(h, h));
  h = _mm_max_ss(h, _mm_movehdup_ps(h));
  const float amax = _mm_cvtss_f32(h);
  *d = static_cast<uint16_t>(_cvtss_sh(amax / 127.f, 0));
  const FloatBatch mul(amax != 0.f ? 127.f / amax : 0.f);
  __m256i q[4];
  for (int i = 0; i < 4; ++i) q[i] = xsimd::nearbyint_as_int(v[i] * mul);
  // Saturating packs interleave 128-bit lanes; the dword permutation restores element order.
  const __m256i p =
      _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
  return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

inline void store256(uint8_t* p, __m256i v) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v);
}

void quant_rows(const float* x, std::size_t x_stride, void* vy, int k, int nrows) {
  auto* y = static_cast<uint8_t*>(vy);
  const int nb = k / 32;
  for (int r = 0; r < nrows; ++r) {
    const float* xr = x + r * x_stride;
    uint8_t* yr = y + static_cast<int64_t>(r) * nb * kQ8Bytes;
    for (int l = 0; l < nb; ++l) {
      uint16_t d;
      const __m256i q = quantize_block(xr + 32 * l, &d);
      __builtin_memcpy(yr + l * kQ8Bytes, &d, 2);
      store256(yr + l * kQ8Bytes + 2, q);
    }
  }
}

// 4 rows of one block -> block_q8_0x4 with B-byte chunks: chunk c of row r at (4c + r) * B, i.e. a
// 4 x (32/B) transpose of B-byte elements.
template <int B>
void quant_x4(const float* x, std::size_t x_stride, void* vy, int k, int ngroups) {
  auto* y = static_cast<uint8_t*>(vy);
  const int nb = k / 32;
  for (int g = 0; g < ngroups; ++g) {
    const float* xg = x + 4 * g * x_stride;
    for (int l = 0; l < nb; ++l) {
      uint8_t* out = y + (static_cast<int64_t>(g) * nb + l) * kQ8x4Bytes;
      uint16_t d[4];
      __m256i q[4];
      for (int r = 0; r < 4; ++r) q[r] = quantize_block(xg + r * x_stride + 32 * l, &d[r]);
      __builtin_memcpy(out, d, 8);
      if constexpr (B == 8) {
        const __m256i lo01 = _mm256_unpacklo_epi64(q[0], q[1]);  // q0.0 q1.0 | q0.2 q1.2
        const __m256i hi01 = _mm256_unpackhi_epi64(q[0], q[1]);  // q0.1 q1.1 | q0.3 q1.3
        const __m256i lo23 = _mm256_unpacklo_epi64(q[2], q[3]);
        const __m256i hi23 = _mm256_unpackhi_epi64(q[2], q[3]);
        store256(out + 8, _mm256_permute2x128_si256(lo01, lo23, 0x20));
        store256(out + 40, _mm256_permute2x128_si256(hi01, hi23, 0x20));
        store256(out + 72, _mm256_permute2x128_si256(lo01, lo23, 0x31));
        store256(out + 104, _mm256_permute2x128_si256(hi01, hi23, 0x31));
      } else {
        const __m256i l01 = _mm256_unpacklo_epi32(q[0], q[1]);  // q0.0 q1.0 q0.1 q1.1 | .4 .5
        const __m256i h01 = _mm256_unpackhi_epi32(q[0], q[1]);  // q0.2 q1.2 q0.3 q1.3 | .6 .7
        const __m256i l23 = _mm256_unpacklo_epi32(q[2], q[3]);
        const __m256i h23 = _mm256_unpackhi_epi32(q[2], q[3]);
        const __m256i d0 = _mm256_unpacklo_epi64(l01, l23);  // dword 0 of rows 0-3 | dword 4
        const __m256i d1 = _mm256_unpackhi_epi64(l01, l23);  // dword 1 | dword 5
        const __m256i d2 = _mm256_unpacklo_epi64(h01, h23);  // dword 2 | dword 6
        const __m256i d3 = _mm256_unpackhi_epi64(h01, h23);  // dword 3 | dword 7
        store256(out + 8, _mm256_permute2x128_si256(d0, d1, 0x20));
        store256(out + 40, _mm256_permute2x128_si256(d2, d3, 0x20));
        store256(out + 72, _mm256_permute2x128_si256(d0, d1, 0x31));
        store256(out + 104, _mm256_permute2x128_si256(d2, d3, 0x31));
      }
    }
  }
}

}  // namespace

void quant_rows_avx2(const float* x, std::size_t x_stride, void* y, int k, int nrows) {
  quant_rows(x, x_stride, y, k, nrows);
}
void quant_x4_chunk4_avx2(const float* x, std::size_t x_stride, void* y, int k, int ngroups) {
  quant_x4<4>(x, x_stride, y, k, ngroups);
}
void quant_x4_chunk8_avx2(const float* x, std::size_t x_stride, void* y, int k, int ngroups) {
  quant_x4<8>(x, x_stride, y, k, ngroups);
}

void fill_kernels_avx2(KernelTable* t) {
  t->name = "avx2";
  t->quant_rows = quant_rows_avx2;
  t->quant_x4[kChunk4] = quant_x4_chunk4_avx2;
  t->quant_x4[kChunk8] = quant_x4_chunk8_avx2;
  fill_matmul_kernels(t);
}

}  // namespace q4r
