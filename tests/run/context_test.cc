// The context API (C and C++): creation options, workspace handling, the parallel-for hook,
// argument checks that leave outputs untouched, and equality with q4r_matmul.
#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <cstring>
#include <vector>

#include "q4repack/q4repack.h"
#include "q4repack/q4repack.hpp"
#include "test_util.h"

namespace q4r::test {
namespace {

TEST(Context, OptionsAndCreation) {
  q4r_context_options o;
  std::memset(&o, 0xff, sizeof o);
  q4r_context_options_init(&o);
  EXPECT_EQ(o.struct_size, sizeof o);
  EXPECT_EQ(o.isa, Q4R_ISA_AUTO);
  EXPECT_EQ(o.n_threads, 0);
  EXPECT_EQ(o.parallel_for, nullptr);
  EXPECT_EQ(o.poll_us, -1);

  q4r_context* ctx = nullptr;
  ASSERT_EQ(q4r_context_create(nullptr, &ctx), Q4R_OK);
  EXPECT_EQ(q4r_context_isa(ctx), q4r_active_isa());
  EXPECT_GE(q4r_context_threads(ctx), 1);
  EXPECT_EQ(q4r_context_layout(ctx, Q4R_TYPE_Q4_0),
            q4r_preferred_layout(Q4R_TYPE_Q4_0, q4r_context_isa(ctx)));
  q4r_context_destroy(ctx);
  q4r_context_destroy(nullptr);

  EXPECT_EQ(q4r_context_create(&o, nullptr), Q4R_E_NULL);
  o.isa = 42;
  EXPECT_EQ(q4r_context_create(&o, &ctx), Q4R_E_ARGUMENT);
  o.isa = Q4R_ISA_SCALAR;
  o.n_threads = 3;
  ASSERT_EQ(q4r_context_create(&o, &ctx), Q4R_OK);
  EXPECT_EQ(q4r_context_isa(ctx), Q4R_ISA_SCALAR);
  EXPECT_EQ(q4r_context_threads(ctx), 3);
  q4r_context_destroy(ctx);
  for (int isa = 0; isa < Q4R_ISA_COUNT; ++isa) {
    o.isa = isa;
    ctx = nullptr;
    const q4r_status s = q4r_context_create(&o, &ctx);
    EXPECT_EQ(s, q4r_isa_available(q4r_isa(isa)) ? Q4R_OK : Q4R_E_ISA)
        << q4r_isa_name(q4r_isa(isa));
    q4r_context_destroy(ctx);
  }
  o.isa = Q4R_ISA_AUTO;
  o.struct_size = 8;  // a caller built against an older, smaller struct must say so
  EXPECT_EQ(q4r_context_create(&o, &ctx), Q4R_E_ARGUMENT);
}

// poll_us: 0..1000000 or < 0 for the default; a 0.1 caller's struct (which ends before poll_us)
// is still accepted, and whatever lies beyond it is not read.
TEST(Context, PollOptionAndTheVersion01Struct) {
  q4r_context_options o;
  q4r_context_options_init(&o);
  q4r_context* ctx = nullptr;
  for (int poll : {-5, 0, 1, 100, 1000000}) {
    o.poll_us = poll;
    ASSERT_EQ(q4r_context_create(&o, &ctx), Q4R_OK) << poll;
    q4r_context_destroy(ctx);
  }
  o.poll_us = 1000001;
  ctx = nullptr;
  EXPECT_EQ(q4r_context_create(&o, &ctx), Q4R_E_ARGUMENT);
  EXPECT_NE(std::strstr(q4r_last_error(), "poll_us"), nullptr) << q4r_last_error();
  EXPECT_EQ(ctx, nullptr);
  o.struct_size = offsetof(q4r_context_options, poll_us);  // the 0.1 struct
  o.n_threads = 2;
  ASSERT_EQ(q4r_context_create(&o, &ctx), Q4R_OK) << q4r_last_error();
  EXPECT_EQ(q4r_context_threads(ctx), 2);
  q4r_context_destroy(ctx);
}

struct HookLog {
  std::atomic<int> calls{0};
  std::atomic<int> tasks{0};
};
void serial_hook(void* user, int n_tasks, q4r_task_fn task, void* arg) {
  auto* log = static_cast<HookLog*>(user);
  log->calls.fetch_add(1);
  log->tasks.fetch_add(n_tasks);
  for (int i = n_tasks - 1; i >= 0; --i) task(arg, i);  // any order is allowed
}

class ContextMatmul : public ::testing::Test {
 protected:
  static constexpr int64_t n = 40, k = 256, m = 13;
  void SetUp() override {
    w_ = random_q4_blocks(n, k, 77);
    ASSERT_EQ(q4r_repack_inplace(Q4R_TYPE_Q4_0, Q4R_LAYOUT_8X8, w_.data(), w_.size(), n, k),
              Q4R_OK);
    desc_ = q4r_weights{Q4R_TYPE_Q4_0, Q4R_LAYOUT_8X8, w_.data(), w_.size(), n, k};
    x_ = random_floats(m * k, 5);
    ref_.resize(m * n);
    ASSERT_EQ(q4r_matmul(Q4R_TYPE_Q4_0, Q4R_LAYOUT_8X8, w_.data(), w_.size(), n, k, x_.data(), m,
                         ref_.data(), 1),
              Q4R_OK);
  }
  std::vector<uint8_t> w_;
  q4r_weights desc_{};
  std::vector<float> x_, ref_;
};

TEST_F(ContextMatmul, HookRunsBothPhasesAndMatchesMatmul) {
  HookLog log;
  q4r_context_options o;
  q4r_context_options_init(&o);
  o.n_threads = 4;
  o.parallel_for = serial_hook;
  o.parallel_for_user = &log;
  q4r_context* ctx;
  ASSERT_EQ(q4r_context_create(&o, &ctx), Q4R_OK);
  std::vector<float> y(m * n);
  ASSERT_EQ(q4r_context_matmul(ctx, &desc_, x_.data(), k, m, y.data(), n, nullptr, 0), Q4R_OK);
  EXPECT_EQ(y, ref_);
  EXPECT_GE(log.calls.load(), 1);
  EXPECT_LE(log.tasks.load(), 8);  // at most n_threads tasks per phase
  q4r_context_destroy(ctx);
}

TEST_F(ContextMatmul, StridesAndCallerWorkspace) {
  q4r_context* ctx;
  ASSERT_EQ(q4r_context_create(nullptr, &ctx), Q4R_OK);
  size_t ws_size = 0;
  ASSERT_EQ(q4r_context_workspace_size(ctx, &desc_, m, &ws_size), Q4R_OK);
  std::vector<uint8_t> ws(ws_size + 100);
  // x and y inside wider rows.
  const size_t xs = k + 32, ys = n + 3;
  std::vector<float> x(m * xs, 0.f), y(m * ys, -5.f);
  for (int64_t r = 0; r < m; ++r) std::memcpy(&x[r * xs], &x_[r * k], k * sizeof(float));
  ASSERT_EQ(q4r_context_matmul(ctx, &desc_, x.data(), xs, m, y.data(), ys, ws.data(), ws.size()),
            Q4R_OK)
      << q4r_last_error();
  for (int64_t r = 0; r < m; ++r) {
    for (int64_t c = 0; c < n; ++c) ASSERT_EQ(y[r * ys + c], ref_[r * n + c]);
    for (size_t c = n; c < ys; ++c) ASSERT_EQ(y[r * ys + c], -5.f) << "wrote past n";
  }
  // The same workspace serves a smaller batch.
  std::vector<float> y1(n);
  ASSERT_EQ(q4r_context_matmul(ctx, &desc_, x_.data(), k, 1, y1.data(), n, ws.data(), ws.size()),
            Q4R_OK);
  q4r_context_destroy(ctx);
}

TEST_F(ContextMatmul, BadArgumentsLeaveOutputUntouched) {
  q4r_context* ctx;
  ASSERT_EQ(q4r_context_create(nullptr, &ctx), Q4R_OK);
  std::vector<float> y(m * n, 3.f);
  std::vector<uint8_t> small(16);
  auto run = [&](const q4r_weights* w, const float* x, size_t xs, int64_t mm, float* yy, size_t ys,
                 void* ws,
                 size_t wss) { return q4r_context_matmul(ctx, w, x, xs, mm, yy, ys, ws, wss); };
  EXPECT_EQ(q4r_context_matmul(nullptr, &desc_, x_.data(), k, m, y.data(), n, nullptr, 0),
            Q4R_E_NULL);
  EXPECT_EQ(run(nullptr, x_.data(), k, m, y.data(), n, nullptr, 0), Q4R_E_NULL);
  EXPECT_EQ(run(&desc_, nullptr, k, m, y.data(), n, nullptr, 0), Q4R_E_NULL);
  EXPECT_EQ(run(&desc_, x_.data(), k, m, nullptr, n, nullptr, 0), Q4R_E_NULL);
  EXPECT_EQ(run(&desc_, x_.data(), k - 1, m, y.data(), n, nullptr, 0), Q4R_E_ARGUMENT);
  EXPECT_EQ(run(&desc_, x_.data(), k, m, y.data(), n - 1, nullptr, 0), Q4R_E_ARGUMENT);
  EXPECT_EQ(run(&desc_, x_.data(), k, 0, y.data(), n, nullptr, 0), Q4R_E_SHAPE);
  EXPECT_EQ(run(&desc_, x_.data(), k, m, y.data(), n, small.data(), small.size()), Q4R_E_SIZE);
  EXPECT_EQ(run(&desc_, x_.data(), k, m, y.data(), n, nullptr, 64), Q4R_E_SIZE);
  EXPECT_EQ(
      run(&desc_, reinterpret_cast<const float*>(reinterpret_cast<const char*>(x_.data()) + 1), k,
          m, y.data(), n, nullptr, 0),
      Q4R_E_ALIGNMENT);
  q4r_weights bad = desc_;
  bad.size += 18;
  EXPECT_EQ(run(&bad, x_.data(), k, m, y.data(), n, nullptr, 0), Q4R_E_SIZE);
  bad = desc_;
  bad.k = 100;
  EXPECT_EQ(run(&bad, x_.data(), k, m, y.data(), n, nullptr, 0), Q4R_E_SHAPE);
  bad = desc_;
  bad.type = Q4R_TYPE_Q8_0;
  EXPECT_EQ(run(&bad, x_.data(), k, m, y.data(), n, nullptr, 0), Q4R_E_ARGUMENT);
  bad = desc_;
  bad.layout = q4r_layout(9);
  EXPECT_EQ(run(&bad, x_.data(), k, m, y.data(), n, nullptr, 0), Q4R_E_ARGUMENT);
  auto x = x_;
  x[5 * k + 3] = INFINITY;
  EXPECT_EQ(run(&desc_, x.data(), k, m, y.data(), n, nullptr, 0), Q4R_E_VALUE);
  EXPECT_STRNE(q4r_last_error(), "");
  for (float v : y) ASSERT_EQ(v, 3.f);
  q4r_context_destroy(ctx);
}

// The C++ layer's poll_us reaches the C options: out of range is the C call's error.
TEST_F(ContextMatmul, CppLayerPollOption) {
  for (int poll : {0, 250}) {
    q4repack::ContextOptions opts;
    opts.n_threads = 2;
    opts.poll_us = poll;
    const q4repack::Context ctx(opts);
    std::vector<float> y(m * n);
    ctx.matmul(desc_, x_.data(), m, y.data());
    EXPECT_EQ(y, ref_);
  }
  q4repack::ContextOptions bad;
  bad.poll_us = 2000000;
  EXPECT_THROW(q4repack::Context{bad}, q4repack::Error);
}

TEST_F(ContextMatmul, CppLayerWithLambdaPool) {
  std::atomic<int> calls{0};
  q4repack::ContextOptions opts;
  opts.n_threads = 3;
  opts.parallel_for = [&](int n_tasks, const q4repack::Task& task) {
    calls.fetch_add(1);
    for (int i = 0; i < n_tasks; ++i) task(i);
  };
  const q4repack::Context ctx(opts);
  EXPECT_EQ(ctx.threads(), 3);
  std::vector<float> y(m * n);
  ctx.matmul(desc_, x_.data(), m, y.data());
  EXPECT_EQ(y, ref_);
  EXPECT_GE(calls.load(), 1);
  q4r_weights bad = desc_;
  bad.n = 41;
  try {
    ctx.matmul(bad, x_.data(), m, y.data());
    FAIL() << "no exception";
  } catch (const q4repack::Error& e) {
    EXPECT_EQ(e.status(), Q4R_E_SIZE);
    EXPECT_NE(std::string(e.what()).find("bytes"), std::string::npos) << e.what();
  }
  q4repack::Context moved = q4repack::Context(opts);
  moved.matmul(desc_, x_.data(), m, y.data());
  EXPECT_EQ(y, ref_);
}

}  // namespace
}  // namespace q4r::test
