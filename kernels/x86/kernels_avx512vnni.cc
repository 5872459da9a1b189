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
// Test-only emulation: compiled with Q4R_EMULATE_AVX512 (tests/kernels/avx512_emulated.cc), the
// same code builds against SIMDe with baseline flags (avx512_intrinsics.h), so the VNNI logic is
// tested on CPUs without AVX-512.
#include "x86/avx512_intrinsics.h"
#if defined(Q4R_EMULATE_AVX512)
#define Q4R_AVX512_FILL fill_kernels_avx512vnni_emulated
#define Q4R_AVX512_NAME "avx512vnni-emulated"
#else
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
