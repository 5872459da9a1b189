// The threaded matmul driver and the q4r_context behind the context API.
//
// All parallel work goes through an Executor: a q4r_parallel_for plus the number of tasks to give
// it per phase. The library's own pool and an engine's hook are the same thing to the driver.
// A matmul is two phases with a join between them: quantize the activations (row groups of 4
// split over the tasks), then the output columns in chunks of whole weight row groups, handed out
// by an atomic counter so fast threads take more.
#ifndef Q4R_LIB_CONTEXT_H_
#define Q4R_LIB_CONTEXT_H_

#include <cstddef>
#include <cstdint>

#include "kernels/kernel_table.h"
#include "q4repack/q4repack.h"
#include "thread_pool.h"

namespace q4r {

// The internal pool used with at most max_threads threads (the `user` of pool_parallel_for).
struct PoolRef {
  ThreadPool* pool;
  int max_threads;
  int64_t poll_ns;  // ThreadPool::run's poll_ns
};
void pool_parallel_for(void* user, int n_tasks, q4r_task_fn task, void* arg);

struct Executor {
  q4r_parallel_for fn;
  void* user;
  int n_tasks;  // tasks per phase (>= 1)

  // Runs task(arg, i) for i in [0, count); count <= 1 runs inline without the hook.
  void run(int count, q4r_task_fn task, void* arg) const;
};

// Output columns split into `count` chunks of `size` columns (a multiple of the row group N; the
// last chunk ends at n). Both ends of every chunk are multiples of N or n, so chunks never
// overlap and never leave a gap, whatever the task count (FORMATS.md B.7.2).
struct ColumnChunks {
  int64_t size;
  int64_t count;
};
ColumnChunks column_chunks(int64_t n, int64_t step, int64_t n_tasks, int64_t chunks_per_task);

// Y = X * W^T with validated arguments, on `ex`. ws has plan_workspace(...).bytes bytes.
void parallel_matmul(const KernelTable& kt, const Executor& ex, q4r_type type, q4r_layout layout,
                     const uint8_t* w, int64_t n, int64_t k, const float* x, std::size_t x_stride,
                     int64_t m, float* y, std::size_t y_stride, uint8_t* ws);

// Validates a weights descriptor whose data holds `copies` tensors of its shape (1, or the expert
// count); `one_bytes` (may be NULL) receives one tensor's size.
q4r_status check_weights(const q4r_weights* w, int64_t copies, std::size_t* one_bytes);

// An executor on the default pool with n_threads threads (<= 0: all); `ref` is its storage.
Executor pool_executor(int n_threads, PoolRef* ref);

}  // namespace q4r

struct q4r_context {
  q4r_isa isa;
  int n_threads;  // resolved (>= 1)
  q4r_parallel_for hook;
  void* hook_user;
  q4r::PoolRef pool;  // used when hook is NULL

  q4r::Executor executor() const;
};

#endif  // Q4R_LIB_CONTEXT_H_
