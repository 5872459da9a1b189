// Expert (mixture-of-experts) matmul, GGML's MUL_MAT_ID: every (token, slot) pair of a routing
// table runs its activation row against the weights of the expert it is routed to.
//
// Unlike the reference (one GEMV per routed row, FORMATS.md B.4.5), routed rows are grouped per
// expert into batches ("units") of up to kMoeUnitRows rows, each quantized like an ordinary
// matmul batch, so an expert that receives 4 or more rows runs the GEMM.
#ifndef Q4R_LIB_MOE_H_
#define Q4R_LIB_MOE_H_

#include <cstddef>
#include <cstdint>

#include "context.h"

namespace q4r {

constexpr int64_t kMoeUnitRows = 64;

struct MoeArgs {
  q4r_type type;
  q4r_layout layout;
  const uint8_t* w;          // n_experts tensors of expert_bytes each
  std::size_t expert_bytes;  // one expert: n rows of k
  int64_t n_experts, n, k;
  const float* x;
  std::size_t x_stride;
  bool x_per_slot;  // x has m * n_used rows (else m rows shared by a token's slots)
  int64_t m;
  const int32_t* ids;  // validated: every id in [0, n_experts)
  std::size_t ids_stride;
  int64_t n_used;
  float* y;
  std::size_t y_stride;
};

// Runs a validated MoE matmul. Q4R_E_NOMEM (with a message, nothing written) if the workspace
// cannot be allocated.
q4r_status moe_matmul(const KernelTable& kt, const Executor& ex, const MoeArgs& a);

}  // namespace q4r

#endif  // Q4R_LIB_MOE_H_
