// The intrinsics of the AVX-512 kernel files: <immintrin.h>, or, for the test-only emulated build
// (Q4R_EMULATE_AVX512, tests/avx512*_emulated.cc), SIMDe with native aliases and baseline flags,
// so that the AVX-512 logic is tested on CPUs (and qemu models) without AVX-512. Included first by
// each AVX-512 kernel file; defines nothing that baseline library code uses.
#ifndef Q4R_KERNELS_X86_AVX512_INTRINSICS_H_
#define Q4R_KERNELS_X86_AVX512_INTRINSICS_H_

#if defined(Q4R_EMULATE_AVX512)
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#include <simde/x86/f16c.h>
#include <simde/x86/fma.h>

namespace q4r {
namespace {
// SIMDe's portable fmadd rounds twice; the block-FMA float model needs the single rounding of a
// real FMA, so the emulation does it lane by lane with fmaf.
template <class V, int kLanes>
inline V fmadd_exact(V a, V b, V c) {
  alignas(64) float x[kLanes], y[kLanes], z[kLanes];
  __builtin_memcpy(x, &a, sizeof x);
  __builtin_memcpy(y, &b, sizeof y);
  __builtin_memcpy(z, &c, sizeof z);
  for (int i = 0; i < kLanes; ++i) x[i] = __builtin_fmaf(x[i], y[i], z[i]);
  __builtin_memcpy(&a, x, sizeof x);
  return a;
}
inline __m128 fmadd128_exact(__m128 a, __m128 b, __m128 c) {
  return fmadd_exact<__m128, 4>(a, b, c);
}
inline __m256 fmadd256_exact(__m256 a, __m256 b, __m256 c) {
  return fmadd_exact<__m256, 8>(a, b, c);
}
inline __m512 fmadd512_exact(__m512 a, __m512 b, __m512 c) {
  return fmadd_exact<__m512, 16>(a, b, c);
}
}  // namespace
}  // namespace q4r
#define Q4R_FMADD128 fmadd128_exact
#define Q4R_FMADD256 fmadd256_exact
#define Q4R_FMADD512 fmadd512_exact
#else
#include <immintrin.h>
#endif

#endif  // Q4R_KERNELS_X86_AVX512_INTRINSICS_H_
