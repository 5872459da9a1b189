// Row interleaving (FORMATS.md Part A, B.2): a pure byte permutation plus, for Q4_0, XOR 0x88.
// No argument checking here: the C API validates first.
#ifndef Q4R_LIB_REPACK_H_
#define Q4R_LIB_REPACK_H_

#include <cstdint>

#include "formats.h"

namespace q4r {

// Rows per group and chunk bytes of a packed layout (q4r_layout values 1..3).
LayoutShape layout_shape(int layout);

// One row group: N plain rows (nb blocks each, contiguous, row stride nb*18) -> the group's
// nb interleaved blocks of 18*N bytes. src and dst must not overlap.
void pack_group(const uint8_t* src, uint8_t* dst, int64_t nb, LayoutShape shape, uint8_t xor_mask);
// The inverse of pack_group.
void unpack_group(const uint8_t* src, uint8_t* dst, int64_t nb, LayoutShape shape,
                  uint8_t xor_mask);

// Whole tensors of n rows: full groups are (un)packed, the last n % N rows copied unchanged.
// src and dst must not overlap.
void repack_tensor(const uint8_t* src, uint8_t* dst, int64_t n, int64_t k, LayoutShape shape,
                   uint8_t xor_mask);
void unpack_tensor(const uint8_t* src, uint8_t* dst, int64_t n, int64_t k, LayoutShape shape,
                   uint8_t xor_mask);
// In place, one group at a time through `scratch` (N * k/32 * 18 bytes).
void repack_tensor_inplace(uint8_t* data, uint8_t* scratch, int64_t n, int64_t k, LayoutShape shape,
                           uint8_t xor_mask);
void unpack_tensor_inplace(uint8_t* data, uint8_t* scratch, int64_t n, int64_t k, LayoutShape shape,
                           uint8_t xor_mask);

}  // namespace q4r

#endif  // Q4R_LIB_REPACK_H_
