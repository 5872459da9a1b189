// The two modes of q4repack_vs_ggml. Each returns the process exit code.
#ifndef Q4R_BENCH_GGML_VS_GGML_MODES_H_
#define Q4R_BENCH_GGML_VS_GGML_MODES_H_

#include "vs_ggml_options.h"

namespace q4r::bench {

// Times every case; prints the table, writes the JSON (vs_ggml_bench.cc).
int run_bench(const Options& o);
// Compares our outputs with GGML's on small shapes; prints a table; 1 on any mismatch
// (vs_ggml_check.cc).
int run_check(const Options& o);

}  // namespace q4r::bench

#endif  // Q4R_BENCH_GGML_VS_GGML_MODES_H_
