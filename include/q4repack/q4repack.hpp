// q4repack C++ API: a thin, header-only layer over the C ABI (q4repack.h).
//
// Failures throw q4repack::Error (status + the library's message); resources are RAII. Nothing
// here adds behaviour: every call maps to one C function, so mixing both APIs is fine.
#ifndef Q4REPACK_HPP_
#define Q4REPACK_HPP_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "q4repack/q4repack.h"

namespace q4repack {

class Error : public std::runtime_error {
 public:
  Error(q4r_status status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  q4r_status status() const noexcept { return status_; }

 private:
  q4r_status status_;
};

// Throws Error with q4r_last_error() when status is not Q4R_OK.
inline void check(q4r_status status) {
  if (status != Q4R_OK) {
    const char* detail = q4r_last_error();
    throw Error(status, std::string(q4r_strerror(status)) + (detail && *detail ? ": " : "") +
                            (detail ? detail : ""));
  }
}

inline std::size_t tensor_bytes(q4r_type type, int64_t n, int64_t k) {
  std::size_t bytes = 0;
  check(q4r_tensor_bytes(type, n, k, &bytes));
  return bytes;
}

// n x k floats -> plain blocks of `type`.
inline std::vector<uint8_t> quantize(q4r_type type, const float* src, int64_t n, int64_t k,
                                     const float* imatrix = nullptr) {
  std::vector<uint8_t> out(tensor_bytes(type, n, k));
  check(q4r_quantize(type, src, n, k, imatrix, out.data(), out.size()));
  return out;
}

inline void repack_inplace(q4r_type type, q4r_layout layout, void* data, std::size_t size,
                           int64_t n, int64_t k) {
  check(q4r_repack_inplace(type, layout, data, size, n, k));
}

inline void repack(q4r_type type, q4r_layout layout, const void* src, void* dst, std::size_t size,
                   int64_t n, int64_t k) {
  check(q4r_repack(type, layout, src, dst, size, n, k));
}

// A non-owning view of a weight tensor (same fields as q4r_weights).
using Weights = q4r_weights;

// Runs a context's work: called with the task count and a task to call once per index.
class Task {
 public:
  Task(q4r_task_fn fn, void* arg) : fn_(fn), arg_(arg) {}
  void operator()(int index) const { fn_(arg_, index); }

 private:
  q4r_task_fn fn_;
  void* arg_;
};
using ParallelFor = std::function<void(int n_tasks, const Task& task)>;

struct ContextOptions {
  int isa = Q4R_ISA_AUTO;    // a q4r_isa, or auto
  int n_threads = 0;         // <= 0: all cores (own pool), or tasks per phase (parallel_for)
  ParallelFor parallel_for;  // empty: the library's own pool
  int poll_us = -1;          // own pool: us its workers poll after a call; < 0: the default
};

// A reusable matmul context (q4r_context). Move-only. Safe to share between threads once made.
class Context {
 public:
  Context() : Context(ContextOptions{}) {}
  explicit Context(ContextOptions options) {
    q4r_context_options o;
    q4r_context_options_init(&o);
    o.isa = options.isa;
    o.n_threads = options.n_threads;
    o.poll_us = options.poll_us;
    if (options.parallel_for) {
      hook_ = std::make_unique<ParallelFor>(std::move(options.parallel_for));
      o.parallel_for = &Context::call_hook;
      o.parallel_for_user = hook_.get();
    }
    q4r_context* ctx = nullptr;
    check(q4r_context_create(&o, &ctx));
    ctx_.reset(ctx);
  }

  q4r_context* get() const noexcept { return ctx_.get(); }
  q4r_isa isa() const { return q4r_context_isa(ctx_.get()); }
  int threads() const { return q4r_context_threads(ctx_.get()); }
  q4r_layout layout(q4r_type type) const { return q4r_context_layout(ctx_.get(), type); }

  std::size_t workspace_size(const Weights& w, int64_t m) const {
    std::size_t bytes = 0;
    check(q4r_context_workspace_size(ctx_.get(), &w, m, &bytes));
    return bytes;
  }

  // y (m x n, row stride n) = x (m x k, row stride k) * W^T; allocates the workspace.
  void matmul(const Weights& w, const float* x, int64_t m, float* y) const {
    check(q4r_context_matmul(ctx_.get(), &w, x, static_cast<std::size_t>(w.k), m, y,
                             static_cast<std::size_t>(w.n), nullptr, 0));
  }
  // Strided form with a caller-owned workspace (reuse it across calls to avoid allocation).
  void matmul(const Weights& w, const float* x, std::size_t x_stride, int64_t m, float* y,
              std::size_t y_stride, void* workspace, std::size_t workspace_size) const {
    check(
        q4r_context_matmul(ctx_.get(), &w, x, x_stride, m, y, y_stride, workspace, workspace_size));
  }

  // q4r_repack / q4r_unpack split over this context's threads (src == dst: in place).
  void repack(q4r_type type, q4r_layout layout, const void* src, void* dst, std::size_t size,
              int64_t n, int64_t k) const {
    check(q4r_context_repack(ctx_.get(), type, layout, src, dst, size, n, k));
  }
  void unpack(q4r_type type, q4r_layout layout, const void* src, void* dst, std::size_t size,
              int64_t n, int64_t k) const {
    check(q4r_context_unpack(ctx_.get(), type, layout, src, dst, size, n, k));
  }

  // MoE (MUL_MAT_ID): `experts` describes one expert, data holds n_experts of them. ids is
  // m x n_used (contiguous); y is (m * n_used) x n (contiguous). x has m rows, or m * n_used
  // rows if x_per_slot.
  void matmul_id(const Weights& experts, int64_t n_experts, const float* x, bool x_per_slot,
                 int64_t m, const int32_t* ids, int64_t n_used, float* y) const {
    check(q4r_context_matmul_id(
        ctx_.get(), &experts, n_experts, x, static_cast<std::size_t>(experts.k), x_per_slot ? 1 : 0,
        m, ids, static_cast<std::size_t>(n_used), n_used, y, static_cast<std::size_t>(experts.n)));
  }

 private:
  static void call_hook(void* user, int n_tasks, q4r_task_fn task, void* arg) {
    (*static_cast<ParallelFor*>(user))(n_tasks, Task(task, arg));
  }
  struct Deleter {
    void operator()(q4r_context* c) const { q4r_context_destroy(c); }
  };
  std::unique_ptr<ParallelFor> hook_;  // must outlive ctx_ (declared first, destroyed last)
  std::unique_ptr<q4r_context, Deleter> ctx_;
};

}  // namespace q4repack

#endif  // Q4REPACK_HPP_
