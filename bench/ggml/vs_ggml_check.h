// Cross-check mode of q4repack_vs_ggml (--check).
#ifndef Q4R_BENCH_GGML_VS_GGML_CHECK_H_
#define Q4R_BENCH_GGML_VS_GGML_CHECK_H_

#include "vs_ggml_options.h"

namespace q4r::bench {

// Compares our outputs with GGML's on small shapes; prints a table. Returns 1 on any mismatch.
int run_check(const Options& o);

}  // namespace q4r::bench

#endif  // Q4R_BENCH_GGML_VS_GGML_CHECK_H_
