// Repack / unpack properties over random shapes: the byte map of docs/FORMATS.md checked from
// scratch, the tail arrangement (the last R mod N rows stay plain), in place == buffer, and
// unpack(repack(x)) == x.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "q4repack/q4repack.h"
#include "test_util.h"

namespace q4r::test {
namespace {

bool quick() {
  const char* q = std::getenv("Q4R_TEST_QUICK");
  return q && *q && *q != '0';
}

const q4r_type kTypes[] = {Q4R_TYPE_Q4_0, Q4R_TYPE_IQ4_NL};
const q4r_layout kLayouts[] = {Q4R_LAYOUT_4X4, Q4R_LAYOUT_4X8, Q4R_LAYOUT_8X8};

struct Shape {
  int64_t rows, k;
};

// Random row counts, mostly not multiples of 4 or 8, for every K of the brief.
std::vector<Shape> random_shapes() {
  std::mt19937 rng(2024);
  std::vector<Shape> shapes;
  for (int64_t k : {32, 96, 576, 2880, 4096}) {
    const int count = quick() ? 2 : 5;
    const int max_rows = k >= 2880 ? (quick() ? 20 : 40) : 70;
    for (int i = 0; i < count; ++i) shapes.push_back({1 + int64_t(rng() % max_rows), k});
    shapes.push_back({8, k});  // exact groups only
  }
  shapes.push_back({1, 32});
  shapes.push_back({3, 64});  // fewer rows than any group: everything is tail
  shapes.push_back({7, 64});
  return shapes;
}

std::string name(q4r_type t, q4r_layout l, Shape s) {
  return std::string(q4r_type_name(t)) + " " + q4r_layout_name(l) + " rows " +
         std::to_string(s.rows) + " k " + std::to_string(s.k);
}

// The repacked image built directly from the byte map (docs/FORMATS.md): in group g, block l,
// the scale of row j at +2j and its quant byte b at +2N + (floor(b/B)*N + j)*B + b%B, XORed with
// 0x88 for q4_0; the last rows % N rows copied after the last group.
std::vector<uint8_t> expected_repack(q4r_type t, q4r_layout l, const std::vector<uint8_t>& plain,
                                     Shape s) {
  const int N = q4r_layout_rows(l), B = q4r_layout_chunk(l);
  const uint8_t x = t == Q4R_TYPE_Q4_0 ? 0x88 : 0;
  const int64_t nb = s.k / 32, groups = s.rows / N;
  std::vector<uint8_t> out(plain.size(), 0);
  for (int64_t g = 0; g < groups; ++g) {
    for (int64_t blk = 0; blk < nb; ++blk) {
      const int64_t base = (g * nb + blk) * 18 * N;
      for (int j = 0; j < N; ++j) {
        const uint8_t* src = &plain[((g * N + j) * nb + blk) * 18];
        out[base + 2 * j] = src[0];
        out[base + 2 * j + 1] = src[1];
        for (int b = 0; b < 16; ++b)
          out[base + 2 * N + (b / B * N + j) * B + b % B] = src[2 + b] ^ x;
      }
    }
  }
  const int64_t tail = groups * N * nb * 18;
  std::copy(plain.begin() + tail, plain.end(), out.begin() + tail);
  return out;
}

TEST(Repack, MatchesByteMapAndTailArrangement) {
  uint32_t seed = 1;
  for (Shape s : random_shapes()) {
    for (q4r_type t : kTypes) {
      for (q4r_layout l : kLayouts) {
        const auto plain = random_q4_blocks(s.rows, s.k, seed++);
        size_t bytes = 0;
        ASSERT_EQ(q4r_tensor_bytes(t, s.rows, s.k, &bytes), Q4R_OK);
        ASSERT_EQ(bytes, plain.size());  // repacked data keeps the size
        std::vector<uint8_t> packed(bytes, 0xEE);
        ASSERT_EQ(q4r_repack(t, l, plain.data(), packed.data(), bytes, s.rows, s.k), Q4R_OK)
            << q4r_last_error();
        ASSERT_EQ(packed, expected_repack(t, l, plain, s)) << name(t, l, s);
        // The tail rows are plain rows, byte for byte, right after the last full group.
        const int64_t N = q4r_layout_rows(l), row_bytes = s.k / 32 * 18;
        const int64_t tail_start = s.rows / N * N * row_bytes;
        EXPECT_TRUE(
            std::equal(plain.begin() + tail_start, plain.end(), packed.begin() + tail_start))
            << name(t, l, s);
      }
    }
  }
}

TEST(Repack, InPlaceEqualsBufferAndUnpackInverts) {
  uint32_t seed = 100;
  for (Shape s : random_shapes()) {
    for (q4r_type t : kTypes) {
      for (q4r_layout l : kLayouts) {
        const auto plain = random_q4_blocks(s.rows, s.k, seed++);
        const size_t bytes = plain.size();
        std::vector<uint8_t> packed(bytes), inplace = plain, back(bytes);
        ASSERT_EQ(q4r_repack(t, l, plain.data(), packed.data(), bytes, s.rows, s.k), Q4R_OK);
        ASSERT_EQ(q4r_repack_inplace(t, l, inplace.data(), bytes, s.rows, s.k), Q4R_OK);
        EXPECT_EQ(inplace, packed) << name(t, l, s);
        // src == dst through the buffer entry point is in place too.
        std::vector<uint8_t> same = plain;
        ASSERT_EQ(q4r_repack(t, l, same.data(), same.data(), bytes, s.rows, s.k), Q4R_OK);
        EXPECT_EQ(same, packed) << name(t, l, s);
        ASSERT_EQ(q4r_unpack(t, l, packed.data(), back.data(), bytes, s.rows, s.k), Q4R_OK);
        EXPECT_EQ(back, plain) << name(t, l, s);
        ASSERT_EQ(q4r_unpack_inplace(t, l, inplace.data(), bytes, s.rows, s.k), Q4R_OK);
        EXPECT_EQ(inplace, plain) << name(t, l, s);
        std::vector<uint8_t> same_back = packed;
        ASSERT_EQ(q4r_unpack(t, l, same_back.data(), same_back.data(), bytes, s.rows, s.k), Q4R_OK);
        EXPECT_EQ(same_back, plain) << name(t, l, s);
      }
    }
  }
}

TEST(Repack, RepackOfUnpackIsIdentityOnAnyBytes) {
  // The transform is a bijection on byte strings of the tensor's size, both ways.
  uint32_t seed = 500;
  for (Shape s : random_shapes()) {
    for (q4r_type t : kTypes) {
      for (q4r_layout l : kLayouts) {
        const auto packed = random_q4_blocks(s.rows, s.k, seed++);  // any bytes as "packed" data
        std::vector<uint8_t> plain(packed.size()), again(packed.size());
        ASSERT_EQ(q4r_unpack(t, l, packed.data(), plain.data(), plain.size(), s.rows, s.k), Q4R_OK);
        ASSERT_EQ(q4r_repack(t, l, plain.data(), again.data(), again.size(), s.rows, s.k), Q4R_OK);
        EXPECT_EQ(again, packed) << name(t, l, s);
      }
    }
  }
}

TEST(Repack, QuantizedDataDecodesTheSameAfterARoundTrip) {
  // End to end on real quantizer output: quantize -> repack -> unpack -> dequantize is exactly
  // dequantize of the plain blocks.
  const int64_t rows = 13, k = 96;
  const auto w = random_floats(rows * k, 77, 2.f);
  for (q4r_type t : kTypes) {
    size_t bytes = 0;
    ASSERT_EQ(q4r_tensor_bytes(t, rows, k, &bytes), Q4R_OK);
    std::vector<uint8_t> q(bytes);
    ASSERT_EQ(q4r_quantize(t, w.data(), rows, k, nullptr, q.data(), bytes), Q4R_OK);
    std::vector<float> want(rows * k), got(rows * k);
    ASSERT_EQ(q4r_dequantize(t, q.data(), bytes, rows, k, want.data()), Q4R_OK);
    for (q4r_layout l : kLayouts) {
      std::vector<uint8_t> r = q;
      ASSERT_EQ(q4r_repack_inplace(t, l, r.data(), bytes, rows, k), Q4R_OK);
      ASSERT_EQ(q4r_unpack_inplace(t, l, r.data(), bytes, rows, k), Q4R_OK);
      ASSERT_EQ(q4r_dequantize(t, r.data(), bytes, rows, k, got.data()), Q4R_OK);
      EXPECT_EQ(got, want) << q4r_type_name(t) << " " << q4r_layout_name(l);
    }
  }
}

}  // namespace
}  // namespace q4r::test
