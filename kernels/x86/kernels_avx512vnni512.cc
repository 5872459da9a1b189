// 512-bit AVX-512 VNNI kernels (zmm vpdpbusd): the 8x8 GEMV, multi-row GEMV and GEMM of
// zmm_kernels_x86.inc, for cores that execute zmm vpdpbusd at full rate (Intel Ice Lake-SP to
// Granite Rapids, AMD Zen 5). Only those entries: the dispatcher layers this table over the
// 256-bit VNNI one (kernels_avx512vnni.cc) where the CPU class says so (lib/run/dispatch.cc).
// Same flags as kernels_avx512vnni.cc (cmake/Q4rKernels.cmake); the same test-only SIMDe
// emulation (Q4R_EMULATE_AVX512, tests/kernels/avx512vnni512_emulated.cc).
#include "x86/avx512_intrinsics.h"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "kernel_table.h"

#define Q4R_X86_VNNI 1
#include "x86/lut_kernels_x86.inc"
#include "x86/zmm_kernels_x86.inc"

namespace q4r {

#if defined(Q4R_EMULATE_AVX512)
void fill_kernels_avx512vnni512_emulated(KernelTable* t) {
  t->name = "avx512vnni512-emulated";
  fill_zmm_kernels(t);
  fill_zmm_plain_kernels(t);
}
#else
void fill_kernels_avx512vnni512(KernelTable* t) {
  t->name = "avx512vnni512";
  fill_zmm_kernels(t);
  fill_zmm_plain_kernels(t);
}

namespace {

// Seconds for `iters` rounds of 12 independent vpdpbusd chains (enough to cover a 5-cycle latency
// at 2 per cycle) on vectors V; the result feeds a volatile sink so nothing is optimized away.
template <class V, V (*kDp)(V, V, V), V (*kSet1)(int)>
double time_dpbusd_chains(int iters) {
  volatile int seed = 0x01020304;
  const V a = kSet1(seed), b = kSet1(seed + 1);
  V acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = kSet1(i);
  const auto t0 = std::chrono::steady_clock::now();
  for (int it = 0; it < iters; ++it) {
    for (int i = 0; i < 12; ++i) acc[i] = kDp(acc[i], a, b);
    __asm__ volatile("" : : : "memory");
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  alignas(64) int32_t sink[16];
  V sum = acc[0];
  for (int i = 1; i < 12; ++i) sum = kDp(sum, acc[i], b);
  __builtin_memcpy(sink, &sum, sizeof sum);
  volatile int32_t keep = sink[0];
  (void)keep;
  return s;
}

__m256i dp256(__m256i c, __m256i a, __m256i b) {
  return _mm256_dpbusd_epi32(c, a, b);
}
__m512i dp512(__m512i c, __m512i a, __m512i b) {
  return _mm512_dpbusd_epi32(c, a, b);
}
__m256i set256(int v) {
  return _mm256_set1_epi32(v);
}
__m512i set512(int v) {
  return _mm512_set1_epi32(v);
}

}  // namespace

double probe_zmm_dpbusd_speedup() {
  // About 2 x 5 x 2 x 24k instructions: ~0.3 ms at 2 per cycle. Alternated, fastest of 5 each,
  // so that a preemption or a clock change hits neither side alone.
  constexpr int kIters = 2000;
  double t256 = 1e9, t512 = 1e9;
  for (int r = 0; r < 5; ++r) {
    t256 = std::min(t256, time_dpbusd_chains<__m256i, dp256, set256>(kIters));
    t512 = std::min(t512, time_dpbusd_chains<__m512i, dp512, set512>(kIters));
  }
  return t512 > 0 ? 2.0 * t256 / t512 : 1.0;  // a zmm instruction does twice the products
}
#endif

}  // namespace q4r
