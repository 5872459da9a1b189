// Small helpers shared by the timing and the cross-check of q4repack_vs_ggml.
#ifndef Q4R_BENCH_GGML_VS_GGML_COMMON_H_
#define Q4R_BENCH_GGML_VS_GGML_COMMON_H_

#include <cstdint>
#include <string>
#include <vector>

#include "bench/harness/bench_harness.h"
#include "q4repack/q4repack.h"

namespace q4r::bench {

// n x k weights quantized once with our quantizer from uniform random floats in [-1, 1): the
// plain bytes both libraries get.
Buffer quantized_weights(q4r_type type, int64_t n, int64_t k, uint64_t seed);

// The layouts we time or check for one ISA: every layout, or plain + the preferred one.
std::vector<q4r_layout> layouts_for(q4r_type type, q4r_isa isa, bool all);

// "AMD EPYC ... (family 26 model 2)" from /proc/cpuinfo, or "unknown CPU".
std::string cpu_description();
// The x86 features GGML's own dispatch sees (its build is -march=native).
std::string ggml_features();

}  // namespace q4r::bench

#endif  // Q4R_BENCH_GGML_VS_GGML_COMMON_H_
