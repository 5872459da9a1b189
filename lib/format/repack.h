// Row interleaving (FORMATS.md Part A, B.2): a pure byte permutation plus, for Q4_0, XOR 0x88.
// No argument checking here: the C API validates first.
//
// A tensor of n rows is cut into row groups of N rows (N = shape.rows); there are
// ceil(n / N) groups and, when N does not divide n, the last one is the plain tail (its rows are
// copied unchanged, or left as they are in place). Each group occupies the same bytes before and
// after: [g * N * row_bytes, ...). The *_groups functions do groups [g0, g1) only, so disjoint
// ranges of one tensor may run on different threads at once.
#ifndef Q4R_LIB_REPACK_H_
#define Q4R_LIB_REPACK_H_

#include <cstdint>

#include "formats.h"
#include "q4repack/q4repack.h"

namespace q4r {

// Rows per group and chunk bytes of a packed layout (q4r_layout values 1..3).
LayoutShape layout_shape(int layout);

// The byte XORed into every quant byte when repacking `type`: 0x88 for Q4_0, none for IQ4_NL.
inline uint8_t repack_xor_mask(q4r_type type) {
  return type == Q4R_TYPE_Q4_0 ? kQ4_0RepackXor : 0;
}

// Row groups of a tensor of n rows, the plain tail counted as one: ceil(n / N).
int64_t row_groups(int64_t n, LayoutShape shape);
// Bytes of one full row group: N rows of k/32 blocks.
int64_t group_bytes(int64_t k, LayoutShape shape);

// One row group: N plain rows (nb blocks each, contiguous, row stride nb*18) -> the group's
// nb interleaved blocks of 18*N bytes. src and dst must not overlap.
void pack_group(const uint8_t* src, uint8_t* dst, int64_t nb, LayoutShape shape, uint8_t xor_mask);
// The inverse of pack_group.
void unpack_group(const uint8_t* src, uint8_t* dst, int64_t nb, LayoutShape shape,
                  uint8_t xor_mask);

// Groups [g0, g1) of a tensor of n rows; src and dst are the whole tensor's buffers and must not
// overlap. 0 <= g0 <= g1 <= row_groups(n, shape).
void repack_groups(const uint8_t* src, uint8_t* dst, int64_t n, int64_t k, LayoutShape shape,
                   uint8_t xor_mask, int64_t g0, int64_t g1);
void unpack_groups(const uint8_t* src, uint8_t* dst, int64_t n, int64_t k, LayoutShape shape,
                   uint8_t xor_mask, int64_t g0, int64_t g1);
// In place, one group at a time through `scratch` (group_bytes(k, shape) bytes).
void repack_groups_inplace(uint8_t* data, uint8_t* scratch, int64_t n, int64_t k, LayoutShape shape,
                           uint8_t xor_mask, int64_t g0, int64_t g1);
void unpack_groups_inplace(uint8_t* data, uint8_t* scratch, int64_t n, int64_t k, LayoutShape shape,
                           uint8_t xor_mask, int64_t g0, int64_t g1);

// Whole tensors of n rows: all groups of the functions above.
void repack_tensor(const uint8_t* src, uint8_t* dst, int64_t n, int64_t k, LayoutShape shape,
                   uint8_t xor_mask);
void unpack_tensor(const uint8_t* src, uint8_t* dst, int64_t n, int64_t k, LayoutShape shape,
                   uint8_t xor_mask);
void repack_tensor_inplace(uint8_t* data, uint8_t* scratch, int64_t n, int64_t k, LayoutShape shape,
                           uint8_t xor_mask);
void unpack_tensor_inplace(uint8_t* data, uint8_t* scratch, int64_t n, int64_t k, LayoutShape shape,
                           uint8_t xor_mask);

}  // namespace q4r

#endif  // Q4R_LIB_REPACK_H_
