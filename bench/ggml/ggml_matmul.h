// GGML's CPU backend as llama.cpp runs a weight matmul: one `ggml_mul_mat(W, X)` graph node per
// weight copy, computed with ggml_backend_graph_compute. Only for measuring and cross-checking
// (bench/ggml): neither the library nor the tool links GGML.
//
// Two weight placements, as llama.cpp's loader makes them:
//  - plain: the caller's bytes wrapped as an ordinary CPU buffer
//  (ggml_backend_cpu_buffer_from_ptr),
//    no copy, so GGML reads exactly the bytes our plain kernels read. GGML then runs its plain
//    path (llamafile's tinyBLAS when built with GGML_LLAMAFILE, else vec_dot).
//  - repack: a buffer of the CPU device's extra buffer type "CPU_REPACK" (found through
//    ggml_backend_dev_get_extra_bufts); ggml_backend_tensor_set repacks the plain bytes on upload.
// The activations are a copy of the caller's f32 rows (GGML wants 32-byte aligned buffers); each
// compute quantizes them to Q8_0 (GGML's own quantizer) inside the timed call, as ours does.
#ifndef Q4R_BENCH_GGML_GGML_MATMUL_H_
#define Q4R_BENCH_GGML_GGML_MATMUL_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "bench/harness/bench_harness.h"
#include "q4repack/q4repack.h"

struct ggml_backend;
struct ggml_backend_buffer;
struct ggml_context;
struct ggml_cgraph;
struct ggml_tensor;

namespace q4r::bench {

enum class GgmlPlacement { kPlain, kRepack };
// The repack kernels GGML reported choosing so far ("q4_0_8x8 iq4_nl_8x8"), from its log.
const std::string& ggml_repack_kernels();

// The CPU backend (one per process is enough; thread count is set per call).
class GgmlBackend {
 public:
  GgmlBackend();
  ~GgmlBackend();
  GgmlBackend(const GgmlBackend&) = delete;
  GgmlBackend& operator=(const GgmlBackend&) = delete;
  ggml_backend* get() const { return backend_; }
  // The "CPU_REPACK" buffer type, or nullptr if this GGML build has none (GGML_CPU_REPACK=OFF).
  void* repack_buffer_type() const { return repack_buft_; }

 private:
  ggml_backend* backend_;
  void* repack_buft_ = nullptr;
};

// Y[m x n] = X[m x k] * W^T for `copies` weight tensors (cold runs cycle through them).
class GgmlMatmul {
 public:
  // plain_copies: `copies` pointers to plain weight bytes of q4r_tensor_bytes(type, n, k) each.
  // For kPlain they are wrapped (must outlive this object); for kRepack they are read once (the
  // upload) and may be freed afterwards. x: m rows of k floats (copied).
  GgmlMatmul(const GgmlBackend& backend, GgmlPlacement placement, q4r_type type, int64_t n,
             int64_t k, int64_t m, const std::vector<const uint8_t*>& plain_copies, const float* x);
  ~GgmlMatmul();
  GgmlMatmul(const GgmlMatmul&) = delete;
  GgmlMatmul& operator=(const GgmlMatmul&) = delete;

  // Computes the graph of the next weight copy on `threads` threads.
  void run(int threads);
  const float* y() const { return reinterpret_cast<const float*>(y_.data()); }
  // The weight bytes as GGML holds them (for kRepack: GGML's repacked blocks) of copy 0.
  const uint8_t* weight_data() const;
  // False if GGML would not repack this tensor (n % 8 != 0 on x86): a kRepack object is then
  // unusable, as llama.cpp would keep such a tensor in the plain CPU buffer.
  static bool can_repack(const GgmlBackend& backend, q4r_type type, int64_t n, int64_t k);

 private:
  const GgmlBackend& backend_;
  ggml_context* ctx_ = nullptr;
  std::vector<ggml_backend_buffer*> buffers_;
  std::vector<ggml_tensor*> weights_;
  std::vector<ggml_cgraph*> graphs_;
  Buffer x_, y_;  // 64-byte aligned
  std::size_t next_ = 0;
};

}  // namespace q4r::bench

#endif  // Q4R_BENCH_GGML_GGML_MATMUL_H_
