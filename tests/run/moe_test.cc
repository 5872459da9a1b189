// Expert matmul (MUL_MAT_ID) against a dense reference: each routed row run alone through
// q4r_matmul on that expert's plain weights.
//
// Tolerance: the MoE path batches the rows of an expert (GEMM on 4-row groups) while the
// reference runs one plain row; the block products are the same but summed in a different
// float order, so results agree to ~1e-6 relative. We allow 2e-5 * (1 + |ref|).
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <thread>
#include <vector>

#include "q4repack/q4repack.h"
#include "q4repack/q4repack.hpp"
#include "test_util.h"

namespace q4r::test {
namespace {

struct Experts {
  int64_t count, n, k;
  std::vector<uint8_t> plain;   // count tensors, plain blocks
  std::vector<uint8_t> packed;  // each expert repacked on its own
  std::size_t bytes;            // one expert
};

Experts make_experts(q4r_type type, q4r_layout layout, int64_t count, int64_t n, int64_t k) {
  Experts e{count, n, k, {}, {}, 0};
  EXPECT_EQ(q4r_tensor_bytes(type, n, k, &e.bytes), Q4R_OK);
  e.plain = random_q4_blocks(count * n, k, static_cast<uint32_t>(count * 31 + n));
  e.packed = e.plain;
  if (layout != Q4R_LAYOUT_PLAIN) {
    for (int64_t i = 0; i < count; ++i) {
      EXPECT_EQ(q4r_repack_inplace(type, layout, e.packed.data() + i * e.bytes, e.bytes, n, k),
                Q4R_OK)
          << q4r_last_error();
    }
  }
  return e;
}

// Reference row: x_row * W[e]^T through the one-row plain path.
std::vector<float> reference(q4r_type type, const Experts& e, int32_t expert, const float* x) {
  std::vector<float> y(e.n);
  EXPECT_EQ(q4r_matmul(type, Q4R_LAYOUT_PLAIN, e.plain.data() + expert * e.bytes, e.bytes, e.n, e.k,
                       x, 1, y.data(), 1),
            Q4R_OK);
  return y;
}

void thread_per_task(void*, int n_tasks, q4r_task_fn task, void* arg) {
  std::vector<std::thread> th;
  for (int i = 0; i < n_tasks; ++i) th.emplace_back(task, arg, i);
  for (auto& t : th) t.join();
}

// Routing: token t uses experts (t*3 + s*5) % used_experts except that every token's slot 0 is
// expert 1, so expert 1 gets m rows (GEMM, and several units once m > 64); experts at or above
// used_experts are never routed to.
std::vector<int32_t> routing(int64_t m, int64_t n_used, int64_t used_experts) {
  std::vector<int32_t> ids(m * n_used);
  for (int64_t t = 0; t < m; ++t) {
    for (int64_t s = 0; s < n_used; ++s) {
      ids[t * n_used + s] = s == 0 ? 1 : static_cast<int32_t>((t * 3 + s * 5) % used_experts);
    }
  }
  return ids;
}

void expect_matches(q4r_type type, q4r_layout layout, int64_t n, int64_t m, int64_t n_used,
                    bool x_per_slot, const q4r_context* ctx) {
  const int64_t n_experts = 6, k = 128;
  const Experts e = make_experts(type, layout, n_experts, n, k);
  const auto ids = routing(m, n_used, n_experts - 1);
  const int64_t x_rows = x_per_slot ? m * n_used : m;
  const auto x = random_floats(x_rows * k, static_cast<uint32_t>(m + n_used));
  std::vector<float> y(m * n_used * n, NAN);
  const q4r_weights w{type, layout, e.packed.data(), e.packed.size(), n, k};
  ASSERT_EQ(q4r_context_matmul_id(ctx, &w, n_experts, x.data(), k, x_per_slot, m, ids.data(),
                                  n_used, n_used, y.data(), n),
            Q4R_OK)
      << q4r_last_error();
  for (int64_t t = 0; t < m; ++t) {
    for (int64_t s = 0; s < n_used; ++s) {
      const int64_t slot = t * n_used + s;
      const float* xr = x.data() + (x_per_slot ? slot : t) * k;
      const auto ref = reference(type, e, ids[slot], xr);
      for (int64_t c = 0; c < n; ++c) {
        const float got = y[slot * n + c];
        ASSERT_NEAR(got, ref[c], 2e-5f * (1.f + std::fabs(ref[c])))
            << q4r_type_name(type) << " " << q4r_layout_name(layout) << " n=" << n << " m=" << m
            << " token " << t << " slot " << s << " col " << c;
      }
    }
  }
}

class MoeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    q4r_context_options o;
    q4r_context_options_init(&o);
    o.n_threads = 5;
    ASSERT_EQ(q4r_context_create(&o, &pool_ctx_), Q4R_OK);
    o.parallel_for = thread_per_task;
    ASSERT_EQ(q4r_context_create(&o, &hook_ctx_), Q4R_OK);
  }
  void TearDown() override {
    q4r_context_destroy(pool_ctx_);
    q4r_context_destroy(hook_ctx_);
  }
  q4r_context* pool_ctx_ = nullptr;
  q4r_context* hook_ctx_ = nullptr;
};

TEST_F(MoeTest, MatchesDenseReferenceForEveryLayout) {
  for (q4r_type type : {Q4R_TYPE_Q4_0, Q4R_TYPE_IQ4_NL}) {
    for (q4r_layout layout : {Q4R_LAYOUT_PLAIN, Q4R_LAYOUT_4X4, Q4R_LAYOUT_4X8, Q4R_LAYOUT_8X8}) {
      for (int64_t n : {int64_t{16}, int64_t{20}}) {  // 20: a plain tail of 4 (8x8) rows
        for (int64_t m : {1, 3, 9}) {
          expect_matches(type, layout, n, m, 2, false, pool_ctx_);
        }
      }
    }
  }
}

TEST_F(MoeTest, ManyRowsOnOneExpertAndPerSlotInputs) {
  // 70 tokens on expert 1: two units (64 + 6 rows); per-slot rows as in a down projection.
  expect_matches(Q4R_TYPE_Q4_0, Q4R_LAYOUT_8X8, 24, 70, 3, true, hook_ctx_);
  expect_matches(Q4R_TYPE_IQ4_NL, Q4R_LAYOUT_4X8, 12, 70, 1, false, pool_ctx_);
  expect_matches(Q4R_TYPE_Q4_0, Q4R_LAYOUT_4X4, 1000, 5, 4, false, hook_ctx_);
}

TEST_F(MoeTest, BadArgumentsFailAndWriteNothing) {
  const int64_t n = 8, k = 64, n_experts = 3, m = 2, n_used = 2;
  const Experts e = make_experts(Q4R_TYPE_Q4_0, Q4R_LAYOUT_8X8, n_experts, n, k);
  const q4r_weights w{Q4R_TYPE_Q4_0, Q4R_LAYOUT_8X8, e.packed.data(), e.packed.size(), n, k};
  const auto x = random_floats(m * k, 1);
  std::vector<float> y(m * n_used * n, 7.f);
  auto run = [&](std::vector<int32_t> ids, const q4r_weights& ww, int64_t ne = 3) {
    return q4r_context_matmul_id(pool_ctx_, &ww, ne, x.data(), k, 0, m, ids.data(), n_used, n_used,
                                 y.data(), n);
  };
  EXPECT_EQ(run({0, 1, 2, 3}, w), Q4R_E_ARGUMENT);
  EXPECT_NE(std::string(q4r_last_error()).find("ids[1][1] = 3"), std::string::npos)
      << q4r_last_error();
  EXPECT_EQ(run({0, -1, 2, 1}, w), Q4R_E_ARGUMENT);
  q4r_weights short_w = w;
  short_w.size -= 1;
  EXPECT_EQ(run({0, 1, 2, 1}, short_w), Q4R_E_SIZE);
  EXPECT_EQ(run({0, 1, 2, 1}, w, 4), Q4R_E_SIZE);  // buffer holds 3 experts, not 4
  EXPECT_EQ(run({0, 1, 2, 1}, w, 0), Q4R_E_ARGUMENT);
  EXPECT_EQ(
      q4r_context_matmul_id(nullptr, &w, n_experts, x.data(), k, 0, m, nullptr, 2, 2, y.data(), n),
      Q4R_E_NULL);
  EXPECT_EQ(q4r_context_matmul_id(pool_ctx_, &w, n_experts, x.data(), k, 0, m, nullptr, 2, 2,
                                  y.data(), n),
            Q4R_E_NULL);
  for (float v : y) ASSERT_EQ(v, 7.f);
  EXPECT_EQ(run({0, 1, 2, 1}, w), Q4R_OK) << q4r_last_error();
}

TEST_F(MoeTest, CppLayer) {
  const int64_t n = 16, k = 64, n_experts = 4, m = 5, n_used = 2;
  const Experts e = make_experts(Q4R_TYPE_IQ4_NL, Q4R_LAYOUT_4X4, n_experts, n, k);
  const q4repack::Weights w{
      Q4R_TYPE_IQ4_NL, Q4R_LAYOUT_4X4, e.packed.data(), e.packed.size(), n, k};
  const auto ids = routing(m, n_used, 3);
  const auto x = random_floats(m * k, 9);
  std::vector<float> y(m * n_used * n);
  q4repack::Context ctx;
  ctx.matmul_id(w, n_experts, x.data(), false, m, ids.data(), n_used, y.data());
  for (int64_t slot = 0; slot < m * n_used; ++slot) {
    const auto ref = reference(Q4R_TYPE_IQ4_NL, e, ids[slot], x.data() + slot / n_used * k);
    for (int64_t c = 0; c < n; ++c)
      ASSERT_NEAR(y[slot * n + c], ref[c], 2e-5f * (1 + std::fabs(ref[c])));
  }
  std::vector<int32_t> bad = ids;
  bad[3] = 99;
  try {
    ctx.matmul_id(w, n_experts, x.data(), false, m, bad.data(), n_used, y.data());
    FAIL() << "no exception";
  } catch (const q4repack::Error& err) {
    EXPECT_EQ(err.status(), Q4R_E_ARGUMENT);
  }
}

}  // namespace
}  // namespace q4r::test
