// The C ABI: argument validation and error messages, then the internal implementation.
// Every entry point validates everything before it writes anything, so a failed call leaves the
// caller's buffers untouched.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "lib/format/checks.h"
#include "lib/run/context.h"
#include "lib/run/dispatch.h"
#include "error.h"
#include "lib/format/formats.h"
#include "lib/run/matmul.h"
#include "lib/format/quantize.h"
#include "lib/format/repack.h"

using namespace q4r;

namespace {

constexpr int64_t kMaxDim = int64_t{1} << 31;  // kernels index rows and values with int

const char* const kTypeNames[] = {"q4_0", "iq4_nl", "q8_0"};
const char* const kLayoutNames[] = {"none", "4x4", "4x8", "8x8"};
const char* const kIsaNames[] = {"scalar", "avx2",    "avx512vnni",    "neon",          "dotprod",
                                 "i8mm",   "avxvnni", "avx512vnni256", "avx512vnni512", "sve256"};
static_assert(sizeof kIsaNames / sizeof kIsaNames[0] == Q4R_ISA_COUNT, "one name per q4r_isa");

int block_bytes(q4r_type t) {
  return t == Q4R_TYPE_Q8_0 ? kQ8BlockBytes : kQ4BlockBytes;
}

q4r_status check_type(q4r_type type, bool weights_only) {
  if (!valid_type(type)) return fail(Q4R_E_ARGUMENT, "type %d is not a q4r_type value", int(type));
  if (weights_only && type == Q4R_TYPE_Q8_0) {
    return fail(Q4R_E_UNSUPPORTED, "q8_0 is an activation type: only q4_0 and iq4_nl weights");
  }
  return Q4R_OK;
}

q4r_status check_layout(q4r_layout layout, bool packed_only) {
  if (!valid_layout(layout)) {
    return fail(Q4R_E_ARGUMENT, "layout %d is not a q4r_layout value", int(layout));
  }
  if (packed_only && layout == Q4R_LAYOUT_PLAIN) {
    return fail(Q4R_E_ARGUMENT, "layout 'none' cannot be repacked to or from");
  }
  return Q4R_OK;
}

q4r_status check_k(int64_t k) {
  if (k <= 0) return fail(Q4R_E_SHAPE, "k = %lld must be positive", (long long)k);
  if (k % kBlockValues != 0) {
    return fail(Q4R_E_SHAPE, "k = %lld is not a multiple of 32 (the block size)", (long long)k);
  }
  if (k >= kMaxDim) return fail(Q4R_E_SHAPE, "k = %lld is too large", (long long)k);
  return Q4R_OK;
}

q4r_status check_rows(const char* what, int64_t rows) {
  if (rows <= 0) return fail(Q4R_E_SHAPE, "%s = %lld must be positive", what, (long long)rows);
  if (rows >= kMaxDim) return fail(Q4R_E_SHAPE, "%s = %lld is too large", what, (long long)rows);
  return Q4R_OK;
}

// Shape check plus the exact byte size n rows of k values take.
q4r_status tensor_size(q4r_type type, int64_t n, int64_t k, std::size_t* out) {
  if (q4r_status s = check_k(k)) return s;
  if (q4r_status s = check_rows("rows", n)) return s;
  uint64_t bytes;
  if (__builtin_mul_overflow(static_cast<uint64_t>(n), static_cast<uint64_t>(k / 32), &bytes) ||
      __builtin_mul_overflow(bytes, static_cast<uint64_t>(block_bytes(type)), &bytes) ||
      bytes > SIZE_MAX / 2) {
    return fail(Q4R_E_SHAPE, "%lld x %lld values of %s overflow the address space", (long long)n,
                (long long)k, kTypeNames[type]);
  }
  *out = static_cast<std::size_t>(bytes);
  return Q4R_OK;
}

q4r_status check_size(const char* what, std::size_t got, std::size_t want) {
  if (got != want) {
    return fail(Q4R_E_SIZE, "%s is %zu bytes but the shape needs %zu", what, got, want);
  }
  return Q4R_OK;
}

q4r_status check_ptr(const char* what, const void* p) {
  return p ? Q4R_OK : fail(Q4R_E_NULL, "%s is NULL", what);
}

q4r_status check_floats(const char* what, const float* p) {
  if (!p) return fail(Q4R_E_NULL, "%s is NULL", what);
  if (reinterpret_cast<uintptr_t>(p) % alignof(float) != 0) {
    return fail(Q4R_E_ALIGNMENT, "%s (%p) is not 4-byte aligned", what,
                static_cast<const void*>(p));
  }
  return Q4R_OK;
}

q4r_status check_finite(const float* x, int64_t rows, int64_t k, std::size_t stride) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < k; ++j) {
      if (!std::isfinite(x[r * stride + j])) {
        return fail(Q4R_E_VALUE, "input value at row %lld, column %lld is not finite", (long long)r,
                    (long long)j);
      }
    }
  }
  return Q4R_OK;
}

// Validation shared by repack/unpack, both buffer and in-place forms.
q4r_status check_repack(q4r_type type, q4r_layout layout, const void* a, const void* b,
                        std::size_t size, int64_t n, int64_t k) {
  if (q4r_status s = check_type(type, true)) return s;
  if (q4r_status s = check_layout(layout, true)) return s;
  if (q4r_status s = check_ptr("source", a)) return s;
  if (q4r_status s = check_ptr("destination", b)) return s;
  std::size_t want;
  if (q4r_status s = tensor_size(type, n, k, &want)) return s;
  if (q4r_status s = check_size("buffer", size, want)) return s;
  if (a != b && overlap(a, b, size)) {
    return fail(Q4R_E_OVERLAP, "source and destination overlap without being the same buffer");
  }
  return Q4R_OK;
}

// Validation of a row-group range of a tensor of n (already checked) rows.
q4r_status check_groups(q4r_layout layout, int64_t n, int64_t g0, int64_t g1) {
  const LayoutShape shape = layout_shape(layout);
  const int64_t groups = row_groups(n, shape);
  if (g0 < 0 || g1 < g0 || g1 > groups) {
    return fail(Q4R_E_ARGUMENT,
                "row group range [%lld, %lld) is not within [0, %lld] (%lld rows in groups of %d)",
                (long long)g0, (long long)g1, (long long)groups, (long long)n, shape.rows);
  }
  return Q4R_OK;
}

// The row groups [g0, g1) in place: one allocation, the scratch of one row group (none if the
// range holds only the plain tail, which stays as it is).
template <bool kPack>
q4r_status permute_inplace(q4r_type type, q4r_layout layout, void* data, int64_t n, int64_t k,
                           int64_t g0, int64_t g1) {
  const LayoutShape shape = layout_shape(layout);
  if (g0 >= n / shape.rows) return Q4R_OK;
  const std::size_t group = static_cast<std::size_t>(group_bytes(k, shape));
  std::unique_ptr<uint8_t[]> scratch(new (std::nothrow) uint8_t[group]);
  if (!scratch) return fail(Q4R_E_NOMEM, "cannot allocate %zu bytes of scratch", group);
  auto* p = static_cast<uint8_t*>(data);
  if (kPack) {
    repack_groups_inplace(p, scratch.get(), n, k, shape, repack_xor_mask(type), g0, g1);
  } else {
    unpack_groups_inplace(p, scratch.get(), n, k, shape, repack_xor_mask(type), g0, g1);
  }
  return Q4R_OK;
}

// Whole tensors (range == nullptr) or the row groups [range[0], range[1]).
template <bool kPack>
q4r_status permute(q4r_type type, q4r_layout layout, const void* src, void* dst, std::size_t size,
                   int64_t n, int64_t k, const int64_t* range = nullptr) {
  clear_error();
  if (q4r_status s = check_repack(type, layout, src, dst, size, n, k)) return s;
  int64_t g0 = 0, g1 = row_groups(n, layout_shape(layout));
  if (range) {
    if (q4r_status s = check_groups(layout, n, range[0], range[1])) return s;
    g0 = range[0];
    g1 = range[1];
  }
  if (g0 == g1) return Q4R_OK;
  if (src == dst) return permute_inplace<kPack>(type, layout, dst, n, k, g0, g1);
  const auto* s = static_cast<const uint8_t*>(src);
  auto* d = static_cast<uint8_t*>(dst);
  if (kPack) {
    repack_groups(s, d, n, k, layout_shape(layout), repack_xor_mask(type), g0, g1);
  } else {
    unpack_groups(s, d, n, k, layout_shape(layout), repack_xor_mask(type), g0, g1);
  }
  return Q4R_OK;
}

// Validation shared by the activation entry points and run: returns the workspace plan.
q4r_status check_batch(q4r_layout layout, int64_t n, int64_t m, int64_t k, WorkspacePlan* plan) {
  if (q4r_status s = check_layout(layout, false)) return s;
  if (q4r_status s = check_k(k)) return s;
  if (q4r_status s = check_rows("n (weight rows)", n)) return s;
  if (q4r_status s = check_rows("m (activation rows)", m)) return s;
  uint64_t bytes;
  if (__builtin_mul_overflow(static_cast<uint64_t>(m), static_cast<uint64_t>(k / 32 * 34 * 2),
                             &bytes) ||
      bytes > SIZE_MAX / 2) {
    return fail(Q4R_E_SHAPE, "a batch of %lld rows of %lld values is too large", (long long)m,
                (long long)k);
  }
  *plan = plan_workspace(layout, n, m, k);
  return Q4R_OK;
}

// A text result into the caller's buffer, with the size-query convention of q4repack.h.
q4r_status copy_text(const std::string& text, char* buf, std::size_t size, std::size_t* length) {
  if (!buf) {
    if (size != 0) return fail(Q4R_E_NULL, "buf is NULL but size is %zu", size);
    if (!length) return fail(Q4R_E_NULL, "buf and length are both NULL: nothing to return");
    *length = text.size();
    return Q4R_OK;
  }
  if (size <= text.size()) {
    return fail(Q4R_E_SIZE, "buffer of %zu bytes is too small for %zu characters and a NUL", size,
                text.size());
  }
  std::memcpy(buf, text.c_str(), text.size() + 1);
  if (length) *length = text.size();
  return Q4R_OK;
}

// cpuid's brand string comes padded with spaces to its 48 bytes on some CPUs.
std::string trimmed(std::string text) {
  const std::size_t first = text.find_first_not_of(' ');
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(' ') - first + 1);
}

std::string cpu_features_text(bool present_only) {
  std::string text;
  for (const auto& [name, present] : cpu_report().features) {
    if (present || !present_only) text += (text.empty() ? "" : " ") + name;
  }
  return text;
}

q4r_status check_x(const float* x, std::size_t x_stride, int64_t m, int64_t k) {
  if (q4r_status s = check_floats("x", x)) return s;
  if (x_stride < static_cast<std::size_t>(k)) {
    return fail(Q4R_E_ARGUMENT, "x_stride %zu is smaller than k = %lld", x_stride, (long long)k);
  }
  return check_finite(x, m, k, x_stride);
}

}  // namespace

extern "C" {

uint32_t q4r_version(void) {
  return Q4R_VERSION;
}
const char* q4r_version_string(void) {
  return Q4R_VERSION_STRING;
}

const char* q4r_strerror(q4r_status status) {
  switch (status) {
    case Q4R_OK:
      return "success";
    case Q4R_E_NULL:
      return "a required pointer is NULL";
    case Q4R_E_ARGUMENT:
      return "invalid argument";
    case Q4R_E_SIZE:
      return "buffer size does not match the shape";
    case Q4R_E_SHAPE:
      return "invalid shape (k must be a positive multiple of 32)";
    case Q4R_E_ALIGNMENT:
      return "misaligned buffer";
    case Q4R_E_UNSUPPORTED:
      return "unsupported combination";
    case Q4R_E_ISA:
      return "instruction set not available";
    case Q4R_E_NOMEM:
      return "out of memory";
    case Q4R_E_IO:
      return "input/output error";
    case Q4R_E_FORMAT:
      return "malformed data";
    case Q4R_E_OVERLAP:
      return "source and destination overlap";
    case Q4R_E_VALUE:
      return "non-finite input value";
    case Q4R_E_MISMATCH:
      return "data mismatch";
  }
  return "unknown status";
}

const char* q4r_type_name(q4r_type type) {
  return valid_type(type) ? kTypeNames[type] : "?";
}
const char* q4r_layout_name(q4r_layout layout) {
  return valid_layout(layout) ? kLayoutNames[layout] : "?";
}
const char* q4r_isa_name(q4r_isa isa) {
  return isa >= 0 && isa < Q4R_ISA_COUNT ? kIsaNames[isa] : "?";
}

q4r_status q4r_parse_type(const char* name, q4r_type* out) {
  clear_error();
  if (!name || !out) return fail(Q4R_E_NULL, "name or out is NULL");
  for (int i = 0; i < 3; ++i) {
    if (std::strcmp(name, kTypeNames[i]) == 0) return *out = q4r_type(i), Q4R_OK;
  }
  return fail(Q4R_E_ARGUMENT, "unknown type '%s' (q4_0, iq4_nl, q8_0)", name);
}

q4r_status q4r_parse_layout(const char* name, q4r_layout* out) {
  clear_error();
  if (!name || !out) return fail(Q4R_E_NULL, "name or out is NULL");
  if (std::strcmp(name, "plain") == 0) return *out = Q4R_LAYOUT_PLAIN, Q4R_OK;
  for (int i = 0; i < Q4R_LAYOUT_COUNT; ++i) {
    if (std::strcmp(name, kLayoutNames[i]) == 0) return *out = q4r_layout(i), Q4R_OK;
  }
  return fail(Q4R_E_ARGUMENT, "unknown layout '%s' (none, 4x4, 4x8, 8x8)", name);
}

q4r_status q4r_parse_isa(const char* name, q4r_isa* out) {
  clear_error();
  if (!name || !out) return fail(Q4R_E_NULL, "name or out is NULL");
  for (int i = 0; i < Q4R_ISA_COUNT; ++i) {
    if (std::strcmp(name, kIsaNames[i]) == 0) return *out = q4r_isa(i), Q4R_OK;
  }
  return fail(Q4R_E_ARGUMENT,
              "unknown isa '%s' (scalar, avx2, avxvnni, avx512vnni, avx512vnni256, avx512vnni512, "
              "neon, dotprod, i8mm, sve256)",
              name);
}

int q4r_layout_rows(q4r_layout layout) {
  if (!valid_layout(layout)) return 0;
  return layout == Q4R_LAYOUT_PLAIN ? 1 : layout_shape(layout).rows;
}

int q4r_layout_chunk(q4r_layout layout) {
  if (!valid_layout(layout) || layout == Q4R_LAYOUT_PLAIN) return 0;
  return layout_shape(layout).chunk;
}

int q4r_isa_available(q4r_isa isa) {
  return isa_available(isa) ? 1 : 0;
}
q4r_isa q4r_best_isa(void) {
  return best_isa();
}
q4r_isa q4r_active_isa(void) {
  return active_isa();
}
q4r_status q4r_set_isa(q4r_isa isa) {
  clear_error();
  return set_active_isa(isa);
}
q4r_layout q4r_preferred_layout(q4r_type type, q4r_isa isa) {
  return preferred_layout(type, isa);
}

q4r_status q4r_cpu_info(q4r_cpu_info_key key, char* buf, size_t size, size_t* length) {
  clear_error();
  const CpuReport cpu = cpu_report();
  switch (key) {
    case Q4R_CPU_ARCH:
      return copy_text(cpu.arch, buf, size, length);
    case Q4R_CPU_VENDOR:
      return copy_text(trimmed(cpu.vendor), buf, size, length);
    case Q4R_CPU_BRAND:
      return copy_text(trimmed(cpu.brand), buf, size, length);
    case Q4R_CPU_MODEL:
      return copy_text(cpu.model, buf, size, length);
    case Q4R_CPU_CLASS:
      return copy_text(cpu.cpu_class.empty() ? "unknown" : cpu.cpu_class, buf, size, length);
    case Q4R_CPU_FEATURES:
      return copy_text(cpu_features_text(true), buf, size, length);
    case Q4R_CPU_FEATURES_CHECKED:
      return copy_text(cpu_features_text(false), buf, size, length);
  }
  return fail(Q4R_E_ARGUMENT, "key %d is not a q4r_cpu_info_key value", int(key));
}

q4r_status q4r_isa_kernel_set(q4r_isa isa, char* buf, size_t size, size_t* length) {
  clear_error();
  if (isa < 0 || isa >= Q4R_ISA_COUNT) {
    return fail(Q4R_E_ARGUMENT, "isa %d is not a q4r_isa value", int(isa));
  }
  if (!isa_available(isa)) {
    return fail(Q4R_E_ISA, "isa %s is not available on this CPU or not compiled in",
                q4r_isa_name(isa));
  }
  return copy_text(kernel_choice(isa), buf, size, length);
}

q4r_status q4r_row_bytes(q4r_type type, int64_t k, size_t* out) {
  clear_error();
  if (q4r_status s = check_type(type, false)) return s;
  if (q4r_status s = check_ptr("out", out)) return s;
  return tensor_size(type, 1, k, out);
}

q4r_status q4r_tensor_bytes(q4r_type type, int64_t n, int64_t k, size_t* out) {
  clear_error();
  if (q4r_status s = check_type(type, false)) return s;
  if (q4r_status s = check_ptr("out", out)) return s;
  return tensor_size(type, n, k, out);
}

q4r_status q4r_quantize(q4r_type type, const float* src, int64_t n, int64_t k, const float* imatrix,
                        void* dst, size_t dst_size) {
  clear_error();
  if (q4r_status s = check_type(type, false)) return s;
  if (q4r_status s = check_floats("src", src)) return s;
  if (q4r_status s = check_ptr("dst", dst)) return s;
  std::size_t want;
  if (q4r_status s = tensor_size(type, n, k, &want)) return s;
  if (q4r_status s = check_size("dst", dst_size, want)) return s;
  if (overlap(src, static_cast<std::size_t>(n * k) * 4, dst, want)) {
    return fail(Q4R_E_OVERLAP, "src and dst overlap");
  }
  if (imatrix) {
    if (type == Q4R_TYPE_Q8_0) return fail(Q4R_E_UNSUPPORTED, "q8_0 takes no importance matrix");
    if (q4r_status s = check_floats("imatrix", imatrix)) return s;
    if (overlap(imatrix, static_cast<std::size_t>(k) * 4, dst, want)) {
      return fail(Q4R_E_OVERLAP, "imatrix and dst overlap");
    }
    for (int64_t j = 0; j < k; ++j) {
      if (!std::isfinite(imatrix[j]) || imatrix[j] < 0.f) {
        return fail(Q4R_E_VALUE, "imatrix[%lld] = %g is not a finite non-negative weight",
                    (long long)j, double(imatrix[j]));
      }
    }
  }
  if (q4r_status s = check_finite(src, n, k, static_cast<std::size_t>(k))) return s;
  auto* out = static_cast<uint8_t*>(dst);
  const std::size_t row_bytes = want / static_cast<std::size_t>(n);
  for (int64_t r = 0; r < n; ++r) {
    const float* x = src + r * k;
    uint8_t* y = out + r * row_bytes;
    switch (type) {
      case Q4R_TYPE_Q4_0:
        imatrix ? quantize_row_q4_0_imatrix(x, y, k, imatrix) : quantize_row_q4_0_ref(x, y, k);
        break;
      case Q4R_TYPE_IQ4_NL:
        quantize_row_iq4_nl(x, y, k, imatrix);
        break;
      case Q4R_TYPE_Q8_0:
        quantize_row_q8_0_ref(x, y, k);
        break;
    }
  }
  return Q4R_OK;
}

q4r_status q4r_dequantize(q4r_type type, const void* src, size_t src_size, int64_t n, int64_t k,
                          float* dst) {
  clear_error();
  if (q4r_status s = check_type(type, false)) return s;
  if (q4r_status s = check_ptr("src", src)) return s;
  if (q4r_status s = check_floats("dst", dst)) return s;
  std::size_t want;
  if (q4r_status s = tensor_size(type, n, k, &want)) return s;
  if (q4r_status s = check_size("src", src_size, want)) return s;
  if (overlap(src, want, dst, static_cast<std::size_t>(n * k) * 4)) {
    return fail(Q4R_E_OVERLAP, "src and dst overlap");
  }
  const auto* in = static_cast<const uint8_t*>(src);
  const std::size_t row_bytes = want / static_cast<std::size_t>(n);
  for (int64_t r = 0; r < n; ++r) {
    const uint8_t* x = in + r * row_bytes;
    float* y = dst + r * k;
    switch (type) {
      case Q4R_TYPE_Q4_0:
        dequantize_row_q4_0(x, y, k);
        break;
      case Q4R_TYPE_IQ4_NL:
        dequantize_row_iq4_nl(x, y, k);
        break;
      case Q4R_TYPE_Q8_0:
        dequantize_row_q8_0(x, y, k);
        break;
    }
  }
  return Q4R_OK;
}

q4r_status q4r_repack(q4r_type type, q4r_layout layout, const void* src, void* dst, size_t size,
                      int64_t n, int64_t k) {
  return permute<true>(type, layout, src, dst, size, n, k);
}

q4r_status q4r_repack_inplace(q4r_type type, q4r_layout layout, void* data, size_t size, int64_t n,
                              int64_t k) {
  return permute<true>(type, layout, data, data, size, n, k);
}

q4r_status q4r_unpack(q4r_type type, q4r_layout layout, const void* src, void* dst, size_t size,
                      int64_t n, int64_t k) {
  return permute<false>(type, layout, src, dst, size, n, k);
}

q4r_status q4r_unpack_inplace(q4r_type type, q4r_layout layout, void* data, size_t size, int64_t n,
                              int64_t k) {
  return permute<false>(type, layout, data, data, size, n, k);
}

int64_t q4r_row_groups(q4r_layout layout, int64_t n) {
  if (!valid_layout(layout) || n <= 0) return 0;
  return layout == Q4R_LAYOUT_PLAIN ? n : row_groups(n, layout_shape(layout));
}

q4r_status q4r_repack_range(q4r_type type, q4r_layout layout, const void* src, void* dst,
                            size_t size, int64_t n, int64_t k, int64_t g0, int64_t g1) {
  const int64_t range[2] = {g0, g1};
  return permute<true>(type, layout, src, dst, size, n, k, range);
}

q4r_status q4r_repack_inplace_range(q4r_type type, q4r_layout layout, void* data, size_t size,
                                    int64_t n, int64_t k, int64_t g0, int64_t g1) {
  const int64_t range[2] = {g0, g1};
  return permute<true>(type, layout, data, data, size, n, k, range);
}

q4r_status q4r_unpack_range(q4r_type type, q4r_layout layout, const void* src, void* dst,
                            size_t size, int64_t n, int64_t k, int64_t g0, int64_t g1) {
  const int64_t range[2] = {g0, g1};
  return permute<false>(type, layout, src, dst, size, n, k, range);
}

q4r_status q4r_unpack_inplace_range(q4r_type type, q4r_layout layout, void* data, size_t size,
                                    int64_t n, int64_t k, int64_t g0, int64_t g1) {
  const int64_t range[2] = {g0, g1};
  return permute<false>(type, layout, data, data, size, n, k, range);
}

q4r_status q4r_quantize_q8_0_rows(const float* x, size_t x_stride, int64_t m, int64_t k, void* dst,
                                  size_t dst_size) {
  clear_error();
  WorkspacePlan plan;
  if (q4r_status s = check_batch(Q4R_LAYOUT_PLAIN, 1, m, k, &plan)) return s;
  if (q4r_status s = check_ptr("dst", dst)) return s;
  if (q4r_status s = check_size("dst", dst_size, plan.bytes)) return s;
  if (q4r_status s = check_x(x, x_stride, m, k)) return s;
  if (overlap(x, float_span(m, x_stride, k), dst, dst_size)) {
    return fail(Q4R_E_OVERLAP, "x and dst overlap");
  }
  active_kernels().quant_rows(x, x_stride, dst, static_cast<int>(k), static_cast<int>(m));
  return Q4R_OK;
}

q4r_status q4r_quantize_q8_0_x4(const float* x, size_t x_stride, int64_t m, int64_t k, int chunk,
                                void* dst, size_t dst_size) {
  clear_error();
  WorkspacePlan plan;
  if (q4r_status s = check_batch(Q4R_LAYOUT_PLAIN, 1, m, k, &plan)) return s;
  if (m % 4 != 0) return fail(Q4R_E_SHAPE, "m = %lld is not a multiple of 4", (long long)m);
  if (chunk != 4 && chunk != 8) return fail(Q4R_E_ARGUMENT, "chunk %d is not 4 or 8", chunk);
  if (q4r_status s = check_ptr("dst", dst)) return s;
  if (q4r_status s = check_size("dst", dst_size, plan.bytes)) return s;
  if (q4r_status s = check_x(x, x_stride, m, k)) return s;
  if (overlap(x, float_span(m, x_stride, k), dst, dst_size)) {
    return fail(Q4R_E_OVERLAP, "x and dst overlap");
  }
  active_kernels().quant_x4[chunk == 4 ? kChunk4 : kChunk8](x, x_stride, dst, static_cast<int>(k),
                                                            static_cast<int>(m / 4));
  return Q4R_OK;
}

q4r_status q4r_workspace_size(q4r_layout layout, int64_t n, int64_t m, int64_t k, size_t* out) {
  clear_error();
  if (q4r_status s = check_ptr("out", out)) return s;
  WorkspacePlan plan;
  if (q4r_status s = check_batch(layout, n, m, k, &plan)) return s;
  *out = plan.bytes;
  return Q4R_OK;
}

int64_t q4r_column_step(q4r_layout layout) {
  return q4r_layout_rows(layout);
}

q4r_status q4r_quantize_activations_rows(q4r_layout layout, int64_t n, const float* x,
                                         size_t x_stride, int64_t m, int64_t k, int64_t row_begin,
                                         int64_t row_end, void* workspace, size_t workspace_size) {
  clear_error();
  WorkspacePlan plan;
  if (q4r_status s = check_batch(layout, n, m, k, &plan)) return s;
  if (q4r_status s = check_ptr("workspace", workspace)) return s;
  if (q4r_status s = check_size("workspace", workspace_size, plan.bytes)) return s;
  if (row_begin < 0 || row_end > m || row_begin >= row_end || row_begin % 4 != 0 ||
      (row_end % 4 != 0 && row_end != m)) {
    return fail(Q4R_E_ARGUMENT,
                "row range [%lld, %lld) of %lld rows: bounds must be multiples of 4 (or m)",
                (long long)row_begin, (long long)row_end, (long long)m);
  }
  if (q4r_status s = check_x(x, x_stride, m, k)) return s;
  if (overlap(x, float_span(m, x_stride, k), workspace, workspace_size)) {
    return fail(Q4R_E_OVERLAP, "x and workspace overlap");
  }
  quantize_activation_rows(active_kernels(), layout, n, x, x_stride, m, k, row_begin, row_end,
                           static_cast<uint8_t*>(workspace));
  return Q4R_OK;
}

q4r_status q4r_quantize_activations(q4r_layout layout, int64_t n, const float* x, size_t x_stride,
                                    int64_t m, int64_t k, void* workspace, size_t workspace_size) {
  return q4r_quantize_activations_rows(layout, n, x, x_stride, m, k, 0, m, workspace,
                                       workspace_size);
}

q4r_status q4r_run(q4r_type type, q4r_layout layout, const void* w, size_t w_size, int64_t n,
                   int64_t k, const void* workspace, size_t workspace_size, int64_t m, float* y,
                   size_t y_stride, int64_t col_begin, int64_t col_end) {
  clear_error();
  if (q4r_status s = check_type(type, true)) return s;
  WorkspacePlan plan;
  if (q4r_status s = check_batch(layout, n, m, k, &plan)) return s;
  if (q4r_status s = check_ptr("w", w)) return s;
  if (q4r_status s = check_ptr("workspace", workspace)) return s;
  if (q4r_status s = check_floats("y", y)) return s;
  std::size_t want;
  if (q4r_status s = tensor_size(type, n, k, &want)) return s;
  if (q4r_status s = check_size("w", w_size, want)) return s;
  if (q4r_status s = check_size("workspace", workspace_size, plan.bytes)) return s;
  if (y_stride < static_cast<std::size_t>(n)) {
    return fail(Q4R_E_ARGUMENT, "y_stride %zu is smaller than n = %lld", y_stride, (long long)n);
  }
  const int64_t step = q4r_layout_rows(layout);
  if (col_begin < 0 || col_end > n || col_begin >= col_end || col_begin % step != 0 ||
      (col_end % step != 0 && col_end != n)) {
    return fail(Q4R_E_ARGUMENT,
                "column range [%lld, %lld) of %lld: bounds must be multiples of %lld (or n)",
                (long long)col_begin, (long long)col_end, (long long)n, (long long)step);
  }
  const std::size_t y_span = float_span(m, y_stride, n);
  if (overlap(y, y_span, w, w_size) || overlap(y, y_span, workspace, workspace_size)) {
    return fail(Q4R_E_OVERLAP, "y overlaps the weights or the workspace");
  }
  run_columns(active_kernels(), type, layout, static_cast<const uint8_t*>(w), n, k,
              static_cast<const uint8_t*>(workspace), m, y, y_stride, col_begin, col_end);
  return Q4R_OK;
}

q4r_status q4r_matmul(q4r_type type, q4r_layout layout, const void* w, size_t w_size, int64_t n,
                      int64_t k, const float* x, int64_t m, float* y, int n_threads) {
  clear_error();
  if (q4r_status s = check_type(type, true)) return s;
  WorkspacePlan plan;
  if (q4r_status s = check_batch(layout, n, m, k, &plan)) return s;
  if (q4r_status s = check_ptr("w", w)) return s;
  if (q4r_status s = check_floats("y", y)) return s;
  std::size_t want;
  if (q4r_status s = tensor_size(type, n, k, &want)) return s;
  if (q4r_status s = check_size("w", w_size, want)) return s;
  if (q4r_status s = check_x(x, static_cast<std::size_t>(k), m, k)) return s;
  const std::size_t y_span = float_span(m, static_cast<std::size_t>(n), n);
  if (overlap(y, y_span, w, w_size) || overlap(y, y_span, x, float_span(m, k, k))) {
    return fail(Q4R_E_OVERLAP, "y overlaps the weights or x");
  }
  std::unique_ptr<uint8_t[]> ws(new (std::nothrow) uint8_t[plan.bytes]);
  if (!ws) return fail(Q4R_E_NOMEM, "cannot allocate a %zu-byte workspace", plan.bytes);
  PoolRef pool;
  parallel_matmul(active_kernels(), pool_executor(n_threads, &pool), type, layout,
                  static_cast<const uint8_t*>(w), n, k, x, static_cast<std::size_t>(k), m, y,
                  static_cast<std::size_t>(n), ws.get());
  return Q4R_OK;
}

}  // extern "C"
