// Argument helpers of the C API (api.cc, context.cc, moe.cc, q4p.cc): enum ranges and the byte
// ranges behind the Q4R_E_OVERLAP checks.
#ifndef Q4R_LIB_CHECKS_H_
#define Q4R_LIB_CHECKS_H_

#include <cstddef>
#include <cstdint>

#include "q4repack/q4repack.h"

namespace q4r {

// The public enums have a fixed int type in C++ (Q4R_ENUM), so any int a C caller stores in one is
// a valid value to load and compare here.
inline bool valid_type(q4r_type t) {
  return t >= Q4R_TYPE_Q4_0 && t <= Q4R_TYPE_Q8_0;
}
inline bool valid_layout(q4r_layout l) {
  return l >= Q4R_LAYOUT_PLAIN && l <= Q4R_LAYOUT_8X8;
}
inline bool valid_weight_type(q4r_type t) {
  return t == Q4R_TYPE_Q4_0 || t == Q4R_TYPE_IQ4_NL;
}

// [a, a + a_size) and [b, b + b_size) share a byte.
// Written with differences so that huge sizes cannot wrap around.
inline bool overlap(const void* a, std::size_t a_size, const void* b, std::size_t b_size) {
  const auto pa = reinterpret_cast<uintptr_t>(a), pb = reinterpret_cast<uintptr_t>(b);
  if (a_size == 0 || b_size == 0) return false;
  return pa >= pb ? pa - pb < b_size : pb - pa < a_size;
}
inline bool overlap(const void* a, const void* b, std::size_t size) {
  return overlap(a, size, b, size);
}

// Bytes spanned by `rows` (>= 1) rows of `cols` elements of `elem` bytes at a stride of `stride`
// elements, from the first element of row 0 to the last of row rows - 1 (saturates at SIZE_MAX).
inline std::size_t strided_span(int64_t rows, std::size_t stride, int64_t cols, std::size_t elem) {
  std::size_t count;
  if (__builtin_mul_overflow(static_cast<std::size_t>(rows - 1), stride, &count) ||
      __builtin_add_overflow(count, static_cast<std::size_t>(cols), &count) ||
      __builtin_mul_overflow(count, elem, &count)) {
    return SIZE_MAX;
  }
  return count;
}
inline std::size_t float_span(int64_t rows, std::size_t stride, int64_t cols) {
  return strided_span(rows, stride, cols, sizeof(float));
}

}  // namespace q4r

#endif  // Q4R_LIB_CHECKS_H_
