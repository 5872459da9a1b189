// Every C API function with bad input: the right status, a non-empty q4r_last_error(), and the
// caller's buffers untouched (filled with a canary before the call and compared after).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "q4repack/q4repack.h"
#include "test_util.h"

namespace q4r::test {
namespace {

constexpr uint8_t kCanary = 0xA5;
constexpr int64_t kHuge = int64_t{1} << 40;  // beyond every dimension limit
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

// A failing call: the status, and a message naming the problem.
#define EXPECT_FAILS(status, call)                                     \
  do {                                                                 \
    const q4r_status got_ = (call);                                    \
    EXPECT_EQ(got_, status) << #call << ": " << q4r_last_error();      \
    EXPECT_STRNE(q4r_last_error(), "") << #call << " left no message"; \
  } while (0)

// A byte buffer filled with the canary, with a check that it is still intact.
struct Canary {
  explicit Canary(size_t n) : bytes(n + 64, kCanary) {}
  uint8_t* data() { return bytes.data() + 32; }  // 32-byte slack both sides, 4-byte aligned
  float* floats() { return reinterpret_cast<float*>(data()); }
  bool intact() const {
    for (uint8_t b : bytes) {
      if (b != kCanary) return false;
    }
    return true;
  }
  std::vector<uint8_t> bytes;
};

// A shape with a plain tail for every layout (12 rows: 8x8 leaves 4), and a GEMM + GEMV batch.
constexpr int64_t N = 12, K = 64, M = 5;

struct Inputs {
  std::vector<float> w = random_floats(N * K, 1);
  std::vector<float> x = random_floats(M * K, 2);
  std::vector<float> im = std::vector<float>(K, 1.f);
  std::vector<uint8_t> q4 = std::vector<uint8_t>(N * K / 32 * 18);
  Inputs() { q4r_quantize(Q4R_TYPE_Q4_0, w.data(), N, K, nullptr, q4.data(), q4.size()); }
};

TEST(ApiErrors, NamesAndStatusStrings) {
  EXPECT_STREQ(q4r_type_name(q4r_type(7)), "?");
  EXPECT_STREQ(q4r_type_name(q4r_type(-1)), "?");
  EXPECT_STREQ(q4r_layout_name(q4r_layout(4)), "?");
  EXPECT_STREQ(q4r_isa_name(q4r_isa(Q4R_ISA_COUNT)), "?");
  EXPECT_STREQ(q4r_isa_name(q4r_isa(-1)), "?");
  for (int s = 0; s <= Q4R_E_MISMATCH; ++s) EXPECT_STRNE(q4r_strerror(q4r_status(s)), "") << s;
  EXPECT_STREQ(q4r_strerror(q4r_status(999)), "unknown status");
  EXPECT_EQ(q4r_layout_rows(q4r_layout(9)), 0);
  EXPECT_EQ(q4r_layout_chunk(q4r_layout(9)), 0);
  EXPECT_EQ(q4r_layout_chunk(Q4R_LAYOUT_PLAIN), 0);
  EXPECT_EQ(q4r_column_step(q4r_layout(-2)), 0);
  EXPECT_EQ(q4r_isa_available(q4r_isa(-1)), 0);
  EXPECT_EQ(q4r_isa_available(q4r_isa(99)), 0);
  EXPECT_EQ(q4r_version(), uint32_t(Q4R_VERSION));
  EXPECT_STREQ(q4r_version_string(), Q4R_VERSION_STRING);
}

TEST(ApiErrors, ParseFunctions) {
  q4r_type t = q4r_type(77);
  q4r_layout l = q4r_layout(77);
  q4r_isa i = q4r_isa(77);
  EXPECT_FAILS(Q4R_E_NULL, q4r_parse_type(nullptr, &t));
  EXPECT_FAILS(Q4R_E_NULL, q4r_parse_type("q4_0", nullptr));
  EXPECT_FAILS(Q4R_E_ARGUMENT, q4r_parse_type("q4_1", &t));
  EXPECT_FAILS(Q4R_E_ARGUMENT, q4r_parse_type("", &t));
  EXPECT_FAILS(Q4R_E_NULL, q4r_parse_layout(nullptr, &l));
  EXPECT_FAILS(Q4R_E_NULL, q4r_parse_layout("4x4", nullptr));
  EXPECT_FAILS(Q4R_E_ARGUMENT, q4r_parse_layout("8x4", &l));
  EXPECT_FAILS(Q4R_E_NULL, q4r_parse_isa(nullptr, &i));
  EXPECT_FAILS(Q4R_E_NULL, q4r_parse_isa("avx2", nullptr));
  EXPECT_FAILS(Q4R_E_ARGUMENT, q4r_parse_isa("AVX2 ", &i));
  EXPECT_EQ(t, q4r_type(77));
  EXPECT_EQ(l, q4r_layout(77));
  EXPECT_EQ(i, q4r_isa(77));
}

TEST(ApiErrors, SetIsa) {
  const q4r_isa before = q4r_active_isa();
  EXPECT_FAILS(Q4R_E_ARGUMENT, q4r_set_isa(q4r_isa(-1)));
  EXPECT_FAILS(Q4R_E_ARGUMENT, q4r_set_isa(q4r_isa(Q4R_ISA_COUNT)));
  for (int i = 0; i < Q4R_ISA_COUNT; ++i) {
    if (!q4r_isa_available(q4r_isa(i))) EXPECT_FAILS(Q4R_E_ISA, q4r_set_isa(q4r_isa(i)));
  }
  EXPECT_EQ(q4r_active_isa(), before);
}

TEST(ApiErrors, CpuInfoAndKernelSet) {
  char buf[8];
  std::memset(buf, kCanary, sizeof buf);
  size_t length = 12345;
  EXPECT_FAILS(Q4R_E_ARGUMENT, q4r_cpu_info(q4r_cpu_info_key(-1), buf, sizeof buf, &length));
  EXPECT_FAILS(Q4R_E_ARGUMENT,
               q4r_cpu_info(q4r_cpu_info_key(Q4R_CPU_INFO_COUNT), buf, sizeof buf, &length));
  EXPECT_FAILS(Q4R_E_NULL, q4r_cpu_info(Q4R_CPU_ARCH, nullptr, 0, nullptr));
  EXPECT_FAILS(Q4R_E_NULL, q4r_cpu_info(Q4R_CPU_ARCH, nullptr, 16, &length));
  // "x86_64" / "aarch64" need 7 / 8 bytes: 6 is too small everywhere, and so is the exact length.
  EXPECT_FAILS(Q4R_E_SIZE, q4r_cpu_info(Q4R_CPU_ARCH, buf, 6, &length));
  size_t arch_length = 0;
  ASSERT_EQ(q4r_cpu_info(Q4R_CPU_ARCH, nullptr, 0, &arch_length), Q4R_OK);
  EXPECT_FAILS(Q4R_E_SIZE, q4r_cpu_info(Q4R_CPU_ARCH, buf, arch_length, &length));
  EXPECT_FAILS(Q4R_E_ARGUMENT, q4r_isa_kernel_set(q4r_isa(-1), buf, sizeof buf, &length));
  EXPECT_FAILS(Q4R_E_ARGUMENT,
               q4r_isa_kernel_set(q4r_isa(Q4R_ISA_COUNT), buf, sizeof buf, &length));
  for (int i = 0; i < Q4R_ISA_COUNT; ++i) {
    if (!q4r_isa_available(q4r_isa(i))) {
      EXPECT_FAILS(Q4R_E_ISA, q4r_isa_kernel_set(q4r_isa(i), buf, sizeof buf, &length));
    }
  }
  for (char c : buf) EXPECT_EQ(static_cast<uint8_t>(c), kCanary);
  EXPECT_EQ(length, 12345u);
}

TEST(ApiErrors, Sizes) {
  size_t out = 12345;
  EXPECT_FAILS(Q4R_E_NULL, q4r_row_bytes(Q4R_TYPE_Q4_0, 64, nullptr));
  EXPECT_FAILS(Q4R_E_ARGUMENT, q4r_row_bytes(q4r_type(3), 64, &out));
  EXPECT_FAILS(Q4R_E_SHAPE, q4r_row_bytes(Q4R_TYPE_Q4_0, 48, &out));
  EXPECT_FAILS(Q4R_E_SHAPE, q4r_row_bytes(Q4R_TYPE_Q4_0, 0, &out));
  EXPECT_FAILS(Q4R_E_SHAPE, q4r_row_bytes(Q4R_TYPE_Q4_0, -32, &out));
  EXPECT_FAILS(Q4R_E_SHAPE, q4r_row_bytes(Q4R_TYPE_Q4_0, kMax - 31, &out));
  EXPECT_FAILS(Q4R_E_NULL, q4r_tensor_bytes(Q4R_TYPE_Q4_0, 4, 64, nullptr));
  EXPECT_FAILS(Q4R_E_ARGUMENT, q4r_tensor_bytes(q4r_type(-1), 4, 64, &out));
  EXPECT_FAILS(Q4R_E_SHAPE, q4r_tensor_bytes(Q4R_TYPE_Q8_0, 0, 64, &out));
  EXPECT_FAILS(Q4R_E_SHAPE, q4r_tensor_bytes(Q4R_TYPE_Q8_0, -1, 64, &out));
  EXPECT_FAILS(Q4R_E_SHAPE, q4r_tensor_bytes(Q4R_TYPE_Q8_0, 4, 33, &out));
  EXPECT_FAILS(Q4R_E_SHAPE, q4r_tensor_bytes(Q4R_TYPE_IQ4_NL, kHuge, 64, &out));
  EXPECT_FAILS(Q4R_E_SHAPE, q4r_tensor_bytes(Q4R_TYPE_IQ4_NL, 4, kHuge, &out));
  EXPECT_FAILS(Q4R_E_SHAPE, q4r_tensor_bytes(Q4R_TYPE_IQ4_NL, kMax, kMax - 31, &out));
  EXPECT_EQ(out, 12345u);
  // The largest accepted shape still has an exact byte count.
  ASSERT_EQ(q4r_tensor_bytes(Q4R_TYPE_Q8_0, (int64_t{1} << 31) - 1, (int64_t{1} << 31) - 32, &out),
            Q4R_OK);
  EXPECT_EQ(out, size_t((int64_t{1} << 31) - 1) * size_t(((int64_t{1} << 31) - 32) / 32) * 34);
  EXPECT_STREQ(q4r_last_error(), "");  // a successful call clears the message
}

TEST(ApiErrors, Quantize) {
  Inputs in;
  const size_t bytes = in.q4.size();
  Canary dst(bytes);
  auto q = [&](q4r_type t, const float* src, int64_t n, int64_t k, const float* im, void* d,
               size_t size) { return q4r_quantize(t, src, n, k, im, d, size); };
  EXPECT_FAILS(Q4R_E_ARGUMENT, q(q4r_type(5), in.w.data(), N, K, nullptr, dst.data(), bytes));
  EXPECT_FAILS(Q4R_E_NULL, q(Q4R_TYPE_Q4_0, nullptr, N, K, nullptr, dst.data(), bytes));
  EXPECT_FAILS(Q4R_E_NULL, q(Q4R_TYPE_Q4_0, in.w.data(), N, K, nullptr, nullptr, bytes));
  const float* misaligned =
      reinterpret_cast<const float*>(reinterpret_cast<const char*>(in.w.data()) + 1);
  EXPECT_FAILS(Q4R_E_ALIGNMENT, q(Q4R_TYPE_Q4_0, misaligned, N, K, nullptr, dst.data(), bytes));
  EXPECT_FAILS(Q4R_E_SIZE, q(Q4R_TYPE_Q4_0, in.w.data(), N, K, nullptr, dst.data(), bytes - 1));
  EXPECT_FAILS(Q4R_E_SIZE, q(Q4R_TYPE_Q4_0, in.w.data(), N, K, nullptr, dst.data(), bytes + 18));
  EXPECT_FAILS(Q4R_E_SIZE, q(Q4R_TYPE_Q8_0, in.w.data(), N, K, nullptr, dst.data(), bytes));
  EXPECT_FAILS(Q4R_E_SHAPE, q(Q4R_TYPE_Q4_0, in.w.data(), N, 48, nullptr, dst.data(), bytes));
  EXPECT_FAILS(Q4R_E_SHAPE, q(Q4R_TYPE_Q4_0, in.w.data(), 0, K, nullptr, dst.data(), bytes));
  EXPECT_FAILS(Q4R_E_SHAPE, q(Q4R_TYPE_Q4_0, in.w.data(), -N, K, nullptr, dst.data(), bytes));
  EXPECT_FAILS(Q4R_E_SHAPE, q(Q4R_TYPE_Q4_0, in.w.data(), N, -K, nullptr, dst.data(), bytes));
  EXPECT_FAILS(Q4R_E_SHAPE, q(Q4R_TYPE_Q4_0, in.w.data(), kHuge, K, nullptr, dst.data(), bytes));
  // Non-finite values anywhere, even in the last element.
  for (float bad : {NAN, INFINITY, -INFINITY}) {
    std::vector<float> w = in.w;
    w.back() = bad;
    EXPECT_FAILS(Q4R_E_VALUE, q(Q4R_TYPE_IQ4_NL, w.data(), N, K, nullptr, dst.data(), bytes));
    std::vector<float> im = in.im;
    im[K / 2] = bad;
    EXPECT_FAILS(Q4R_E_VALUE, q(Q4R_TYPE_Q4_0, in.w.data(), N, K, im.data(), dst.data(), bytes));
  }
  std::vector<float> negative = in.im;
  negative[3] = -1.f;
  EXPECT_FAILS(Q4R_E_VALUE,
               q(Q4R_TYPE_IQ4_NL, in.w.data(), N, K, negative.data(), dst.data(), bytes));
  EXPECT_FAILS(Q4R_E_ALIGNMENT, q(Q4R_TYPE_Q4_0, in.w.data(), N, K, misaligned, dst.data(), bytes));
  Canary q8(N * K / 32 * 34);
  EXPECT_FAILS(Q4R_E_UNSUPPORTED,
               q(Q4R_TYPE_Q8_0, in.w.data(), N, K, in.im.data(), q8.data(), N * K / 32 * 34));
  EXPECT_TRUE(dst.intact());
  EXPECT_TRUE(q8.intact());
}

TEST(ApiErrors, QuantizeOverlap) {
  // src and dst in one allocation, overlapping: refused, nothing written.
  Inputs in;
  const size_t bytes = in.q4.size();
  std::vector<float> buf(N * K + bytes);
  std::memcpy(buf.data(), in.w.data(), N * K * 4);
  const std::vector<float> before = buf;
  EXPECT_FAILS(Q4R_E_OVERLAP,
               q4r_quantize(Q4R_TYPE_Q4_0, buf.data(), N, K, nullptr, buf.data() + 8, bytes));
  EXPECT_FAILS(Q4R_E_OVERLAP,
               q4r_quantize(Q4R_TYPE_Q4_0, buf.data() + 100, N, K, nullptr, buf.data(), bytes));
  // The importance matrix must not overlap the output either.
  std::vector<float> w2(N * K + K);
  std::memcpy(w2.data(), in.w.data(), N * K * 4);
  std::vector<float> out_im(bytes / 4 + K, 1.f);
  const std::vector<float> out_before = out_im;
  EXPECT_FAILS(Q4R_E_OVERLAP, q4r_quantize(Q4R_TYPE_IQ4_NL, in.w.data(), N, K, out_im.data() + 4,
                                           out_im.data(), bytes));
  EXPECT_EQ(buf, before);
  EXPECT_EQ(out_im, out_before);
  // Adjacent (touching, not overlapping) buffers are fine.
  std::vector<uint8_t> adjacent(N * K * 4 + bytes);
  std::memcpy(adjacent.data(), in.w.data(), N * K * 4);
  EXPECT_EQ(q4r_quantize(Q4R_TYPE_Q4_0, reinterpret_cast<float*>(adjacent.data()), N, K, nullptr,
                         adjacent.data() + N * K * 4, bytes),
            Q4R_OK)
      << q4r_last_error();
}

TEST(ApiErrors, Dequantize) {
  Inputs in;
  const size_t bytes = in.q4.size();
  Canary dst(N * K * 4);
  EXPECT_FAILS(Q4R_E_ARGUMENT,
               q4r_dequantize(q4r_type(3), in.q4.data(), bytes, N, K, dst.floats()));
  EXPECT_FAILS(Q4R_E_NULL, q4r_dequantize(Q4R_TYPE_Q4_0, nullptr, bytes, N, K, dst.floats()));
  EXPECT_FAILS(Q4R_E_NULL, q4r_dequantize(Q4R_TYPE_Q4_0, in.q4.data(), bytes, N, K, nullptr));
  EXPECT_FAILS(Q4R_E_ALIGNMENT, q4r_dequantize(Q4R_TYPE_Q4_0, in.q4.data(), bytes, N, K,
                                               reinterpret_cast<float*>(dst.data() + 2)));
  EXPECT_FAILS(Q4R_E_SIZE,
               q4r_dequantize(Q4R_TYPE_Q4_0, in.q4.data(), bytes - 18, N, K, dst.floats()));
  EXPECT_FAILS(Q4R_E_SIZE, q4r_dequantize(Q4R_TYPE_Q8_0, in.q4.data(), bytes, N, K, dst.floats()));
  EXPECT_FAILS(Q4R_E_SHAPE,
               q4r_dequantize(Q4R_TYPE_Q4_0, in.q4.data(), bytes, N, 40, dst.floats()));
  EXPECT_FAILS(Q4R_E_SHAPE, q4r_dequantize(Q4R_TYPE_Q4_0, in.q4.data(), bytes, 0, K, dst.floats()));
  EXPECT_FAILS(Q4R_E_SHAPE,
               q4r_dequantize(Q4R_TYPE_Q4_0, in.q4.data(), bytes, kHuge, K, dst.floats()));
  EXPECT_TRUE(dst.intact());
  // Overlap: the blocks inside the float output.
  std::vector<float> buf(N * K);
  std::memcpy(buf.data(), in.q4.data(), bytes);
  const std::vector<float> before = buf;
  EXPECT_FAILS(Q4R_E_OVERLAP, q4r_dequantize(Q4R_TYPE_Q4_0, buf.data(), bytes, N, K, buf.data()));
  EXPECT_EQ(std::memcmp(buf.data(), before.data(), buf.size() * 4), 0);
}

TEST(ApiErrors, RepackAndUnpack) {
  Inputs in;
  const size_t bytes = in.q4.size();
  using Fn = q4r_status (*)(q4r_type, q4r_layout, const void*, void*, size_t, int64_t, int64_t);
  for (Fn fn : {Fn(q4r_repack), Fn(q4r_unpack)}) {
    Canary dst(bytes);
    const uint8_t* s = in.q4.data();
    EXPECT_FAILS(Q4R_E_UNSUPPORTED, fn(Q4R_TYPE_Q8_0, Q4R_LAYOUT_4X4, s, dst.data(), bytes, N, K));
    EXPECT_FAILS(Q4R_E_ARGUMENT, fn(q4r_type(9), Q4R_LAYOUT_4X4, s, dst.data(), bytes, N, K));
    EXPECT_FAILS(Q4R_E_ARGUMENT, fn(Q4R_TYPE_Q4_0, Q4R_LAYOUT_PLAIN, s, dst.data(), bytes, N, K));
    EXPECT_FAILS(Q4R_E_ARGUMENT, fn(Q4R_TYPE_Q4_0, q4r_layout(4), s, dst.data(), bytes, N, K));
    EXPECT_FAILS(Q4R_E_ARGUMENT, fn(Q4R_TYPE_Q4_0, q4r_layout(-1), s, dst.data(), bytes, N, K));
    EXPECT_FAILS(Q4R_E_NULL, fn(Q4R_TYPE_Q4_0, Q4R_LAYOUT_8X8, nullptr, dst.data(), bytes, N, K));
    EXPECT_FAILS(Q4R_E_NULL, fn(Q4R_TYPE_Q4_0, Q4R_LAYOUT_8X8, s, nullptr, bytes, N, K));
    EXPECT_FAILS(Q4R_E_SIZE, fn(Q4R_TYPE_Q4_0, Q4R_LAYOUT_8X8, s, dst.data(), bytes - 1, N, K));
    EXPECT_FAILS(Q4R_E_SIZE, fn(Q4R_TYPE_Q4_0, Q4R_LAYOUT_8X8, s, dst.data(), 0, N, K));
    EXPECT_FAILS(Q4R_E_SHAPE, fn(Q4R_TYPE_Q4_0, Q4R_LAYOUT_8X8, s, dst.data(), bytes, N, 100));
    EXPECT_FAILS(Q4R_E_SHAPE, fn(Q4R_TYPE_Q4_0, Q4R_LAYOUT_8X8, s, dst.data(), bytes, 0, K));
    EXPECT_FAILS(Q4R_E_SHAPE, fn(Q4R_TYPE_Q4_0, Q4R_LAYOUT_8X8, s, dst.data(), bytes, N, 0));
    EXPECT_FAILS(Q4R_E_SHAPE, fn(Q4R_TYPE_Q4_0, Q4R_LAYOUT_8X8, s, dst.data(), bytes, kMax, K));
    EXPECT_TRUE(dst.intact());
    // Overlapping but not identical: refused, untouched.
    std::vector<uint8_t> buf(2 * bytes, kCanary);
    std::memcpy(buf.data(), s, bytes);
    const std::vector<uint8_t> before = buf;
    EXPECT_FAILS(Q4R_E_OVERLAP,
                 fn(Q4R_TYPE_Q4_0, Q4R_LAYOUT_4X8, buf.data(), buf.data() + 18, bytes, N, K));
    EXPECT_FAILS(Q4R_E_OVERLAP,
                 fn(Q4R_TYPE_Q4_0, Q4R_LAYOUT_4X8, buf.data() + 1, buf.data(), bytes, N, K));
    EXPECT_EQ(buf, before);
  }
  using InPlace = q4r_status (*)(q4r_type, q4r_layout, void*, size_t, int64_t, int64_t);
  for (InPlace fn : {InPlace(q4r_repack_inplace), InPlace(q4r_unpack_inplace)}) {
    std::vector<uint8_t> data = in.q4;
    EXPECT_FAILS(Q4R_E_NULL, fn(Q4R_TYPE_IQ4_NL, Q4R_LAYOUT_4X4, nullptr, bytes, N, K));
    EXPECT_FAILS(Q4R_E_SIZE, fn(Q4R_TYPE_IQ4_NL, Q4R_LAYOUT_4X4, data.data(), bytes + 1, N, K));
    EXPECT_FAILS(Q4R_E_SHAPE, fn(Q4R_TYPE_IQ4_NL, Q4R_LAYOUT_4X4, data.data(), bytes, N, 31));
    EXPECT_FAILS(Q4R_E_ARGUMENT, fn(Q4R_TYPE_IQ4_NL, Q4R_LAYOUT_PLAIN, data.data(), bytes, N, K));
    EXPECT_FAILS(Q4R_E_UNSUPPORTED, fn(Q4R_TYPE_Q8_0, Q4R_LAYOUT_4X4, data.data(), bytes, N, K));
    EXPECT_EQ(data, in.q4);
  }
}

TEST(ApiErrors, ActivationQuantizers) {
  Inputs in;
  const size_t rows_bytes = M * K / 32 * 34;
  Canary dst(rows_bytes);
  const float* x = in.x.data();
  EXPECT_FAILS(Q4R_E_NULL, q4r_quantize_q8_0_rows(nullptr, K, M, K, dst.data(), rows_bytes));
  EXPECT_FAILS(Q4R_E_NULL, q4r_quantize_q8_0_rows(x, K, M, K, nullptr, rows_bytes));
  EXPECT_FAILS(
      Q4R_E_ALIGNMENT,
      q4r_quantize_q8_0_rows(reinterpret_cast<const float*>(reinterpret_cast<const char*>(x) + 3),
                             K, M, K, dst.data(), rows_bytes));
  EXPECT_FAILS(Q4R_E_ARGUMENT, q4r_quantize_q8_0_rows(x, K - 1, M, K, dst.data(), rows_bytes));
  EXPECT_FAILS(Q4R_E_SIZE, q4r_quantize_q8_0_rows(x, K, M, K, dst.data(), rows_bytes - 34));
  EXPECT_FAILS(Q4R_E_SHAPE, q4r_quantize_q8_0_rows(x, K, 0, K, dst.data(), rows_bytes));
  EXPECT_FAILS(Q4R_E_SHAPE, q4r_quantize_q8_0_rows(x, K, M, 20, dst.data(), rows_bytes));
  EXPECT_FAILS(Q4R_E_SHAPE, q4r_quantize_q8_0_rows(x, K, kHuge, K, dst.data(), rows_bytes));
  std::vector<float> bad = in.x;
  bad[M * K - 1] = NAN;
  EXPECT_FAILS(Q4R_E_VALUE, q4r_quantize_q8_0_rows(bad.data(), K, M, K, dst.data(), rows_bytes));
  // x4 groups: m a multiple of 4, chunk 4 or 8.
  const size_t g_bytes = 4 * K / 32 * 34;
  EXPECT_FAILS(Q4R_E_SHAPE, q4r_quantize_q8_0_x4(x, K, M, K, 4, dst.data(), rows_bytes));
  EXPECT_FAILS(Q4R_E_ARGUMENT, q4r_quantize_q8_0_x4(x, K, 4, K, 2, dst.data(), g_bytes));
  EXPECT_FAILS(Q4R_E_ARGUMENT, q4r_quantize_q8_0_x4(x, K, 4, K, 16, dst.data(), g_bytes));
  EXPECT_FAILS(Q4R_E_SIZE, q4r_quantize_q8_0_x4(x, K, 4, K, 8, dst.data(), g_bytes + 1));
  EXPECT_FAILS(Q4R_E_NULL, q4r_quantize_q8_0_x4(x, K, 4, K, 8, nullptr, g_bytes));
  EXPECT_FAILS(Q4R_E_VALUE, q4r_quantize_q8_0_x4(bad.data() + K, K, 4, K, 8, dst.data(), g_bytes));
  EXPECT_TRUE(dst.intact());
  // Input and output overlapping.
  std::vector<float> buf(M * K + rows_bytes / 4 + 1);
  std::memcpy(buf.data(), x, M * K * 4);
  const std::vector<float> before = buf;
  EXPECT_FAILS(Q4R_E_OVERLAP,
               q4r_quantize_q8_0_rows(buf.data(), K, M, K, buf.data() + 4, rows_bytes));
  EXPECT_FAILS(Q4R_E_OVERLAP,
               q4r_quantize_q8_0_x4(buf.data(), K, 4, K, 4, buf.data() + K, g_bytes));
  EXPECT_EQ(std::memcmp(buf.data(), before.data(), buf.size() * 4), 0);
}

TEST(ApiErrors, WorkspaceAndRun) {
  Inputs in;
  const size_t wb = in.q4.size();
  size_t ws_bytes = 0;
  size_t out = 777;
  EXPECT_FAILS(Q4R_E_NULL, q4r_workspace_size(Q4R_LAYOUT_8X8, N, M, K, nullptr));
  EXPECT_FAILS(Q4R_E_ARGUMENT, q4r_workspace_size(q4r_layout(7), N, M, K, &out));
  EXPECT_FAILS(Q4R_E_SHAPE, q4r_workspace_size(Q4R_LAYOUT_8X8, 0, M, K, &out));
  EXPECT_FAILS(Q4R_E_SHAPE, q4r_workspace_size(Q4R_LAYOUT_8X8, N, 0, K, &out));
  EXPECT_FAILS(Q4R_E_SHAPE, q4r_workspace_size(Q4R_LAYOUT_8X8, N, M, 33, &out));
  EXPECT_FAILS(Q4R_E_SHAPE, q4r_workspace_size(Q4R_LAYOUT_8X8, N, kHuge, K, &out));
  EXPECT_FAILS(Q4R_E_SHAPE, q4r_workspace_size(Q4R_LAYOUT_8X8, N, kMax, kMax - 31, &out));
  EXPECT_EQ(out, 777u);
  ASSERT_EQ(q4r_workspace_size(Q4R_LAYOUT_8X8, N, M, K, &ws_bytes), Q4R_OK);

  const float* x = in.x.data();
  Canary ws(ws_bytes);
  auto qa = [&](int64_t r0, int64_t r1) {
    return q4r_quantize_activations_rows(Q4R_LAYOUT_8X8, N, x, K, M, K, r0, r1, ws.data(),
                                         ws_bytes);
  };
  EXPECT_FAILS(Q4R_E_ARGUMENT, qa(-4, M));
  EXPECT_FAILS(Q4R_E_ARGUMENT, qa(0, M + 1));
  EXPECT_FAILS(Q4R_E_ARGUMENT, qa(4, 4));
  EXPECT_FAILS(Q4R_E_ARGUMENT, qa(4, 0));
  EXPECT_FAILS(Q4R_E_ARGUMENT, qa(2, M));
  EXPECT_FAILS(Q4R_E_ARGUMENT, qa(0, 3));
  EXPECT_FAILS(Q4R_E_SIZE,
               q4r_quantize_activations(Q4R_LAYOUT_8X8, N, x, K, M, K, ws.data(), ws_bytes - 1));
  EXPECT_FAILS(Q4R_E_NULL,
               q4r_quantize_activations(Q4R_LAYOUT_8X8, N, x, K, M, K, nullptr, ws_bytes));
  EXPECT_FAILS(Q4R_E_NULL,
               q4r_quantize_activations(Q4R_LAYOUT_8X8, N, nullptr, K, M, K, ws.data(), ws_bytes));
  EXPECT_FAILS(Q4R_E_ARGUMENT,
               q4r_quantize_activations(Q4R_LAYOUT_8X8, N, x, 10, M, K, ws.data(), ws_bytes));
  EXPECT_FAILS(Q4R_E_ARGUMENT,
               q4r_quantize_activations(q4r_layout(5), N, x, K, M, K, ws.data(), ws_bytes));
  std::vector<float> bad = in.x;
  bad[2 * K + 5] = INFINITY;
  EXPECT_FAILS(Q4R_E_VALUE, q4r_quantize_activations(Q4R_LAYOUT_8X8, N, bad.data(), K, M, K,
                                                     ws.data(), ws_bytes));
  EXPECT_TRUE(ws.intact());
  // x overlapping the workspace.
  {
    std::vector<float> buf(M * K + ws_bytes / 4 + 1);
    std::memcpy(buf.data(), x, M * K * 4);
    const std::vector<float> before = buf;
    EXPECT_FAILS(Q4R_E_OVERLAP, q4r_quantize_activations(Q4R_LAYOUT_8X8, N, buf.data(), K, M, K,
                                                         buf.data() + K, ws_bytes));
    EXPECT_EQ(std::memcmp(buf.data(), before.data(), buf.size() * 4), 0);
  }

  // q4r_run on a valid workspace.
  std::vector<uint8_t> packed(wb), work(ws_bytes);
  ASSERT_EQ(q4r_repack(Q4R_TYPE_Q4_0, Q4R_LAYOUT_8X8, in.q4.data(), packed.data(), wb, N, K),
            Q4R_OK);
  ASSERT_EQ(q4r_quantize_activations(Q4R_LAYOUT_8X8, N, x, K, M, K, work.data(), ws_bytes), Q4R_OK);
  Canary y(M * N * 4);
  auto run = [&](q4r_type t, const void* w, size_t w_size, const void* wsp, size_t wsp_size,
                 float* yp, size_t y_stride, int64_t c0, int64_t c1) {
    return q4r_run(t, Q4R_LAYOUT_8X8, w, w_size, N, K, wsp, wsp_size, M, yp, y_stride, c0, c1);
  };
  const uint8_t* w = packed.data();
  const uint8_t* wk = work.data();
  float* yp = y.floats();
  EXPECT_FAILS(Q4R_E_UNSUPPORTED, run(Q4R_TYPE_Q8_0, w, wb, wk, ws_bytes, yp, N, 0, N));
  EXPECT_FAILS(Q4R_E_ARGUMENT, run(q4r_type(4), w, wb, wk, ws_bytes, yp, N, 0, N));
  EXPECT_FAILS(Q4R_E_NULL, run(Q4R_TYPE_Q4_0, nullptr, wb, wk, ws_bytes, yp, N, 0, N));
  EXPECT_FAILS(Q4R_E_NULL, run(Q4R_TYPE_Q4_0, w, wb, nullptr, ws_bytes, yp, N, 0, N));
  EXPECT_FAILS(Q4R_E_NULL, run(Q4R_TYPE_Q4_0, w, wb, wk, ws_bytes, nullptr, N, 0, N));
  EXPECT_FAILS(Q4R_E_ALIGNMENT, run(Q4R_TYPE_Q4_0, w, wb, wk, ws_bytes,
                                    reinterpret_cast<float*>(y.data() + 1), N, 0, N));
  EXPECT_FAILS(Q4R_E_SIZE, run(Q4R_TYPE_Q4_0, w, wb - 18, wk, ws_bytes, yp, N, 0, N));
  EXPECT_FAILS(Q4R_E_SIZE, run(Q4R_TYPE_Q4_0, w, wb, wk, ws_bytes + 4, yp, N, 0, N));
  EXPECT_FAILS(Q4R_E_ARGUMENT, run(Q4R_TYPE_Q4_0, w, wb, wk, ws_bytes, yp, N - 1, 0, N));
  EXPECT_FAILS(Q4R_E_ARGUMENT,
               run(Q4R_TYPE_Q4_0, w, wb, wk, ws_bytes, yp, N, 4, N));  // not a multiple of 8
  EXPECT_FAILS(Q4R_E_ARGUMENT,
               run(Q4R_TYPE_Q4_0, w, wb, wk, ws_bytes, yp, N, 0, 4));  // neither 8k nor n
  EXPECT_FAILS(Q4R_E_ARGUMENT, run(Q4R_TYPE_Q4_0, w, wb, wk, ws_bytes, yp, N, -8, N));
  EXPECT_FAILS(Q4R_E_ARGUMENT, run(Q4R_TYPE_Q4_0, w, wb, wk, ws_bytes, yp, N, 0, N + 8));
  EXPECT_FAILS(Q4R_E_ARGUMENT, run(Q4R_TYPE_Q4_0, w, wb, wk, ws_bytes, yp, N, 8, 8));
  EXPECT_FAILS(Q4R_E_ARGUMENT, run(Q4R_TYPE_Q4_0, w, wb, wk, ws_bytes, yp, N, 8, 0));
  EXPECT_TRUE(y.intact());
  // y overlapping the weights or the workspace.
  {
    std::vector<float> buf(wb / 4 + M * N + 1);
    std::memcpy(buf.data(), w, wb);
    const std::vector<float> before = buf;
    EXPECT_FAILS(Q4R_E_OVERLAP,
                 run(Q4R_TYPE_Q4_0, buf.data(), wb, wk, ws_bytes, buf.data() + 8, N, 0, N));
    EXPECT_EQ(std::memcmp(buf.data(), before.data(), buf.size() * 4), 0);
    std::vector<float> wbuf(ws_bytes / 4 + M * N + 1);
    std::memcpy(wbuf.data(), wk, ws_bytes);
    const std::vector<float> wbefore = wbuf;
    EXPECT_FAILS(Q4R_E_OVERLAP,
                 run(Q4R_TYPE_Q4_0, w, wb, wbuf.data(), ws_bytes, wbuf.data() + 2, N, 0, N));
    EXPECT_EQ(std::memcmp(wbuf.data(), wbefore.data(), wbuf.size() * 4), 0);
  }
  // The valid call works (so the failures above were about the argument that changed).
  EXPECT_EQ(run(Q4R_TYPE_Q4_0, w, wb, wk, ws_bytes, yp, N, 0, N), Q4R_OK) << q4r_last_error();
}

TEST(ApiErrors, Matmul) {
  Inputs in;
  const size_t wb = in.q4.size();
  const float* x = in.x.data();
  const uint8_t* w = in.q4.data();
  Canary y(M * N * 4);
  float* yp = y.floats();
  auto mm = [&](q4r_type t, q4r_layout l, const void* wp, size_t w_size, int64_t n, int64_t k,
                const float* xp, int64_t m,
                float* out) { return q4r_matmul(t, l, wp, w_size, n, k, xp, m, out, 1); };
  EXPECT_FAILS(Q4R_E_UNSUPPORTED, mm(Q4R_TYPE_Q8_0, Q4R_LAYOUT_PLAIN, w, wb, N, K, x, M, yp));
  EXPECT_FAILS(Q4R_E_ARGUMENT, mm(q4r_type(-3), Q4R_LAYOUT_PLAIN, w, wb, N, K, x, M, yp));
  EXPECT_FAILS(Q4R_E_ARGUMENT, mm(Q4R_TYPE_Q4_0, q4r_layout(4), w, wb, N, K, x, M, yp));
  EXPECT_FAILS(Q4R_E_NULL, mm(Q4R_TYPE_Q4_0, Q4R_LAYOUT_PLAIN, nullptr, wb, N, K, x, M, yp));
  EXPECT_FAILS(Q4R_E_NULL, mm(Q4R_TYPE_Q4_0, Q4R_LAYOUT_PLAIN, w, wb, N, K, nullptr, M, yp));
  EXPECT_FAILS(Q4R_E_NULL, mm(Q4R_TYPE_Q4_0, Q4R_LAYOUT_PLAIN, w, wb, N, K, x, M, nullptr));
  EXPECT_FAILS(Q4R_E_ALIGNMENT,
               mm(Q4R_TYPE_Q4_0, Q4R_LAYOUT_PLAIN, w, wb, N, K,
                  reinterpret_cast<const float*>(reinterpret_cast<const char*>(x) + 2), M, yp));
  EXPECT_FAILS(Q4R_E_ALIGNMENT, mm(Q4R_TYPE_Q4_0, Q4R_LAYOUT_PLAIN, w, wb, N, K, x, M,
                                   reinterpret_cast<float*>(y.data() + 3)));
  EXPECT_FAILS(Q4R_E_SIZE, mm(Q4R_TYPE_Q4_0, Q4R_LAYOUT_4X4, w, wb + 1, N, K, x, M, yp));
  EXPECT_FAILS(Q4R_E_SIZE, mm(Q4R_TYPE_Q4_0, Q4R_LAYOUT_4X4, w, wb, N - 1, K, x, M, yp));
  EXPECT_FAILS(Q4R_E_SHAPE, mm(Q4R_TYPE_Q4_0, Q4R_LAYOUT_4X4, w, wb, N, 50, x, M, yp));
  EXPECT_FAILS(Q4R_E_SHAPE, mm(Q4R_TYPE_Q4_0, Q4R_LAYOUT_4X4, w, wb, N, K, x, 0, yp));
  EXPECT_FAILS(Q4R_E_SHAPE, mm(Q4R_TYPE_Q4_0, Q4R_LAYOUT_4X4, w, wb, N, K, x, -M, yp));
  EXPECT_FAILS(Q4R_E_SHAPE, mm(Q4R_TYPE_Q4_0, Q4R_LAYOUT_4X4, w, wb, 0, K, x, M, yp));
  EXPECT_FAILS(Q4R_E_SHAPE, mm(Q4R_TYPE_Q4_0, Q4R_LAYOUT_4X4, w, wb, N, K, x, kHuge, yp));
  EXPECT_FAILS(Q4R_E_SHAPE, mm(Q4R_TYPE_Q4_0, Q4R_LAYOUT_4X4, w, wb, kMax, K, x, M, yp));
  for (float v : {NAN, INFINITY}) {
    std::vector<float> bad = in.x;
    bad[(M - 1) * K + 7] = v;
    EXPECT_FAILS(Q4R_E_VALUE, mm(Q4R_TYPE_IQ4_NL, Q4R_LAYOUT_8X8, w, wb, N, K, bad.data(), M, yp));
  }
  EXPECT_TRUE(y.intact());
  // y overlapping x or the weights.
  std::vector<float> xy(M * K + M * N);
  std::memcpy(xy.data(), x, M * K * 4);
  const std::vector<float> xy_before = xy;
  EXPECT_FAILS(Q4R_E_OVERLAP,
               mm(Q4R_TYPE_Q4_0, Q4R_LAYOUT_PLAIN, w, wb, N, K, xy.data(), M, xy.data() + K));
  EXPECT_EQ(std::memcmp(xy.data(), xy_before.data(), xy.size() * 4), 0);
  std::vector<float> wy(wb / 4 + M * N + 1);
  std::memcpy(wy.data(), w, wb);
  const std::vector<float> wy_before = wy;
  EXPECT_FAILS(Q4R_E_OVERLAP,
               mm(Q4R_TYPE_Q4_0, Q4R_LAYOUT_PLAIN, wy.data(), wb, N, K, x, M, wy.data() + 1));
  EXPECT_EQ(std::memcmp(wy.data(), wy_before.data(), wy.size() * 4), 0);
}

TEST(ApiErrors, ContextFunctions) {
  Inputs in;
  q4r_context* ctx = nullptr;
  ASSERT_EQ(q4r_context_create(nullptr, &ctx), Q4R_OK);
  q4r_context_options_init(nullptr);  // ignored, no crash
  EXPECT_EQ(q4r_context_threads(nullptr), 0);
  const q4r_weights good{Q4R_TYPE_Q4_0, Q4R_LAYOUT_PLAIN, in.q4.data(), in.q4.size(), N, K};
  size_t out = 555;
  EXPECT_FAILS(Q4R_E_NULL, q4r_context_workspace_size(nullptr, &good, M, &out));
  EXPECT_FAILS(Q4R_E_NULL, q4r_context_workspace_size(ctx, nullptr, M, &out));
  EXPECT_FAILS(Q4R_E_NULL, q4r_context_workspace_size(ctx, &good, M, nullptr));
  EXPECT_FAILS(Q4R_E_SHAPE, q4r_context_workspace_size(ctx, &good, 0, &out));
  EXPECT_EQ(out, 555u);

  Canary y(M * N * 4);
  float* yp = y.floats();
  const float* x = in.x.data();
  auto cm = [&](const q4r_context* c, const q4r_weights* w, const float* xp, size_t xs, int64_t m,
                float* yq,
                size_t ys) { return q4r_context_matmul(c, w, xp, xs, m, yq, ys, nullptr, 0); };
  q4r_weights bad = good;
  EXPECT_FAILS(Q4R_E_NULL, cm(nullptr, &good, x, K, M, yp, N));
  EXPECT_FAILS(Q4R_E_NULL, cm(ctx, nullptr, x, K, M, yp, N));
  bad.type = Q4R_TYPE_Q8_0;
  EXPECT_FAILS(Q4R_E_ARGUMENT, cm(ctx, &bad, x, K, M, yp, N));
  bad = good;
  bad.layout = q4r_layout(6);
  EXPECT_FAILS(Q4R_E_ARGUMENT, cm(ctx, &bad, x, K, M, yp, N));
  bad = good;
  bad.data = nullptr;
  EXPECT_FAILS(Q4R_E_NULL, cm(ctx, &bad, x, K, M, yp, N));
  bad = good;
  bad.size -= 1;
  EXPECT_FAILS(Q4R_E_SIZE, cm(ctx, &bad, x, K, M, yp, N));
  bad = good;
  bad.k = 63;
  EXPECT_FAILS(Q4R_E_SHAPE, cm(ctx, &bad, x, K, M, yp, N));
  bad = good;
  bad.n = kHuge;
  EXPECT_FAILS(Q4R_E_SHAPE, cm(ctx, &bad, x, K, M, yp, N));
  EXPECT_FAILS(Q4R_E_NULL, cm(ctx, &good, nullptr, K, M, yp, N));
  EXPECT_FAILS(Q4R_E_NULL, cm(ctx, &good, x, K, M, nullptr, N));
  EXPECT_FAILS(Q4R_E_ALIGNMENT, cm(ctx, &good, x, K, M, reinterpret_cast<float*>(y.data() + 1), N));
  EXPECT_FAILS(Q4R_E_ARGUMENT, cm(ctx, &good, x, K - 1, M, yp, N));
  EXPECT_FAILS(Q4R_E_ARGUMENT, cm(ctx, &good, x, K, M, yp, N - 1));
  EXPECT_FAILS(Q4R_E_SHAPE, cm(ctx, &good, x, K, 0, yp, N));
  std::vector<float> nan_x = in.x;
  nan_x[3] = NAN;
  EXPECT_FAILS(Q4R_E_VALUE, cm(ctx, &good, nan_x.data(), K, M, yp, N));
  std::vector<uint8_t> small_ws(16);
  EXPECT_FAILS(Q4R_E_SIZE,
               q4r_context_matmul(ctx, &good, x, K, M, yp, N, small_ws.data(), small_ws.size()));
  EXPECT_FAILS(Q4R_E_SIZE, q4r_context_matmul(ctx, &good, x, K, M, yp, N, nullptr, 64));
  EXPECT_TRUE(y.intact());

  // MoE: bad routing ids, counts and strides; y untouched.
  const int64_t E = 2, used = 1;
  std::vector<uint8_t> experts(2 * in.q4.size());
  std::memcpy(experts.data(), in.q4.data(), in.q4.size());
  std::memcpy(experts.data() + in.q4.size(), in.q4.data(), in.q4.size());
  const q4r_weights ew{Q4R_TYPE_Q4_0, Q4R_LAYOUT_PLAIN, experts.data(), experts.size(), N, K};
  std::vector<int32_t> ids(M, 1);
  auto mid = [&](const q4r_weights* w, int64_t e, const int32_t* id, size_t id_stride,
                 int64_t n_used) {
    return q4r_context_matmul_id(ctx, w, e, x, K, 0, M, id, id_stride, n_used, yp, N);
  };
  EXPECT_FAILS(Q4R_E_NULL, mid(nullptr, E, ids.data(), 1, used));
  EXPECT_FAILS(Q4R_E_NULL, mid(&ew, E, nullptr, 1, used));
  EXPECT_FAILS(Q4R_E_ARGUMENT, mid(&ew, 0, ids.data(), 1, used));
  EXPECT_FAILS(Q4R_E_ARGUMENT, mid(&ew, E, ids.data(), 1, 0));
  EXPECT_FAILS(Q4R_E_ARGUMENT, mid(&ew, E, ids.data(), 1, E + 1));
  EXPECT_FAILS(Q4R_E_ARGUMENT, mid(&ew, E, ids.data(), 0, used));
  EXPECT_FAILS(Q4R_E_SIZE, mid(&ew, 3, ids.data(), 1, used));
  std::vector<int32_t> bad_ids = ids;
  bad_ids[M - 1] = 2;
  EXPECT_FAILS(Q4R_E_ARGUMENT, mid(&ew, E, bad_ids.data(), 1, used));
  bad_ids[M - 1] = -1;
  EXPECT_FAILS(Q4R_E_ARGUMENT, mid(&ew, E, bad_ids.data(), 1, used));
  EXPECT_FAILS(Q4R_E_VALUE, q4r_context_matmul_id(ctx, &ew, E, nan_x.data(), K, 0, M, ids.data(), 1,
                                                  used, yp, N));
  EXPECT_TRUE(y.intact());
  q4r_context_destroy(ctx);
}

// A float buffer with a snapshot, to check that a refused call wrote nothing into it.
struct Snapshot {
  explicit Snapshot(std::vector<float> v) : now(std::move(v)), before(now) {}
  float* at(size_t i) { return now.data() + i; }
  bool unchanged() const { return std::memcmp(now.data(), before.data(), now.size() * 4) == 0; }
  std::vector<float> now, before;
};

// The context calls refuse a y (or a caller workspace) that shares a byte with what they read,
// computed from the exact strided spans, and leave every buffer as it was.
TEST(ApiErrors, ContextOverlap) {
  Inputs in;
  q4r_context* ctx = nullptr;
  ASSERT_EQ(q4r_context_create(nullptr, &ctx), Q4R_OK);
  const q4r_weights good{Q4R_TYPE_Q4_0, Q4R_LAYOUT_PLAIN, in.q4.data(), in.q4.size(), N, K};
  const size_t wb = in.q4.size();
  size_t ws_bytes = 0;
  ASSERT_EQ(q4r_context_workspace_size(ctx, &good, M, &ws_bytes), Q4R_OK);

  // y inside x, or touching only x's last value; y right after x is fine.
  const size_t xs = K + 8;  // x rows in a wider stride: its span is (M - 1) * xs + K floats
  const size_t x_span = (M - 1) * xs + K;
  std::vector<float> xy_init(x_span + M * N, 0.f);
  for (int64_t r = 0; r < M; ++r) std::memcpy(&xy_init[r * xs], &in.x[r * K], K * 4);
  for (size_t y_at : {size_t{K}, x_span - 1}) {
    Snapshot xy(xy_init);
    EXPECT_FAILS(Q4R_E_OVERLAP,
                 q4r_context_matmul(ctx, &good, xy.at(0), xs, M, xy.at(y_at), N, nullptr, 0));
    EXPECT_TRUE(xy.unchanged()) << "y at " << y_at;
  }
  {
    Snapshot xy(xy_init);
    EXPECT_EQ(q4r_context_matmul(ctx, &good, xy.at(0), xs, M, xy.at(x_span), N, nullptr, 0), Q4R_OK)
        << q4r_last_error();
  }
  // y overlapping the weights (its last row only, through a wide y stride).
  {
    const size_t ys = N + 4;
    Snapshot wy(std::vector<float>((M - 1) * ys + N + wb / 4, 0.f));
    std::memcpy(wy.at((M - 1) * ys + N - 1), in.q4.data(), wb);
    wy.before = wy.now;
    const q4r_weights w{Q4R_TYPE_Q4_0, Q4R_LAYOUT_PLAIN, wy.at((M - 1) * ys + N - 1), wb, N, K};
    EXPECT_FAILS(Q4R_E_OVERLAP,
                 q4r_context_matmul(ctx, &w, in.x.data(), K, M, wy.at(0), ys, nullptr, 0));
    EXPECT_TRUE(wy.unchanged());
  }
  // A caller workspace overlapping y, x or the weights.
  {
    Snapshot buf(std::vector<float>(ws_bytes / 4 + M * N + 1, 0.f));
    EXPECT_FAILS(Q4R_E_OVERLAP,
                 q4r_context_matmul(ctx, &good, in.x.data(), K, M, buf.at(ws_bytes / 4 - 1), N,
                                    buf.at(0), ws_bytes));
    EXPECT_TRUE(buf.unchanged());
  }
  {
    Snapshot xw(std::vector<float>(M * K + ws_bytes / 4 + 1, 0.f));
    std::memcpy(xw.at(0), in.x.data(), M * K * 4);
    xw.before = xw.now;
    Canary y(M * N * 4);
    EXPECT_FAILS(Q4R_E_OVERLAP, q4r_context_matmul(ctx, &good, xw.at(0), K, M, y.floats(), N,
                                                   xw.at(M * K - 1), ws_bytes));
    EXPECT_TRUE(xw.unchanged());
    EXPECT_TRUE(y.intact());
    std::vector<uint8_t> ww(wb + ws_bytes);
    std::memcpy(ww.data(), in.q4.data(), wb);
    const std::vector<uint8_t> ww_before = ww;
    const q4r_weights w{Q4R_TYPE_Q4_0, Q4R_LAYOUT_PLAIN, ww.data(), wb, N, K};
    EXPECT_FAILS(Q4R_E_OVERLAP, q4r_context_matmul(ctx, &w, in.x.data(), K, M, y.floats(), N,
                                                   ww.data() + 4, ws_bytes));
    EXPECT_EQ(ww, ww_before);
    EXPECT_TRUE(y.intact());
  }

  // MoE: y (m * n_used rows) overlapping x, the expert weights or the ids.
  const int64_t E = 2, used = 2;
  const size_t y_floats = M * used * N;
  std::vector<float> experts_init(2 * wb / 4);
  std::memcpy(experts_init.data(), in.q4.data(), wb);
  std::memcpy(reinterpret_cast<uint8_t*>(experts_init.data()) + wb, in.q4.data(), wb);
  std::vector<int32_t> ids(M * used);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i % 2);
  {
    Snapshot xy(std::vector<float>(M * K + y_floats, 0.f));
    std::memcpy(xy.at(0), in.x.data(), M * K * 4);
    xy.before = xy.now;
    const q4r_weights ew{Q4R_TYPE_Q4_0, Q4R_LAYOUT_PLAIN, experts_init.data(), 2 * wb, N, K};
    EXPECT_FAILS(Q4R_E_OVERLAP, q4r_context_matmul_id(ctx, &ew, E, xy.at(0), K, 0, M, ids.data(),
                                                      used, used, xy.at(M * K - 1), N));
    EXPECT_TRUE(xy.unchanged());
    EXPECT_EQ(q4r_context_matmul_id(ctx, &ew, E, xy.at(0), K, 0, M, ids.data(), used, used,
                                    xy.at(M * K), N),
              Q4R_OK)
        << q4r_last_error();
  }
  {
    Snapshot ey(std::vector<float>(y_floats + experts_init.size(), 0.f));
    std::memcpy(ey.at(y_floats - 1), experts_init.data(), 2 * wb);
    ey.before = ey.now;
    const q4r_weights ew{Q4R_TYPE_Q4_0, Q4R_LAYOUT_PLAIN, ey.at(y_floats - 1), 2 * wb, N, K};
    EXPECT_FAILS(Q4R_E_OVERLAP, q4r_context_matmul_id(ctx, &ew, E, in.x.data(), K, 0, M, ids.data(),
                                                      used, used, ey.at(0), N));
    EXPECT_TRUE(ey.unchanged());
  }
  {
    // The ids live in the float buffer right where y's last slot row ends.
    Snapshot iy(std::vector<float>(y_floats + ids.size(), 0.f));
    std::memcpy(iy.at(y_floats - 1), ids.data(), ids.size() * 4);
    iy.before = iy.now;
    const auto* id = reinterpret_cast<const int32_t*>(iy.at(y_floats - 1));
    const q4r_weights ew{Q4R_TYPE_Q4_0, Q4R_LAYOUT_PLAIN, experts_init.data(), 2 * wb, N, K};
    EXPECT_FAILS(Q4R_E_OVERLAP, q4r_context_matmul_id(ctx, &ew, E, in.x.data(), K, 0, M, id, used,
                                                      used, iy.at(0), N));
    EXPECT_TRUE(iy.unchanged());
  }
  q4r_context_destroy(ctx);
}

}  // namespace
}  // namespace q4r::test
