// AVX-512 VNNI kernels (avx512f/bw/vl/dq/vnni): the GEMV / GEMM / plain template of
// lut_kernels_x86.inc with dpbusd products. Weights enter dpbusd unsigned for both types (Q4_0:
// the biased nibble; IQ4_NL: the codebook + 128 through pshufb), corrected exactly by
// offset * sum(activations) per block; no abs/sign trick, no int16 stage.
//
// 256-bit vectors (AVX512VL): Zen 4 executes 512-bit integer ops as two 256-bit halves, so 512-bit
// brings no extra multiply throughput there, while 256-bit keeps one code path with AVX2, the same
// 8-column units and gives the 32 vector registers of AVX-512. See docs/KERNELS.md.
//
// The activation quantizers are the AVX2 ones (every AVX-512 CPU has AVX2; quant_x86.h).
//
// Test-only emulation: compiled with Q4R_EMULATE_AVX512 (tests/avx512_emulated.cc), the same code
// builds against SIMDe with baseline flags, so the VNNI logic is tested on CPUs without AVX-512.
#if defined(Q4R_EMULATE_AVX512)
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#include <simde/x86/f16c.h>
#include <simde/x86/fma.h>
#define Q4R_AVX512_FILL fill_kernels_avx512vnni_emulated
#define Q4R_AVX512_NAME "avx512vnni-emulated"
// SIMDe's portable fmadd rounds twice; the block-FMA float model needs the single rounding of a
// real FMA, so the emulation does it lane by lane with fmaf.
namespace q4r {
namespace {
inline __m256 fmadd256_exact(__m256 a, __m256 b, __m256 c) {
  alignas(32) float x[8], y[8], z[8];
  _mm256_store_ps(x, a);
  _mm256_store_ps(y, b);
  _mm256_store_ps(z, c);
  for (int i = 0; i < 8; ++i) x[i] = __builtin_fmaf(x[i], y[i], z[i]);
  return _mm256_load_ps(x);
}
inline __m128 fmadd128_exact(__m128 a, __m128 b, __m128 c) {
  alignas(16) float x[4], y[4], z[4];
  _mm_store_ps(x, a);
  _mm_store_ps(y, b);
  _mm_store_ps(z, c);
  for (int i = 0; i < 4; ++i) x[i] = __builtin_fmaf(x[i], y[i], z[i]);
  return _mm_load_ps(x);
}
}  // namespace
}  // namespace q4r
#define Q4R_FMADD256 fmadd256_exact
#define Q4R_FMADD128 fmadd128_exact
#else
#include <immintrin.h>
#define Q4R_AVX512_FILL fill_kernels_avx512vnni
#define Q4R_AVX512_NAME "avx512vnni"
#endif

#include <cstddef>
#include <cstdint>

#include "kernel_table.h"
#include "x86/quant_x86.h"

#define Q4R_X86_VNNI 1
#include "x86/lut_kernels_x86.inc"

namespace q4r {

void Q4R_AVX512_FILL(KernelTable* t) {
  t->name = Q4R_AVX512_NAME;
#if !defined(Q4R_EMULATE_AVX512)
  // The emulated table is checked against scalar quantizers; AVX2 may be absent there.
  t->quant_rows = quant_rows_avx2;
  t->quant_x4[kChunk4] = quant_x4_chunk4_avx2;
  t->quant_x4[kChunk8] = quant_x4_chunk8_avx2;
#endif
  fill_matmul_kernels(t);
}

}  // namespace q4r
