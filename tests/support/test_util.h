// Shared test helpers: golden files, random data, shapes.
#ifndef Q4R_TESTS_TEST_UTIL_H_
#define Q4R_TESTS_TEST_UTIL_H_

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace q4r::test {

// The golden directory: $Q4R_GOLDEN_DIR, else the configured ../shared/golden.
std::string golden_dir();
// Reads golden_dir()/rel whole; fails the current test (ADD_FAILURE) and returns {} if missing.
std::vector<uint8_t> read_golden(const std::string& rel);
std::vector<float> read_golden_f32(const std::string& rel);
std::vector<double> read_golden_f64(const std::string& rel);

// Uniform floats in [-scale, scale).
std::vector<float> random_floats(std::size_t count, uint32_t seed, float scale = 1.f);
// Random bytes (quantized blocks with fp16 scales drawn from a sane range).
std::vector<uint8_t> random_q4_blocks(int64_t rows, int64_t k, uint32_t seed);

}  // namespace q4r::test

#endif  // Q4R_TESTS_TEST_UTIL_H_
