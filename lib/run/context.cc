#include "context.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <memory>
#include <new>

#include "claims.h"
#include "dispatch.h"
#include "lib/error.h"
#include "lib/format/checks.h"
#include "lib/format/repack.h"
#include "matmul.h"

namespace q4r {

void pool_parallel_for(void* user, int n_tasks, q4r_task_fn task, void* arg) {
  const auto* ref = static_cast<const PoolRef*>(user);
  ref->pool->run(n_tasks, ref->max_threads, task, arg, ref->poll_ns);
}

void Executor::run(int count, q4r_task_fn task, void* arg) const {
  if (count <= 0) return;
  if (count == 1) {
    task(arg, 0);
    return;
  }
  fn(user, count, task, arg);
}

Executor pool_executor(int n_threads, PoolRef* ref) {
  ThreadPool& pool = default_pool();
  const int threads = n_threads <= 0 ? hardware_threads() : n_threads;
  *ref = PoolRef{&pool, std::min(threads, pool.max_threads()), default_poll_ns()};
  // More tasks than threads is fine (they are claimed dynamically); the task count sets the
  // chunking, so n_threads = 64 on 2 cores still exercises 64-way splits.
  return Executor{pool_parallel_for, ref, threads};
}

ColumnChunks column_chunks(int64_t n, int64_t step, int64_t n_tasks, int64_t chunks_per_task) {
  const int64_t groups = (n + step - 1) / step;  // the plain tail counts as one partial group
  const int64_t wanted = std::max<int64_t>(1, n_tasks * chunks_per_task);
  const int64_t groups_per_chunk = std::max<int64_t>(1, (groups + wanted - 1) / wanted);
  ColumnChunks c;
  c.size = groups_per_chunk * step;
  c.count = (n + c.size - 1) / c.size;
  return c;
}

q4r_status check_weights(const q4r_weights* w, int64_t copies, std::size_t* one_bytes) {
  if (!w) return fail(Q4R_E_NULL, "weights descriptor is NULL");
  if (!valid_weight_type(w->type)) {
    return fail(Q4R_E_ARGUMENT, "weight type %d is not q4_0 or iq4_nl", int(w->type));
  }
  if (!valid_layout(w->layout)) {
    return fail(Q4R_E_ARGUMENT, "layout %d is not a q4r_layout value", int(w->layout));
  }
  if (!w->data) return fail(Q4R_E_NULL, "weight data is NULL");
  std::size_t bytes;
  if (q4r_status s = q4r_tensor_bytes(w->type, w->n, w->k, &bytes)) return s;
  std::size_t total;
  if (__builtin_mul_overflow(bytes, static_cast<std::size_t>(copies), &total)) {
    return fail(Q4R_E_SHAPE, "%lld tensors of %zu bytes overflow the address space",
                (long long)copies, bytes);
  }
  if (w->size != total) {
    if (copies == 1) {
      return fail(Q4R_E_SIZE, "weights are %zu bytes but the shape needs %zu", w->size, total);
    }
    return fail(Q4R_E_SIZE, "expert weights are %zu bytes but %lld experts need %zu", w->size,
                (long long)copies, total);
  }
  if (one_bytes) *one_bytes = bytes;
  return Q4R_OK;
}

namespace {

struct MatmulJob {
  const KernelTable* kt;
  q4r_type type;
  q4r_layout layout;
  const uint8_t* w;
  int64_t n, k;
  const float* x;
  std::size_t x_stride;
  int64_t m;
  float* y;
  std::size_t y_stride;
  uint8_t* ws;
  // Phase 1: the activation rows in ranges of 4-row units; phase 2: column chunks.
  int64_t row_units;
  Claims quant;
  Claims columns;
  ColumnChunks chunks;
};

// Both phases in one fork-join (claims.h): quantize the claimed row ranges, wait for all of them,
// then run the claimed column chunks.
void matmul_task(void* arg, int) {
  auto* j = static_cast<MatmulJob*>(arg);
  const int64_t ranges = j->quant.count();
  j->quant.run([&](int64_t t) {
    const int64_t u0 = j->row_units * t / ranges, u1 = j->row_units * (t + 1) / ranges;
    const int64_t r0 = u0 * 4, r1 = std::min(u1 * 4, j->m);
    if (r0 < r1) {
      quantize_activation_rows(*j->kt, j->layout, j->n, j->x, j->x_stride, j->m, j->k, r0, r1,
                               j->ws);
    }
  });
  j->quant.wait_all_done();
  j->columns.run([&](int64_t c) {
    const int64_t c0 = c * j->chunks.size;
    const int64_t c1 = std::min(c0 + j->chunks.size, j->n);
    run_columns(*j->kt, j->type, j->layout, j->w, j->n, j->k, j->ws, j->m, j->y, j->y_stride, c0,
                c1);
  });
}

// Below this many activation values one thread quantizes faster than a fork-join costs.
constexpr int64_t kMinParallelQuantValues = 16 * 4096;
// Column chunks per task: enough for dynamic balancing, few enough to keep per-chunk cost small.
constexpr int64_t kChunksPerTask = 4;

}  // namespace

void parallel_matmul(const KernelTable& kt, const Executor& ex, q4r_type type, q4r_layout layout,
                     const uint8_t* w, int64_t n, int64_t k, const float* x, std::size_t x_stride,
                     int64_t m, float* y, std::size_t y_stride, uint8_t* ws) {
  MatmulJob j;
  j.kt = &kt;
  j.type = type;
  j.layout = layout;
  j.w = w;
  j.n = n;
  j.k = k;
  j.x = x;
  j.x_stride = x_stride;
  j.m = m;
  j.y = y;
  j.y_stride = y_stride;
  j.ws = ws;
  j.row_units = (m + 3) / 4;
  j.quant.set_count(m * k < kMinParallelQuantValues ? 1
                                                    : std::min<int64_t>(ex.n_tasks, j.row_units));
  // Plain weights have no row groups; chunks of 8 rows keep the plain kernel's loops full.
  const int64_t step = layout == Q4R_LAYOUT_PLAIN ? 8 : q4r_layout_rows(layout);
  j.chunks = column_chunks(n, step, ex.n_tasks, ex.n_tasks > 1 ? kChunksPerTask : 1);
  j.columns.set_count(j.chunks.count);
  const int64_t tasks = std::max(j.quant.count(), j.chunks.count);
  ex.run(static_cast<int>(std::min<int64_t>(ex.n_tasks, tasks)), matmul_task, &j);
}

}  // namespace q4r

using namespace q4r;

q4r::Executor q4r_context::executor() const {
  if (hook) return Executor{hook, hook_user, n_threads};
  return Executor{pool_parallel_for, const_cast<PoolRef*>(&pool), n_threads};
}

namespace {

q4r_status check_ctx(const q4r_context* ctx) {
  return ctx ? Q4R_OK : fail(Q4R_E_NULL, "context is NULL");
}

bool finite_rows(const float* x, std::size_t stride, int64_t rows, int64_t k, int64_t* bad_row) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* p = x + r * stride;
    for (int64_t j = 0; j < k; ++j) {
      if (!std::isfinite(p[j])) {
        *bad_row = r;
        return false;
      }
    }
  }
  return true;
}

q4r_status check_float_ptr(const char* what, const void* p) {
  if (!p) return fail(Q4R_E_NULL, "%s is NULL", what);
  if (reinterpret_cast<uintptr_t>(p) % alignof(float) != 0) {
    return fail(Q4R_E_ALIGNMENT, "%s is not 4-byte aligned", what);
  }
  return Q4R_OK;
}

q4r_status check_x_y(const q4r_weights* w, const float* x, std::size_t x_stride, int64_t x_rows,
                     const float* y, std::size_t y_stride) {
  if (q4r_status s = check_float_ptr("x", x)) return s;
  if (q4r_status s = check_float_ptr("y", y)) return s;
  if (x_stride < static_cast<std::size_t>(w->k)) {
    return fail(Q4R_E_ARGUMENT, "x_stride %zu is smaller than k = %lld", x_stride, (long long)w->k);
  }
  if (y_stride < static_cast<std::size_t>(w->n)) {
    return fail(Q4R_E_ARGUMENT, "y_stride %zu is smaller than n = %lld", y_stride, (long long)w->n);
  }
  int64_t bad;
  if (!finite_rows(x, x_stride, x_rows, w->k, &bad)) {
    return fail(Q4R_E_VALUE, "activation row %lld has a non-finite value", (long long)bad);
  }
  return Q4R_OK;
}

// A tensor repacked or unpacked on a context's executor: row groups split into `tasks` equal
// runs; in place, each task has its own scratch of one row group, allocated before any byte moves.
struct PermuteJob {
  bool pack;
  LayoutShape shape;
  uint8_t xor_mask;
  const uint8_t* src;
  uint8_t* dst;  // == src in place
  int64_t n, k, groups;
  int tasks;
  uint8_t* scratch;  // tasks x group_bytes, in place only
};

void permute_task(void* arg, int i) {
  const auto& j = *static_cast<const PermuteJob*>(arg);
  const int64_t g0 = j.groups * i / j.tasks, g1 = j.groups * (i + 1) / j.tasks;
  if (j.src != j.dst) {
    (j.pack ? repack_groups : unpack_groups)(j.src, j.dst, j.n, j.k, j.shape, j.xor_mask, g0, g1);
  } else {
    uint8_t* scratch = j.scratch + i * group_bytes(j.k, j.shape);
    (j.pack ? repack_groups_inplace : unpack_groups_inplace)(j.dst, scratch, j.n, j.k, j.shape,
                                                             j.xor_mask, g0, g1);
  }
}

// Below this many bytes per task, a thread costs more than it saves.
constexpr std::size_t kMinPermuteTaskBytes = std::size_t{512} << 10;

q4r_status context_permute(bool pack, const q4r_context* ctx, q4r_type type, q4r_layout layout,
                           const void* src, void* dst, std::size_t size, int64_t n, int64_t k) {
  clear_error();
  if (q4r_status s = check_ctx(ctx)) return s;
  // The single-threaded calls' validation and messages: an empty range checks everything.
  if (q4r_status s =
          (pack ? q4r_repack_range : q4r_unpack_range)(type, layout, src, dst, size, n, k, 0, 0)) {
    return s;
  }
  PermuteJob j{};
  j.pack = pack;
  j.shape = layout_shape(layout);
  j.xor_mask = repack_xor_mask(type);
  j.src = static_cast<const uint8_t*>(src);
  j.dst = static_cast<uint8_t*>(dst);
  j.n = n;
  j.k = k;
  j.groups = row_groups(n, j.shape);
  const int64_t by_size = static_cast<int64_t>(size / kMinPermuteTaskBytes);
  j.tasks = static_cast<int>(
      std::max<int64_t>(1, std::min({by_size, j.groups, int64_t{ctx->n_threads}})));
  std::unique_ptr<uint8_t[]> scratch;
  if (src == dst && n >= j.shape.rows) {
    const std::size_t bytes = static_cast<std::size_t>(j.tasks * group_bytes(k, j.shape));
    scratch.reset(new (std::nothrow) uint8_t[bytes]);
    if (!scratch) return fail(Q4R_E_NOMEM, "cannot allocate %zu bytes of scratch", bytes);
    j.scratch = scratch.get();
  }
  ctx->executor().run(j.tasks, permute_task, &j);
  return Q4R_OK;
}

}  // namespace

extern "C" {

int64_t q4r_row_step(void) {
  return 4;
}

void q4r_context_options_init(q4r_context_options* options) {
  if (!options) return;
  *options = q4r_context_options{};
  options->struct_size = sizeof(q4r_context_options);
  options->isa = Q4R_ISA_AUTO;
  options->poll_us = -1;
}

q4r_status q4r_context_create(const q4r_context_options* options, q4r_context** out) {
  clear_error();
  if (!out) return fail(Q4R_E_NULL, "out is NULL");
  q4r_context_options o;
  q4r_context_options_init(&o);
  if (options) {
    // 0.1's struct ended before poll_us: its callers get the default for the fields it lacks.
    constexpr std::size_t v01_size = offsetof(q4r_context_options, poll_us);
    if (options->struct_size < v01_size) {
      return fail(Q4R_E_ARGUMENT,
                  "options.struct_size is %zu, expected %zu (call q4r_context_options_init)",
                  options->struct_size, sizeof(q4r_context_options));
    }
    std::memcpy(&o, options, std::min(options->struct_size, sizeof(o)));
  }
  if (o.poll_us > kMaxPollUs) {
    return fail(Q4R_E_ARGUMENT, "poll_us %d is above %d (one second)", o.poll_us, kMaxPollUs);
  }
  q4r_isa isa = active_isa();
  if (o.isa != Q4R_ISA_AUTO) {
    if (o.isa < 0 || o.isa >= Q4R_ISA_COUNT) {
      return fail(Q4R_E_ARGUMENT, "isa %d is not a q4r_isa value", o.isa);
    }
    isa = static_cast<q4r_isa>(o.isa);
    if (!isa_available(isa)) {
      return fail(Q4R_E_ISA, "isa %s is not available on this CPU/build", q4r_isa_name(isa));
    }
  }
  auto* ctx = new (std::nothrow) q4r_context{};
  if (!ctx) return fail(Q4R_E_NOMEM, "cannot allocate a context");
  ctx->isa = isa;
  ctx->hook = o.parallel_for;
  ctx->hook_user = o.parallel_for_user;
  if (ctx->hook) {
    ctx->n_threads = o.n_threads <= 0 ? hardware_threads() : o.n_threads;
  } else {
    ctx->n_threads = pool_executor(o.n_threads, &ctx->pool).n_tasks;
    if (o.poll_us >= 0) ctx->pool.poll_ns = int64_t{o.poll_us} * 1000;
  }
  *out = ctx;
  return Q4R_OK;
}

void q4r_context_destroy(q4r_context* ctx) {
  delete ctx;
}

q4r_isa q4r_context_isa(const q4r_context* ctx) {
  return ctx ? ctx->isa : Q4R_ISA_SCALAR;
}

int q4r_context_threads(const q4r_context* ctx) {
  return ctx ? ctx->n_threads : 0;
}

q4r_layout q4r_context_layout(const q4r_context* ctx, q4r_type type) {
  if (!ctx || !valid_weight_type(type)) return Q4R_LAYOUT_PLAIN;
  return preferred_layout(type, ctx->isa);
}

q4r_status q4r_context_workspace_size(const q4r_context* ctx, const q4r_weights* w, int64_t m,
                                      size_t* out) {
  clear_error();
  if (q4r_status s = check_ctx(ctx)) return s;
  if (q4r_status s = check_weights(w, 1, nullptr)) return s;
  return q4r_workspace_size(w->layout, w->n, m, w->k, out);
}

q4r_status q4r_context_matmul(const q4r_context* ctx, const q4r_weights* w, const float* x,
                              size_t x_stride, int64_t m, float* y, size_t y_stride,
                              void* workspace, size_t workspace_size) {
  clear_error();
  if (q4r_status s = check_ctx(ctx)) return s;
  if (q4r_status s = check_weights(w, 1, nullptr)) return s;
  std::size_t need;
  if (q4r_status s = q4r_workspace_size(w->layout, w->n, m, w->k, &need)) return s;
  if (workspace ? workspace_size < need : workspace_size != 0) {
    return fail(Q4R_E_SIZE, "workspace is %zu bytes; this matmul needs %zu (or NULL and 0)",
                workspace_size, need);
  }
  if (q4r_status s = check_x_y(w, x, x_stride, m, y, y_stride)) return s;
  // The exact byte ranges the call reads (x, weights) and writes (y; the first `need` bytes of a
  // caller's workspace). Writing into a range that is also read would corrupt the result or the
  // caller's data, so an overlap is refused before anything is written.
  const std::size_t y_span = float_span(m, y_stride, w->n);
  const std::size_t x_span = float_span(m, x_stride, w->k);
  const std::size_t ws_span = workspace ? need : 0;
  if (overlap(y, y_span, x, x_span)) return fail(Q4R_E_OVERLAP, "y overlaps x");
  if (overlap(y, y_span, w->data, w->size)) return fail(Q4R_E_OVERLAP, "y overlaps the weights");
  if (overlap(y, y_span, workspace, ws_span)) {
    return fail(Q4R_E_OVERLAP, "y overlaps the workspace");
  }
  if (overlap(workspace, ws_span, x, x_span) || overlap(workspace, ws_span, w->data, w->size)) {
    return fail(Q4R_E_OVERLAP, "the workspace overlaps x or the weights");
  }
  std::unique_ptr<uint8_t[]> owned;
  auto* ws = static_cast<uint8_t*>(workspace);
  if (!ws) {
    owned.reset(new (std::nothrow) uint8_t[need]);
    if (!owned) return fail(Q4R_E_NOMEM, "cannot allocate a %zu-byte workspace", need);
    ws = owned.get();
  }
  parallel_matmul(kernels_for(ctx->isa), ctx->executor(), w->type, w->layout,
                  static_cast<const uint8_t*>(w->data), w->n, w->k, x, x_stride, m, y, y_stride,
                  ws);
  return Q4R_OK;
}

q4r_status q4r_context_repack(const q4r_context* ctx, q4r_type type, q4r_layout layout,
                              const void* src, void* dst, size_t size, int64_t n, int64_t k) {
  return context_permute(true, ctx, type, layout, src, dst, size, n, k);
}

q4r_status q4r_context_unpack(const q4r_context* ctx, q4r_type type, q4r_layout layout,
                              const void* src, void* dst, size_t size, int64_t n, int64_t k) {
  return context_permute(false, ctx, type, layout, src, dst, size, n, k);
}

}  // extern "C"
