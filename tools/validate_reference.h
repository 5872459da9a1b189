// Test data and an independent reference for `q4repack validate`: deterministic synthetic weights
// and activations, the exact (double) dot products of quantized operands, and rigorous float
// error bounds for any summation order.
#ifndef Q4R_TOOLS_VALIDATE_REFERENCE_H_
#define Q4R_TOOLS_VALIDATE_REFERENCE_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "q4repack/q4repack.h"

namespace q4r::validate {

// Rows [r0, r1) of a synthetic weight matrix with k columns: per-row scale, Gaussian-like values,
// and a few edge rows (an all-zero row, one with an outlier, one of alternating +-0.75).
// Deterministic per row, so any split over threads gives the same data.
void synthetic_weights(uint32_t seed, int64_t r0, int64_t r1, int64_t k, float* out);
// m activation rows of k values; row 0 has a block of exact q8_0 rounding ties.
std::vector<float> synthetic_activations(uint32_t seed, int64_t m, int64_t k);
// Random but valid blocks (random nibbles, scales of a realistic size) for rows [r0, r1).
void random_blocks(uint32_t seed, int64_t r0, int64_t r1, int64_t k, uint8_t* rows_out);

// Per output (m, c): the exact sum over blocks of isum * dW * dA, and sum |dW dA| * sum |w a|.
// w: plain weight rows, a: plain q8_0 rows. Only the listed columns are computed.
struct Exact {
  std::vector<double> value, abs_sum;  // [m][cols.size()]
};
Exact exact_dots(q4r_type type, const uint8_t* w, const uint8_t* a, int64_t k, int64_t m,
                 const std::vector<int64_t>& cols);

// A cheap upper bound of sum |dW dA| * sum |w a| for every output (m, c), from block scales,
// the largest weight level and the activations' absolute sums: O(m * n * k/32).
std::vector<double> abs_sum_bounds(q4r_type type, const uint8_t* w, const uint8_t* a, int64_t n,
                                   int64_t k, int64_t m);

// Any float evaluation of a sum of at most 4*k/32 rounded (or fused) products, in any order,
// lies within error_factor(k) * abs_sum of the exact value (Higham, Accuracy and Stability of
// Numerical Algorithms, section 3.1: gamma_n = n u / (1 - n u), u = 2^-24).
double error_factor(int64_t k);

}  // namespace q4r::validate

#endif  // Q4R_TOOLS_VALIDATE_REFERENCE_H_
