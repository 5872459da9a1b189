// The AVX2 activation quantizers (defined in kernels_avx2.cc). The AVX-512 table reuses them: every
// AVX-512 CPU has AVX2, and it keeps one x86 rounding rule (GGML's: multiplier 127/amax, round to
// nearest even) for both tables. Plain declarations only: nothing inline is shared.
#ifndef Q4R_KERNELS_X86_QUANT_X86_H_
#define Q4R_KERNELS_X86_QUANT_X86_H_

#include <cstddef>

namespace q4r {

void quant_rows_avx2(const float* x, std::size_t x_stride, void* y, int k, int nrows);
void quant_x4_chunk4_avx2(const float* x, std::size_t x_stride, void* y, int k, int ngroups);
void quant_x4_chunk8_avx2(const float* x, std::size_t x_stride, void* y, int k, int ngroups);

}  // namespace q4r

#endif  // Q4R_KERNELS_X86_QUANT_X86_H_
