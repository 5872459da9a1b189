// Quantizers, repacking and activation layouts against the reference implementation's golden files.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "q4repack/q4repack.h"
#include "test_util.h"

namespace q4r::test {
namespace {

struct Case {
  const char* dir;
  int64_t n, k;
};
const Case kCases[] = {{"n16_k256", 16, 256}, {"n64_k1024", 64, 1024}};

std::vector<uint8_t> quantize(q4r_type type, const std::vector<float>& w, int64_t n, int64_t k,
                              const float* imatrix = nullptr) {
  size_t bytes = 0;
  EXPECT_EQ(q4r_tensor_bytes(type, n, k, &bytes), Q4R_OK);
  std::vector<uint8_t> out(bytes);
  EXPECT_EQ(q4r_quantize(type, w.data(), n, k, imatrix, out.data(), out.size()), Q4R_OK)
      << q4r_last_error();
  return out;
}

TEST(Golden, QuantizeQ4_0MatchesReference) {
  for (const Case& c : kCases) {
    const auto w = read_golden_f32(std::string(c.dir) + "/weights_f32.bin");
    ASSERT_EQ(w.size(), size_t(c.n * c.k));
    EXPECT_EQ(quantize(Q4R_TYPE_Q4_0, w, c.n, c.k), read_golden(std::string(c.dir) + "/q4_0.bin"))
        << c.dir;
  }
}

TEST(Golden, QuantizeIq4nlMatchesReference) {
  for (const Case& c : kCases) {
    const auto w = read_golden_f32(std::string(c.dir) + "/weights_f32.bin");
    EXPECT_EQ(quantize(Q4R_TYPE_IQ4_NL, w, c.n, c.k),
              read_golden(std::string(c.dir) + "/iq4_nl.bin"))
        << c.dir;
  }
}

TEST(Golden, QuantizeWithImatrixMatchesReference) {
  for (const Case& c : kCases) {
    const std::string d = std::string("imatrix/") + c.dir;
    const auto w = read_golden_f32(std::string(c.dir) + "/weights_f32.bin");
    const auto im = read_golden_f32(d + "/imatrix_f32.bin");
    ASSERT_EQ(im.size(), size_t(c.k));
    EXPECT_EQ(quantize(Q4R_TYPE_Q4_0, w, c.n, c.k, im.data()), read_golden(d + "/q4_0_imat.bin"))
        << c.dir;
    EXPECT_EQ(quantize(Q4R_TYPE_IQ4_NL, w, c.n, c.k, im.data()),
              read_golden(d + "/iq4_nl_imat.bin"))
        << c.dir;
  }
}

TEST(Golden, RepackMatchesReferenceLayouts) {
  struct L {
    q4r_type type;
    q4r_layout layout;
    const char* file;
  };
  const L layouts[] = {{Q4R_TYPE_Q4_0, Q4R_LAYOUT_4X4, "q4_0_x4_il4.bin"},
                       {Q4R_TYPE_Q4_0, Q4R_LAYOUT_4X8, "q4_0_x4_il8.bin"},
                       {Q4R_TYPE_Q4_0, Q4R_LAYOUT_8X8, "q4_0_x8_il8.bin"},
                       {Q4R_TYPE_IQ4_NL, Q4R_LAYOUT_4X4, "iq4_nl_x4_il4.bin"},
                       {Q4R_TYPE_IQ4_NL, Q4R_LAYOUT_8X8, "iq4_nl_x8_il8.bin"}};
  for (const Case& c : kCases) {
    for (const L& l : layouts) {
      const auto plain = read_golden(std::string(c.dir) + "/" +
                                     (l.type == Q4R_TYPE_Q4_0 ? "q4_0.bin" : "iq4_nl.bin"));
      std::vector<uint8_t> packed(plain.size());
      ASSERT_EQ(q4r_repack(l.type, l.layout, plain.data(), packed.data(), plain.size(), c.n, c.k),
                Q4R_OK);
      EXPECT_EQ(packed, read_golden(std::string(c.dir) + "/" + l.file)) << c.dir << " " << l.file;
      std::vector<uint8_t> back(plain.size());
      ASSERT_EQ(q4r_unpack(l.type, l.layout, packed.data(), back.data(), back.size(), c.n, c.k),
                Q4R_OK);
      EXPECT_EQ(back, plain);
    }
  }
}

}  // namespace
}  // namespace q4r::test
