#include "ours_matmul.h"

namespace q4r::bench {

OursMatmul::OursMatmul(q4r_isa isa, int threads, q4r_type type, q4r_layout layout, int64_t n,
                       int64_t k, int64_t m, WeightCopies* copies, const float* x)
    : m_(m), copies_(copies), x_(x), y_(static_cast<std::size_t>(m * n)) {
  q4r_context_options o;
  q4r_context_options_init(&o);
  o.isa = isa;
  o.n_threads = threads;
  check(q4r_context_create(&o, &ctx_), "q4r_context_create");
  w_ = q4r_weights{type, layout, nullptr, copies->bytes(), n, k};
  w_.data = copies->next();
  std::size_t ws = 0;
  check(q4r_context_workspace_size(ctx_, &w_, m, &ws), "q4r_context_workspace_size");
  workspace_ = Buffer(ws);  // allocated once, as an engine keeps its scratch
}

OursMatmul::~OursMatmul() {
  q4r_context_destroy(ctx_);
}

void OursMatmul::run() {
  w_.data = copies_->next();
  check(q4r_context_matmul(ctx_, &w_, x_, static_cast<std::size_t>(w_.k), m_, y_.data(),
                           static_cast<std::size_t>(w_.n), workspace_.data(), workspace_.size()),
        "q4r_context_matmul");
}

}  // namespace q4r::bench
