// The matmul driver: activation workspace layout, quantization of activation rows, and the
// column-range runner that calls GEMM / GEMV / plain kernels (FORMATS.md B.4.4, Part A tails).
// No argument checking here: the C API validates first.
#ifndef Q4R_LIB_MATMUL_H_
#define Q4R_LIB_MATMUL_H_

#include <cstddef>
#include <cstdint>

#include "kernels/kernel_table.h"
#include "q4repack/q4repack.h"

namespace q4r {

// Where the quantized activations of one batch live in the workspace.
struct WorkspacePlan {
  int64_t gemm_rows;      // m - m % 4 for packed layouts, 0 for plain
  int64_t row_bytes;      // k/32 * 34
  bool plain_copy;        // packed layout with a plain weight tail and gemm_rows > 0
  std::size_t bytes;      // total workspace size
  std::size_t plain_off;  // offset of m plain rows used by the plain kernel
};
WorkspacePlan plan_workspace(q4r_layout layout, int64_t n, int64_t m, int64_t k);

// Quantizes activation rows [r0, r1) into the workspace (r0 % 4 == 0; r1 % 4 == 0 or r1 == m).
void quantize_activation_rows(const KernelTable& kt, q4r_layout layout, int64_t n, const float* x,
                              std::size_t x_stride, int64_t m, int64_t k, int64_t r0, int64_t r1,
                              uint8_t* ws);

// Output columns [c0, c1) of Y = X * W^T from a quantized workspace. c0 is a multiple of the
// layout's N; c1 a multiple of N or n.
void run_columns(const KernelTable& kt, q4r_type type, q4r_layout layout, const uint8_t* w,
                 int64_t n, int64_t k, const uint8_t* ws, int64_t m, float* y, std::size_t y_stride,
                 int64_t c0, int64_t c1);

}  // namespace q4r

#endif  // Q4R_LIB_MATMUL_H_
