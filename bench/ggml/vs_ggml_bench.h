// Timing mode of q4repack_vs_ggml.
#ifndef Q4R_BENCH_GGML_VS_GGML_BENCH_H_
#define Q4R_BENCH_GGML_VS_GGML_BENCH_H_

#include "vs_ggml_options.h"

namespace q4r::bench {

// Times every case; prints the table, writes the JSON. Returns the exit code.
int run_bench(const Options& o);

}  // namespace q4r::bench

#endif  // Q4R_BENCH_GGML_VS_GGML_BENCH_H_
