#include "test_util.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>

#include "lib/format/fp16.h"

namespace q4r::test {

std::string golden_dir() {
  const char* env = std::getenv("Q4R_GOLDEN_DIR");
  return env && *env ? env : Q4R_DEFAULT_GOLDEN_DIR;
}

std::vector<uint8_t> read_golden(const std::string& rel) {
  const std::string path = golden_dir() + "/" + rel;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "golden file missing: " << path
                  << " (set Q4R_GOLDEN_DIR to the shared/golden folder)";
    return {};
  }
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

template <class T>
static std::vector<T> as(const std::vector<uint8_t>& bytes) {
  std::vector<T> out(bytes.size() / sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), bytes.data(), out.size() * sizeof(T));
  return out;
}

std::vector<float> read_golden_f32(const std::string& rel) {
  return as<float>(read_golden(rel));
}
std::vector<double> read_golden_f64(const std::string& rel) {
  return as<double>(read_golden(rel));
}

std::vector<float> random_floats(std::size_t count, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(count);
  for (float& x : v) x = dist(rng);
  return v;
}

std::vector<uint8_t> random_q4_blocks(int64_t rows, int64_t k, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> scale(-0.05f, 0.05f);
  const int64_t blocks = rows * (k / 32);
  std::vector<uint8_t> v(blocks * 18);
  for (int64_t b = 0; b < blocks; ++b) {
    const uint16_t d = fp32_to_fp16(scale(rng));
    std::memcpy(&v[b * 18], &d, 2);
    for (int i = 0; i < 16; ++i) v[b * 18 + 2 + i] = static_cast<uint8_t>(rng());
  }
  return v;
}

}  // namespace q4r::test
