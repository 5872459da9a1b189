// libFuzzer target: argument validation of the C API. Arbitrary types, layouts, shapes, strides,
// sizes and null pointers; every buffer handed over really has the size claimed for it (that part
// of the contract cannot be checked by a library). Calls must either succeed or fail cleanly, and
// a failed call must leave the output buffer untouched.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "q4repack/q4repack.h"

namespace {

constexpr size_t kMaxBuffer = 1 << 16;

int64_t pick_dim(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange<int>(0, 3)) {
    case 0:
      return in.ConsumeIntegralInRange<int64_t>(-2, 40);
    case 1:
      return 32 * in.ConsumeIntegralInRange<int64_t>(0, 16);
    case 2:
      return in.ConsumeIntegral<int64_t>();
    default:
      return int64_t{1} << in.ConsumeIntegralInRange<int>(0, 62);
  }
}

struct Buffer {
  std::vector<uint8_t> bytes;
  bool null = false;
  void* ptr() { return null ? nullptr : bytes.data(); }
  size_t size() const { return bytes.size(); }
};

Buffer pick_buffer(FuzzedDataProvider& in, size_t natural) {
  Buffer b;
  b.null = in.ConsumeIntegralInRange<int>(0, 15) == 0;
  size_t size = natural;
  if (in.ConsumeBool()) size = in.ConsumeIntegralInRange<size_t>(0, kMaxBuffer);
  if (size > kMaxBuffer) size = kMaxBuffer;
  b.bytes.resize(size + 4);  // +4: an unaligned float view stays inside the allocation
  b.bytes.resize(size);
  for (auto& x : b.bytes) x = uint8_t(in.ConsumeIntegral<uint8_t>());
  return b;
}

// Floats that are finite most of the time.
std::vector<float> pick_floats(FuzzedDataProvider& in, size_t count) {
  std::vector<float> v(count);
  for (float& f : v) {
    const int kind = in.ConsumeIntegralInRange<int>(0, 20);
    f = kind == 0   ? __builtin_nanf("")
        : kind == 1 ? __builtin_inff()
                    : in.ConsumeFloatingPointInRange<float>(-4.f, 4.f);
  }
  return v;
}

// True if a*b values fit in `have` (a, b may be anything, including negative or huge).
bool fits(int64_t a, int64_t b, size_t have) {
  int64_t p;
  return a > 0 && b > 0 && !__builtin_mul_overflow(a, b, &p) && uint64_t(p) <= have;
}

// Buffer length for a*b values: exact when small, else a token size.
size_t count_for(int64_t a, int64_t b, size_t limit) {
  return fits(a, b, limit) ? size_t(a * b) : 8;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  // Enum values stay inside the enums' value ranges: anything else is undefined behaviour in the
  // C++ caller itself (UBSan's enum check), not something the library could see.
  const auto type = q4r_type(in.ConsumeIntegralInRange<int>(0, 3));
  const auto layout = q4r_layout(in.ConsumeIntegralInRange<int>(0, 3));
  const int64_t n = pick_dim(in), k = pick_dim(in), m = pick_dim(in);
  size_t natural = 0;
  if (q4r_tensor_bytes(type, n, k, &natural) != Q4R_OK || natural > kMaxBuffer) natural = 64;
  const int op = in.ConsumeIntegralInRange<int>(0, 9);
  // q4r_matmul / q4r_run / q4r_quantize_activations take m rows of x and y without a size: the
  // caller promises m*k and m*n floats. Calls whose promise this harness cannot keep are skipped.
  if (op >= 7 && (!fits(m, k, 8192) || !fits(m, n, 8192)) && m > 0) return 0;
  Buffer a = pick_buffer(in, natural);
  Buffer b = pick_buffer(in, natural);
  // q4r_repack / q4r_unpack take one size for both buffers: the caller promises both have it.
  if (op <= 1) b.bytes.resize(a.bytes.size());
  const std::vector<uint8_t> b_before = b.bytes;
  q4r_status s = Q4R_OK;
  bool writes_b = true;
  switch (op) {
    case 0:
    case 1:
    case 2:
    case 3: {
      // Whole tensor, or a row-group range of it (any g0, g1: the library checks them).
      const bool ranged = in.ConsumeBool();
      const int64_t g0 = ranged ? pick_dim(in) : 0, g1 = ranged ? pick_dim(in) : 0;
      if (op == 0) {
        s = ranged ? q4r_repack_range(type, layout, a.ptr(), b.ptr(), a.size(), n, k, g0, g1)
                   : q4r_repack(type, layout, a.ptr(), b.ptr(), a.size(), n, k);
      } else if (op == 1) {
        s = ranged ? q4r_unpack_range(type, layout, a.ptr(), b.ptr(), a.size(), n, k, g0, g1)
                   : q4r_unpack(type, layout, a.ptr(), b.ptr(), a.size(), n, k);
      } else if (op == 2) {
        s = ranged ? q4r_repack_inplace_range(type, layout, b.ptr(), b.size(), n, k, g0, g1)
                   : q4r_repack_inplace(type, layout, b.ptr(), b.size(), n, k);
      } else {
        s = ranged ? q4r_unpack_inplace_range(type, layout, b.ptr(), b.size(), n, k, g0, g1)
                   : q4r_unpack_inplace(type, layout, b.ptr(), b.size(), n, k);
      }
      break;
    }
    case 4: {
      const size_t values = count_for(n, k, 4 * kMaxBuffer);
      std::vector<float> x = pick_floats(in, values);
      std::vector<float> im = pick_floats(in, k > 0 && k <= 4096 ? size_t(k) : 1);
      s = q4r_quantize(type, in.ConsumeBool() ? nullptr : x.data(), n, k,
                       in.ConsumeBool() ? im.data() : nullptr, b.ptr(), b.size());
      if (s == Q4R_OK && !fits(n, k, x.size())) std::abort();
      break;
    }
    case 5: {
      std::vector<float> y(count_for(n, k, 4 * kMaxBuffer));
      const std::vector<float> before = y;
      s = q4r_dequantize(type, a.ptr(), a.size(), n, k, y.data());
      if (s == Q4R_OK && !fits(n, k, y.size())) std::abort();
      if (s != Q4R_OK && y != before) std::abort();
      writes_b = false;
      break;
    }
    case 6: {
      size_t ws = 0;
      s = q4r_workspace_size(layout, n, m, k, &ws);
      writes_b = false;
      break;
    }
    case 7: {
      // Full matmul with small, consistent-or-not shapes.
      const size_t xs = count_for(m, k, 8192);
      const size_t ys = count_for(m, n, 8192);
      std::vector<float> x = pick_floats(in, xs), y(ys), y0 = y;
      s = q4r_matmul(type, layout, a.ptr(), a.size(), n, k, x.data(), m, y.data(),
                     in.ConsumeIntegralInRange<int>(-1, 3));
      if (s == Q4R_OK && (!fits(m, k, xs) || !fits(m, n, ys))) std::abort();
      if (s != Q4R_OK && y != y0) std::abort();
      writes_b = false;
      break;
    }
    case 8: {
      const int64_t cb = pick_dim(in), ce = pick_dim(in);
      const size_t ys = count_for(m, n, 8192);
      std::vector<float> y(ys), y0 = y;
      s = q4r_run(type, layout, a.ptr(), a.size(), n, k, b.ptr(), b.size(), m, y.data(),
                  size_t(n > 0 ? n : 1), cb, ce);
      if (s == Q4R_OK && !fits(m, n, ys)) std::abort();
      if (s != Q4R_OK && y != y0) std::abort();
      writes_b = false;
      break;
    }
    default: {
      const size_t xs = count_for(m, k, 8192);
      std::vector<float> x = pick_floats(in, xs);
      s = q4r_quantize_activations(layout, n, x.data(), size_t(k > 0 ? k : 1), m, k, b.ptr(),
                                   b.size());
      if (s == Q4R_OK && !fits(m, k, xs)) std::abort();
      break;
    }
  }
  if (s != Q4R_OK) {
    if (q4r_last_error()[0] == '\0') std::abort();  // every failure explains itself
    if (writes_b && b.bytes != b_before) std::abort();
  }
  return 0;
}
