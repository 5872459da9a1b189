#include "repack.h"

#include <cstring>

namespace q4r {

LayoutShape layout_shape(int layout) {
  switch (layout) {
    case 1:
      return {4, 4};
    case 2:
      return {4, 8};
    case 3:
      return {8, 8};
    default:
      return {1, 16};
  }
}

namespace {

// Offset of quant byte b of row j inside the 16*N quant bytes of an interleaved block.
inline int chunk_offset(int j, int b, LayoutShape s) {
  return (b / s.chunk * s.rows + j) * s.chunk + b % s.chunk;
}

template <bool kPack>
void permute_group(const uint8_t* src, uint8_t* dst, int64_t nb, LayoutShape s, uint8_t xor_mask) {
  const int64_t row_bytes = nb * kQ4BlockBytes;
  const int group_block = kQ4BlockBytes * s.rows;
  for (int64_t l = 0; l < nb; ++l) {
    for (int j = 0; j < s.rows; ++j) {
      const int64_t plain = j * row_bytes + l * kQ4BlockBytes;  // block l of row j
      const int64_t packed = l * group_block;                   // interleaved block l
      if (kPack) {
        std::memcpy(dst + packed + 2 * j, src + plain, 2);
      } else {
        std::memcpy(dst + plain, src + packed + 2 * j, 2);
      }
      for (int b = 0; b < 16; b += s.chunk) {
        const int64_t p = packed + 2 * s.rows + chunk_offset(j, b, s);
        const int64_t q = plain + 2 + b;
        const uint8_t* from = kPack ? src + q : src + p;
        uint8_t* to = kPack ? dst + p : dst + q;
        for (int i = 0; i < s.chunk; ++i) to[i] = from[i] ^ xor_mask;
      }
    }
  }
}

template <bool kPack>
void permute_tensor(const uint8_t* src, uint8_t* dst, int64_t n, int64_t k, LayoutShape s,
                    uint8_t xor_mask) {
  const int64_t nb = k / kBlockValues;
  const int64_t group_bytes = s.rows * nb * kQ4BlockBytes;
  const int64_t groups = n / s.rows;
  for (int64_t g = 0; g < groups; ++g) {
    permute_group<kPack>(src + g * group_bytes, dst + g * group_bytes, nb, s, xor_mask);
  }
  const int64_t tail = (n % s.rows) * nb * kQ4BlockBytes;
  if (tail) std::memcpy(dst + groups * group_bytes, src + groups * group_bytes, tail);
}

template <bool kPack>
void permute_inplace(uint8_t* data, uint8_t* scratch, int64_t n, int64_t k, LayoutShape s,
                     uint8_t xor_mask) {
  const int64_t nb = k / kBlockValues;
  const int64_t group_bytes = s.rows * nb * kQ4BlockBytes;
  for (int64_t g = 0; g < n / s.rows; ++g) {
    // A row group occupies the same bytes before and after: copy it out, permute it back in.
    std::memcpy(scratch, data + g * group_bytes, group_bytes);
    permute_group<kPack>(scratch, data + g * group_bytes, nb, s, xor_mask);
  }
}

}  // namespace

void pack_group(const uint8_t* src, uint8_t* dst, int64_t nb, LayoutShape shape, uint8_t xor_mask) {
  permute_group<true>(src, dst, nb, shape, xor_mask);
}

void unpack_group(const uint8_t* src, uint8_t* dst, int64_t nb, LayoutShape shape,
                  uint8_t xor_mask) {
  permute_group<false>(src, dst, nb, shape, xor_mask);
}

void repack_tensor(const uint8_t* src, uint8_t* dst, int64_t n, int64_t k, LayoutShape shape,
                   uint8_t xor_mask) {
  permute_tensor<true>(src, dst, n, k, shape, xor_mask);
}

void unpack_tensor(const uint8_t* src, uint8_t* dst, int64_t n, int64_t k, LayoutShape shape,
                   uint8_t xor_mask) {
  permute_tensor<false>(src, dst, n, k, shape, xor_mask);
}

void repack_tensor_inplace(uint8_t* data, uint8_t* scratch, int64_t n, int64_t k, LayoutShape shape,
                           uint8_t xor_mask) {
  permute_inplace<true>(data, scratch, n, k, shape, xor_mask);
}

void unpack_tensor_inplace(uint8_t* data, uint8_t* scratch, int64_t n, int64_t k, LayoutShape shape,
                           uint8_t xor_mask) {
  permute_inplace<false>(data, scratch, n, k, shape, xor_mask);
}

}  // namespace q4r
