// Our side of the comparison: q4r_context_matmul (activation quantization + kernels, split over
// the library's thread pool) on one ISA, the way an engine calls the library.
#ifndef Q4R_BENCH_GGML_OURS_MATMUL_H_
#define Q4R_BENCH_GGML_OURS_MATMUL_H_

#include <cstdint>
#include <vector>

#include "bench/harness/bench_harness.h"
#include "q4repack/q4repack.h"

namespace q4r::bench {

class OursMatmul {
 public:
  // copies: the weights in `layout` (shared by every ISA timed on that layout); x: m rows of k.
  OursMatmul(q4r_isa isa, int threads, q4r_type type, q4r_layout layout, int64_t n, int64_t k,
             int64_t m, WeightCopies* copies, const float* x);
  ~OursMatmul();
  OursMatmul(const OursMatmul&) = delete;
  OursMatmul& operator=(const OursMatmul&) = delete;

  // One matmul on the next weight copy.
  void run();
  const float* y() const { return y_.data(); }

 private:
  q4r_context* ctx_ = nullptr;
  q4r_weights w_;
  int64_t m_;
  WeightCopies* copies_;
  const float* x_;
  Buffer workspace_;
  std::vector<float> y_;
};

}  // namespace q4r::bench

#endif  // Q4R_BENCH_GGML_OURS_MATMUL_H_
