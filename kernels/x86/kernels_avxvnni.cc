// AVX-VNNI kernels (VEX-encoded 256-bit vpdpbusd, no AVX-512: Intel Alder Lake to Arrow Lake
// clients, Sierra Forest; also present on Zen 5 and Sapphire Rapids): the same 256-bit VNNI
// template as kernels_avx512vnni.cc (lut_kernels_x86.inc with Q4R_X86_VNNI = 1), compiled with
// -mavx2 -mfma -mf16c -mavxvnni only, so it runs on CPUs without AVX-512 (16 vector registers).
// The activation quantizers are the AVX2 ones (quant_x86.h).
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernel_table.h"
#include "x86/quant_x86.h"

#define Q4R_X86_VNNI 1
#define Q4R_DPBUSD256 _mm256_dpbusd_avx_epi32
#include "x86/lut_kernels_x86.inc"

namespace q4r {

void fill_kernels_avxvnni(KernelTable* t) {
  t->name = "avxvnni";
  t->quant_rows = quant_rows_avx2;
  t->quant_x4[kChunk4] = quant_x4_chunk4_avx2;
  t->quant_x4[kChunk8] = quant_x4_chunk8_avx2;
  fill_matmul_kernels(t);
}

}  // namespace q4r
