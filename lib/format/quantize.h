// Weight and activation quantizers, bit-exact with GGML's reference quantizers (FORMATS.md B.1).
// Compiled with -ffp-contract=off: every float operation is rounded separately, in source order.
// No argument checking here: the C API (api.cc) validates shapes and values first.
#ifndef Q4R_LIB_QUANTIZE_H_
#define Q4R_LIB_QUANTIZE_H_

#include <cstdint>

namespace q4r {

// One row of k values (k % 32 == 0) -> k/32 blocks.
// quantize_row_q4_0_ref: all-zero block -> d = 0x8000 (negative zero), bytes 0x88.
void quantize_row_q4_0_ref(const float* x, uint8_t* y, int64_t k);
// quantize_q4_0 with an importance matrix (quantize_row_q4_0_impl + make_qx_quants): sigma2 is
// taken over the whole row. imatrix has k entries.
void quantize_row_q4_0_imatrix(const float* x, uint8_t* y, int64_t k, const float* imatrix);
// quantize_iq4_nl: scale search with ntry = 7; imatrix may be null.
void quantize_row_iq4_nl(const float* x, uint8_t* y, int64_t k, const float* imatrix);
// quantize_row_q8_0_ref: d = amax/127, q = roundf(x / d) (ties away from zero).
void quantize_row_q8_0_ref(const float* x, uint8_t* y, int64_t k);

void dequantize_row_q4_0(const uint8_t* x, float* y, int64_t k);
void dequantize_row_iq4_nl(const uint8_t* x, float* y, int64_t k);
void dequantize_row_q8_0(const uint8_t* x, float* y, int64_t k);

// Interleave 4 plain Q8_0 rows (k/32 blocks each, row stride row_bytes) into k/32 block_q8_0x4
// with chunk bytes (4 or 8). Used by the scalar activation quantizer and the tests.
void interleave_q8_0_x4(const uint8_t* rows, int64_t row_bytes, uint8_t* y, int64_t k, int chunk);

}  // namespace q4r

#endif  // Q4R_LIB_QUANTIZE_H_
