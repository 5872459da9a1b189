#include "moe.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include "lib/format/checks.h"
#include "claims.h"
#include "dispatch.h"
#include "lib/error.h"
#include "lib/format/formats.h"
#include "matmul.h"

namespace q4r {
namespace {

// A batch of routed rows of one expert: slots order[first .. first + rows).
struct Unit {
  int64_t expert;
  int64_t first;
  int64_t rows;
  std::size_t ws_offset;
};

struct MoeJob {
  const KernelTable* kt;
  const MoeArgs* a;
  std::vector<int64_t> order;  // slot indices (t * n_used + s) grouped by expert
  std::vector<Unit> units;
  uint8_t* ws;
  int64_t row_bytes;  // one Q8_0 activation row
  Claims quant;       // phase 1: the units
  // Phase 2 work items: unit u, column chunk c  ->  item u * chunks.count + c.
  ColumnChunks chunks;
  Claims items;
};

const float* x_row(const MoeArgs& a, int64_t slot) {
  const int64_t r = a.x_per_slot ? slot : slot / a.n_used;
  return a.x + r * static_cast<int64_t>(a.x_stride);
}

// Quantizes one unit's rows the way quantize_activation_rows lays out a batch of `rows` rows,
// gathering the scattered activation rows 4 at a time into `buf` (4 * k floats).
void quantize_unit(const MoeJob& j, const Unit& u, float* buf) {
  const MoeArgs& a = *j.a;
  const WorkspacePlan p = plan_workspace(a.layout, a.n, u.rows, a.k);
  const int k = static_cast<int>(a.k);
  uint8_t* ws = j.ws + u.ws_offset;
  const int64_t* slots = j.order.data() + u.first;
  if (p.gemm_rows > 0) {
    const int chunk = q4r_layout_chunk(a.layout) == 4 ? kChunk4 : kChunk8;
    for (int64_t r = 0; r < p.gemm_rows; r += 4) {
      for (int i = 0; i < 4; ++i) {
        std::memcpy(buf + i * a.k, x_row(a, slots[r + i]), sizeof(float) * a.k);
      }
      j.kt->quant_x4[chunk](buf, a.k, ws + r * p.row_bytes, k, 1);
    }
  }
  for (int64_t r = p.gemm_rows; r < u.rows; ++r) {
    j.kt->quant_rows(x_row(a, slots[r]), a.x_stride, ws + r * p.row_bytes, k, 1);
  }
  if (p.plain_copy) {
    for (int64_t r = 0; r < u.rows; ++r) {
      j.kt->quant_rows(x_row(a, slots[r]), a.x_stride, ws + p.plain_off + r * p.row_bytes, k, 1);
    }
  }
}

// Runs one unit over columns [c0, c1) into a dense scratch tile, then scatters the tile's rows
// to the routed output rows. The weights of columns [c0, n) of one expert are themselves a valid
// tensor of n - c0 rows (c0 is a multiple of N, so the plain tail stays a tail).
void run_item(const MoeJob& j, int64_t item, float* tile) {
  const MoeArgs& a = *j.a;
  const Unit& u = j.units[item / j.chunks.count];
  const int64_t c0 = (item % j.chunks.count) * j.chunks.size;
  const int64_t c1 = std::min(c0 + j.chunks.size, a.n);
  const int64_t width = c1 - c0;
  const int64_t w_row_bytes = a.k / kBlockValues * kQ4BlockBytes;
  const uint8_t* w = a.w + u.expert * a.expert_bytes + c0 * w_row_bytes;
  run_columns(*j.kt, a.type, a.layout, w, a.n - c0, a.k, j.ws + u.ws_offset, u.rows, tile,
              static_cast<std::size_t>(width), 0, width);
  for (int64_t r = 0; r < u.rows; ++r) {
    float* dst = a.y + j.order[u.first + r] * static_cast<int64_t>(a.y_stride) + c0;
    std::memcpy(dst, tile + r * width, sizeof(float) * width);
  }
}

// Both phases in one fork-join (claims.h): quantize the claimed units, wait for all of them, then
// run the claimed (unit, column chunk) items.
void moe_task(void* arg, int) {
  auto* j = static_cast<MoeJob*>(arg);
  {
    std::unique_ptr<float[]> buf(new float[4 * j->a->k]);
    j->quant.run([&](int64_t u) { quantize_unit(*j, j->units[u], buf.get()); });
  }
  j->quant.wait_all_done();
  std::unique_ptr<float[]> tile(new float[kMoeUnitRows * j->chunks.size]);
  j->items.run([&](int64_t i) { run_item(*j, i, tile.get()); });
}

// Widest column chunk: a tile of kMoeUnitRows x this many floats is 256 KiB.
constexpr int64_t kMaxChunkColumns = 1024;

}  // namespace

q4r_status moe_matmul(const KernelTable& kt, const Executor& ex, const MoeArgs& a) {
  MoeJob j;
  j.kt = &kt;
  j.a = &a;
  const int64_t slots = a.m * a.n_used;
  // Counting sort of the slots by expert (stable: tokens keep their order within an expert).
  std::vector<int64_t> start(static_cast<std::size_t>(a.n_experts) + 1, 0);
  for (int64_t t = 0; t < a.m; ++t) {
    for (int64_t s = 0; s < a.n_used; ++s) ++start[a.ids[t * a.ids_stride + s] + 1];
  }
  for (int64_t e = 0; e < a.n_experts; ++e) start[e + 1] += start[e];
  j.order.resize(static_cast<std::size_t>(slots));
  {
    std::vector<int64_t> fill(start.begin(), start.end() - 1);
    for (int64_t t = 0; t < a.m; ++t) {
      for (int64_t s = 0; s < a.n_used; ++s) {
        j.order[fill[a.ids[t * a.ids_stride + s]]++] = t * a.n_used + s;
      }
    }
  }
  std::size_t ws_bytes = 0;
  for (int64_t e = 0; e < a.n_experts; ++e) {
    for (int64_t r0 = start[e]; r0 < start[e + 1]; r0 += kMoeUnitRows) {
      const int64_t rows = std::min(kMoeUnitRows, start[e + 1] - r0);
      j.units.push_back(Unit{e, r0, rows, ws_bytes});
      const std::size_t bytes = plan_workspace(a.layout, a.n, rows, a.k).bytes;
      ws_bytes += (bytes + 63) / 64 * 64;
    }
  }
  std::unique_ptr<uint8_t[]> ws(new (std::nothrow) uint8_t[ws_bytes]);
  if (!ws) return fail(Q4R_E_NOMEM, "cannot allocate a %zu-byte MoE workspace", ws_bytes);
  j.ws = ws.get();

  const int64_t n_units = static_cast<int64_t>(j.units.size());
  j.quant.set_count(n_units);

  // Enough column chunks per unit that every task gets several items, none wider than the tile.
  const int64_t step = a.layout == Q4R_LAYOUT_PLAIN ? 8 : q4r_layout_rows(a.layout);
  const int64_t per_unit = std::max<int64_t>(1, (4 * ex.n_tasks + n_units - 1) / n_units);
  j.chunks = column_chunks(a.n, step, per_unit, 1);
  if (j.chunks.size > kMaxChunkColumns) {
    j.chunks = column_chunks(a.n, step, (a.n + kMaxChunkColumns - 1) / kMaxChunkColumns, 1);
  }
  j.items.set_count(n_units * j.chunks.count);
  const int64_t tasks = std::max(n_units, j.items.count());
  ex.run(static_cast<int>(std::min<int64_t>(ex.n_tasks, tasks)), moe_task, &j);
  return Q4R_OK;
}

}  // namespace q4r

using namespace q4r;

extern "C" q4r_status q4r_context_matmul_id(const q4r_context* ctx, const q4r_weights* experts,
                                            int64_t n_experts, const float* x, size_t x_stride,
                                            int x_per_slot, int64_t m, const int32_t* ids,
                                            size_t ids_stride, int64_t n_used, float* y,
                                            size_t y_stride) {
  clear_error();
  if (!ctx) return fail(Q4R_E_NULL, "context is NULL");
  if (!experts) return fail(Q4R_E_NULL, "experts descriptor is NULL");
  if (n_experts <= 0 || n_experts > (int64_t{1} << 20)) {
    return fail(Q4R_E_ARGUMENT, "n_experts = %lld is out of range [1, 2^20]", (long long)n_experts);
  }
  if (n_used <= 0 || n_used > n_experts) {
    return fail(Q4R_E_ARGUMENT, "n_used = %lld must be in [1, n_experts = %lld]", (long long)n_used,
                (long long)n_experts);
  }
  if (m <= 0 || m >= (int64_t{1} << 31) / n_used) {
    return fail(Q4R_E_SHAPE, "m = %lld tokens is out of range", (long long)m);
  }
  // One expert's shape, type and layout; the buffer holds n_experts of them.
  std::size_t expert_bytes;
  if (q4r_status st = check_weights(experts, n_experts, &expert_bytes)) return st;
  const q4r_weights one = *experts;
  if (!ids) return fail(Q4R_E_NULL, "ids is NULL");
  if (ids_stride < static_cast<std::size_t>(n_used)) {
    return fail(Q4R_E_ARGUMENT, "ids_stride %zu is smaller than n_used = %lld", ids_stride,
                (long long)n_used);
  }
  for (int64_t t = 0; t < m; ++t) {
    for (int64_t s = 0; s < n_used; ++s) {
      const int32_t e = ids[t * ids_stride + s];
      if (e < 0 || e >= n_experts) {
        return fail(Q4R_E_ARGUMENT, "ids[%lld][%lld] = %d is not an expert in [0, %lld)",
                    (long long)t, (long long)s, e, (long long)n_experts);
      }
    }
  }
  for (const auto& [what, p] : {std::pair<const char*, const void*>{"x", x}, {"y", y}}) {
    if (!p) return fail(Q4R_E_NULL, "%s is NULL", what);
    if (reinterpret_cast<uintptr_t>(p) % alignof(float) != 0) {
      return fail(Q4R_E_ALIGNMENT, "%s is not 4-byte aligned", what);
    }
  }
  if (x_stride < static_cast<std::size_t>(one.k)) {
    return fail(Q4R_E_ARGUMENT, "x_stride %zu is smaller than k = %lld", x_stride,
                (long long)one.k);
  }
  if (y_stride < static_cast<std::size_t>(one.n)) {
    return fail(Q4R_E_ARGUMENT, "y_stride %zu is smaller than n = %lld", y_stride,
                (long long)one.n);
  }
  const int64_t x_rows = x_per_slot ? m * n_used : m;
  for (int64_t r = 0; r < x_rows; ++r) {
    for (int64_t c = 0; c < one.k; ++c) {
      if (!std::isfinite(x[r * x_stride + c])) {
        return fail(Q4R_E_VALUE, "activation row %lld has a non-finite value", (long long)r);
      }
    }
  }
  // y receives m * n_used rows (one per slot); refuse before writing if it shares a byte with
  // anything the call reads. The MoE workspace is internal, so it cannot overlap.
  const std::size_t y_span = float_span(m * n_used, y_stride, one.n);
  if (overlap(y, y_span, x, float_span(x_rows, x_stride, one.k))) {
    return fail(Q4R_E_OVERLAP, "y overlaps x");
  }
  if (overlap(y, y_span, experts->data, experts->size)) {
    return fail(Q4R_E_OVERLAP, "y overlaps the expert weights");
  }
  if (overlap(y, y_span, ids, strided_span(m, ids_stride, n_used, sizeof(int32_t)))) {
    return fail(Q4R_E_OVERLAP, "y overlaps the ids");
  }
  MoeArgs a{one.type,        one.layout, static_cast<const uint8_t*>(experts->data),
            expert_bytes,    n_experts,  one.n,
            one.k,           x,          x_stride,
            x_per_slot != 0, m,          ids,
            ids_stride,      n_used,     y,
            y_stride};
  return moe_matmul(kernels_for(ctx->isa), ctx->executor(), a);
}
