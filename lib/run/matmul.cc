#include "matmul.h"

#include <algorithm>

#include "lib/format/formats.h"
#include "lib/format/repack.h"

namespace q4r {

WorkspacePlan plan_workspace(q4r_layout layout, int64_t n, int64_t m, int64_t k) {
  WorkspacePlan p{};
  const int rows = layout == Q4R_LAYOUT_PLAIN ? 1 : layout_shape(layout).rows;
  p.gemm_rows = layout == Q4R_LAYOUT_PLAIN ? 0 : m - m % 4;
  p.row_bytes = k / kBlockValues * kQ8BlockBytes;
  p.plain_copy = layout != Q4R_LAYOUT_PLAIN && n % rows != 0 && p.gemm_rows > 0;
  // A 4-row interleaved group has exactly the size of 4 plain rows.
  const std::size_t batch = static_cast<std::size_t>(m) * p.row_bytes;
  p.bytes = p.plain_copy ? 2 * batch : batch;
  p.plain_off = p.plain_copy ? batch : 0;
  return p;
}

void quantize_activation_rows(const KernelTable& kt, q4r_layout layout, int64_t n, const float* x,
                              std::size_t x_stride, int64_t m, int64_t k, int64_t r0, int64_t r1,
                              uint8_t* ws) {
  const WorkspacePlan p = plan_workspace(layout, n, m, k);
  const int ki = static_cast<int>(k);
  const int64_t g_end = std::min(r1, p.gemm_rows);
  if (r0 < g_end) {
    const int chunk = layout_shape(layout).chunk == 4 ? kChunk4 : kChunk8;
    kt.quant_x4[chunk](x + r0 * x_stride, x_stride, ws + r0 * p.row_bytes, ki,
                       static_cast<int>((g_end - r0) / 4));
  }
  const int64_t p0 = std::max(r0, p.gemm_rows);
  if (p0 < r1) {
    kt.quant_rows(x + p0 * x_stride, x_stride, ws + p0 * p.row_bytes, ki,
                  static_cast<int>(r1 - p0));
  }
  if (p.plain_copy) {
    kt.quant_rows(x + r0 * x_stride, x_stride, ws + p.plain_off + r0 * p.row_bytes, ki,
                  static_cast<int>(r1 - r0));
  }
}

void run_columns(const KernelTable& kt, q4r_type type, q4r_layout layout, const uint8_t* w,
                 int64_t n, int64_t k, const uint8_t* ws, int64_t m, float* y, std::size_t y_stride,
                 int64_t c0, int64_t c1) {
  const WorkspacePlan p = plan_workspace(layout, n, m, k);
  const int ki = static_cast<int>(k);
  const int64_t w_row_bytes = k / kBlockValues * kQ4BlockBytes;
  const int wt = type == Q4R_TYPE_Q4_0 ? kQ4_0 : kIQ4_NL;
  int64_t packed_end = c0;  // columns [c0, packed_end) go through the interleaved kernels
  if (layout != Q4R_LAYOUT_PLAIN) {
    const int rows = layout_shape(layout).rows;
    packed_end = std::min(c1, n / rows * rows);
    const int li = layout - Q4R_LAYOUT_4X4;
    // The m % 4 rows the GEMM leaves go through one multi-row GEMV, which decodes each weight
    // block once for all of them (docs/KERNELS.md); ISAs without one (scalar) call the GEMV per
    // row.
    const int64_t rem = m - p.gemm_rows;
    const GemvRowsFn gemv_rows = kt.gemv_rows[wt][li];
    // Column blocks whose weights stay in L2 while every activation row passes over them. 512 KiB
    // measured best on Zen 4 with the x86 kernels (docs/KERNELS.md: +5% over 256 KiB at M=512,
    // the activation preparation per kernel call is amortized over more columns). A batch of
    // 1 to 3 rows that one GEMV call serves reads every weight once anyway: it takes all columns
    // in one pass, without the per-block activation preparation (M=1 4096x4096 warm: -11% time).
    // Separate GEMVs keep the blocks, so that the second one reads the weights from L2.
    const bool one_pass = p.gemm_rows == 0 && (rem == 1 || gemv_rows);
    const int64_t block = one_pass
                              ? packed_end - c0
                              : std::max<int64_t>(rows, (512 * 1024 / w_row_bytes) / rows * rows);
    for (int64_t b0 = c0; b0 < packed_end; b0 += block) {
      const int nc = static_cast<int>(std::min(block, packed_end - b0));
      const uint8_t* wb = w + b0 * w_row_bytes;
      const int64_t r0 = p.gemm_rows;
      const GemmPlusRowsFn gemm_plus = kt.gemm_plus_rows[wt][li];
      if (p.gemm_rows > 0 && rem > 0 && gemm_plus) {
        // The leftover rows inside the GEMM's pass: no cliff after every multiple of 4.
        gemm_plus(ki, y + b0, y_stride, wb, ws, static_cast<int>(p.gemm_rows),
                  ws + r0 * p.row_bytes, static_cast<int>(rem), nc);
        continue;
      }
      if (p.gemm_rows > 0) {
        kt.gemm[wt][li](ki, y + b0, y_stride, wb, ws, static_cast<int>(p.gemm_rows), nc);
      }
      if (rem > 0 && gemv_rows) {
        gemv_rows(ki, y + r0 * y_stride + b0, y_stride, wb, ws + r0 * p.row_bytes,
                  static_cast<int>(rem), nc);
      } else {
        for (int64_t r = r0; r < m; ++r) {
          kt.gemv[wt][li](ki, y + r * y_stride + b0, wb, ws + r * p.row_bytes, nc);
        }
      }
    }
  }
  const int64_t t0 = std::max(c0, packed_end);
  if (t0 < c1) {
    kt.plain[wt](ki, y + t0, y_stride, w + t0 * w_row_bytes, static_cast<int>(c1 - t0),
                 ws + p.plain_off, static_cast<int>(m));
  }
}

}  // namespace q4r
