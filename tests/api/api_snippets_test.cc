// The code snippets of docs/API.md, compiled and run. Each snippet sits between
// "// snippet: NAME" and "// end snippet" lines; the DocSnippets test checks that every ```cpp
// block in docs/API.md is one of these snippets, verbatim, so the guide cannot drift.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "q4repack/q4repack.h"
#include "q4repack/q4repack.hpp"
#include "test_util.h"

namespace {

// Stand-ins for what an engine already has.
struct Tensor {
  std::vector<uint8_t> bytes;  // the GGUF tensor data (Q4_0 or IQ4_NL: plain layout)
  int64_t n, k;                // ne[1] rows (outputs), ne[0] values per row
};
Tensor gguf_tensor(int64_t n, int64_t k) {
  const auto f = q4r::test::random_floats(n * k, 1);
  Tensor t{std::vector<uint8_t>(n * k / 32 * 18), n, k};
  q4r_quantize(Q4R_TYPE_Q4_0, f.data(), n, k, nullptr, t.bytes.data(), t.bytes.size());
  return t;
}
// An engine's pool: here, one std::thread per task.
struct MyPool {
  template <class F>
  void parallel_for(int n, F f) {
    std::vector<std::thread> th;
    for (int i = 0; i < n; ++i) th.emplace_back(f, i);
    for (auto& t : th) t.join();
  }
  int size() const { return 3; }
};

// snippet: check
#define Q4R_CHECK(call)                                                          \
  do {                                                                           \
    q4r_status status_ = (call);                                                 \
    if (status_ != Q4R_OK) {                                                     \
      std::fprintf(stderr, "%s: %s\n", q4r_strerror(status_), q4r_last_error()); \
      return status_;                                                            \
    }                                                                            \
  } while (0)
// end snippet

q4r_status load_and_check(const Tensor& t) {
  // snippet: load
  // GGUF Q4_0 / IQ4_NL tensor data is q4repack's plain layout, byte for byte.
  size_t bytes = 0;
  Q4R_CHECK(q4r_tensor_bytes(Q4R_TYPE_Q4_0, t.n, t.k, &bytes));
  if (bytes != t.bytes.size()) return Q4R_E_SIZE;  // not the tensor we think it is
  // end snippet
  return Q4R_OK;
}

// A GGUF tensor as the engine's loader sees it: its type id, shape and mapped bytes.
struct GgufTensorView {
  uint32_t ggml_type;
  int64_t n, k;
  const void* data;
  size_t size;
};

q4r_status legacy_weights(const GgufTensorView& t, q4r_weights* out) {
  // snippet: legacy
  // Any GGUF tensor type q4repack runs: 2 / 20 (plain), 31 / 32 / 33 / 36 (legacy pre-repacked,
  // refused by current GGML): run it from the mapping, as stored; no repack at load.
  q4r_type type;
  q4r_layout stored;
  Q4R_CHECK(q4r_gguf_type_info(t.ggml_type, &type, &stored));
  const q4r_weights w = {type, stored, t.data, t.size, t.n, t.k};
  // end snippet
  *out = w;
  return Q4R_OK;
}

q4r_status choose_layout(q4r_context** out, q4r_layout* layout) {
  // snippet: context
  q4r_context_options opts;
  q4r_context_options_init(&opts);  // auto ISA, all cores, the library's own pool
  q4r_context* ctx = NULL;
  Q4R_CHECK(q4r_context_create(&opts, &ctx));
  // The layout whose kernels are fastest on this context's ISA (8x8 on AVX2, ...).
  q4r_layout chosen = q4r_context_layout(ctx, Q4R_TYPE_Q4_0);
  // end snippet
  *out = ctx;
  *layout = chosen;
  return Q4R_OK;
}

q4r_status report_cpu(const q4r_context* ctx, std::string* line) {
  // snippet: cpu
  // What the library detected (cpu_features), e.g. for a log line: a size query, then the text.
  size_t length = 0;
  Q4R_CHECK(q4r_cpu_info(Q4R_CPU_FEATURES, NULL, 0, &length));
  std::vector<char> features(length + 1);
  Q4R_CHECK(q4r_cpu_info(Q4R_CPU_FEATURES, features.data(), features.size(), NULL));
  char kernels[256];  // or size it with a query too
  Q4R_CHECK(q4r_isa_kernel_set(q4r_context_isa(ctx), kernels, sizeof kernels, NULL));
  std::printf("q4repack: %s kernels (%s) on %s\n", q4r_isa_name(q4r_context_isa(ctx)), kernels,
              features.data());
  // end snippet
  *line = std::string(features.data()) + "|" + kernels;
  return Q4R_OK;
}

q4r_status repack_both_ways(Tensor& t, q4r_layout layout, std::vector<uint8_t>* copy) {
  // snippet: repack
  // In place: same buffer, same size, no second copy of the model in memory.
  Q4R_CHECK(q4r_repack_inplace(Q4R_TYPE_Q4_0, layout, t.bytes.data(), t.bytes.size(), t.n, t.k));
  // Or into a buffer of the same size (e.g. when the GGUF file is mapped read-only):
  //   q4r_repack(Q4R_TYPE_Q4_0, layout, src, dst, size, n, k);
  // And back to GGUF's plain layout, exactly:
  //   q4r_unpack(Q4R_TYPE_Q4_0, layout, src, dst, size, n, k);
  // end snippet
  copy->resize(t.bytes.size());
  Q4R_CHECK(
      q4r_unpack(Q4R_TYPE_Q4_0, layout, t.bytes.data(), copy->data(), copy->size(), t.n, t.k));
  return Q4R_OK;
}

q4r_status repack_on_threads(const q4r_context* ctx, Tensor& t, q4r_layout layout) {
  // snippet: repack_threads
  // A large tensor on the context's threads (its pool or your parallel-for); src == dst: in place.
  Q4R_CHECK(q4r_context_repack(ctx, Q4R_TYPE_Q4_0, layout, t.bytes.data(), t.bytes.data(),
                               t.bytes.size(), t.n, t.k));
  // Or split it over your own threads by row groups [g0, g1): any split gives the same bytes,
  // and calls on disjoint ranges may run at the same time.
  const int64_t groups = q4r_row_groups(layout, t.n);
  q4r_status second = Q4R_OK;
  std::thread other([&] {
    second = q4r_unpack_inplace_range(Q4R_TYPE_Q4_0, layout, t.bytes.data(), t.bytes.size(), t.n,
                                      t.k, groups / 2, groups);
  });
  const q4r_status first = q4r_unpack_inplace_range(Q4R_TYPE_Q4_0, layout, t.bytes.data(),
                                                    t.bytes.size(), t.n, t.k, 0, groups / 2);
  other.join();
  Q4R_CHECK(first);
  Q4R_CHECK(second);  // (q4r_last_error() is per thread: read it on the thread that failed)
  // end snippet
  return Q4R_OK;
}

q4r_status matmul(const q4r_context* ctx, const Tensor& t, q4r_layout layout, const float* x,
                  int64_t m, float* y) {
  // snippet: matmul
  q4r_weights w = {Q4R_TYPE_Q4_0, layout, t.bytes.data(), t.bytes.size(), t.n, t.k};
  // y (m x n, row stride n) = x (m x k, row stride k) * W^T. NULL workspace: allocated per call.
  Q4R_CHECK(q4r_context_matmul(ctx, &w, x, t.k, m, y, t.n, NULL, 0));

  // Decode loops: size the workspace once for the largest batch and reuse it.
  size_t ws_size = 0;
  Q4R_CHECK(q4r_context_workspace_size(ctx, &w, m, &ws_size));
  std::vector<uint8_t> ws(ws_size);
  Q4R_CHECK(q4r_context_matmul(ctx, &w, x, t.k, m, y, t.n, ws.data(), ws.size()));
  // end snippet
  return Q4R_OK;
}

// snippet: hook
// The engine's pool runs our tasks: call task(arg, i) for every i, return when all are done.
static void my_parallel_for(void* user, int n_tasks, q4r_task_fn task, void* arg) {
  MyPool* pool = static_cast<MyPool*>(user);
  pool->parallel_for(n_tasks, [=](int i) { task(arg, i); });
}

q4r_status make_engine_context(MyPool* pool, q4r_context** ctx) {
  q4r_context_options opts;
  q4r_context_options_init(&opts);
  opts.n_threads = pool->size();  // tasks per phase: one per engine thread
  opts.parallel_for = my_parallel_for;
  opts.parallel_for_user = pool;
  return q4r_context_create(&opts, ctx);  // q4repack starts no thread of its own
}
// end snippet

// snippet: stateless
// Full control: quantize the batch once, then any thread runs any range of output columns.
q4r_status run_by_hand(const q4r_weights* w, const float* x, int64_t m, float* y) {
  size_t ws_size = 0;
  Q4R_CHECK(q4r_workspace_size(w->layout, w->n, m, w->k, &ws_size));
  std::vector<uint8_t> ws(ws_size);
  // Row ranges start at multiples of q4r_row_step() (4): split this over threads if m is large.
  Q4R_CHECK(
      q4r_quantize_activations_rows(w->layout, w->n, x, w->k, m, w->k, 0, m, ws.data(), ws.size()));
  // Column ranges start at multiples of q4r_column_step(layout) and end on one or at n.
  const int64_t step = q4r_column_step(w->layout);
  const int64_t half = (w->n / 2) / step * step;
  std::thread other([&] {
    q4r_run(w->type, w->layout, w->data, w->size, w->n, w->k, ws.data(), ws.size(), m, y, w->n,
            half, w->n);
  });
  if (half > 0) {
    q4r_run(w->type, w->layout, w->data, w->size, w->n, w->k, ws.data(), ws.size(), m, y, w->n, 0,
            half);
  }
  other.join();
  return Q4R_OK;
}
// end snippet

q4r_status moe(const q4r_context* ctx, const std::vector<uint8_t>& all_experts, int64_t n,
               int64_t k, const float* x, int64_t m, float* y) {
  // snippet: moe
  // 8 experts of n x k, each repacked on its own, stored back to back (a GGUF 3-D tensor).
  const int64_t n_experts = 8, n_used = 2;
  q4r_weights experts = {Q4R_TYPE_Q4_0,
                         Q4R_LAYOUT_8X8,
                         all_experts.data(),
                         all_experts.size(),
                         n,
                         k};  // n, k and layout describe ONE expert
  // The router's choice: token t uses experts ids[t][0..n_used).
  std::vector<int32_t> ids(m * n_used);
  for (int64_t t = 0; t < m; ++t) {
    ids[t * n_used] = 0;
    ids[t * n_used + 1] = static_cast<int32_t>(t % n_experts);
  }
  // y row t * n_used + s = x row t times expert ids[t][s]. x_per_slot = 0: a token's one row
  // feeds all its experts (gate/up); 1: x has m * n_used rows (the down projection).
  Q4R_CHECK(q4r_context_matmul_id(ctx, &experts, n_experts, x, k, 0, m, ids.data(), n_used, n_used,
                                  y, n));
  // end snippet
  return Q4R_OK;
}

int errors(const q4r_context* ctx, const float* x, float* y) {
  // snippet: errors
  q4r_weights bad = {Q4R_TYPE_Q4_0, Q4R_LAYOUT_8X8, x, 100, 8, 48};  // k is not a multiple of 32
  q4r_status s = q4r_context_matmul(ctx, &bad, x, 48, 1, y, 8, NULL, 0);
  if (s != Q4R_OK) {
    // s == Q4R_E_SHAPE; y is untouched. The message names the problem, for this thread:
    std::fprintf(stderr, "matmul: %s (%s)\n", q4r_strerror(s), q4r_last_error());
  }
  // end snippet
  return s;
}

void cpp_layer(const Tensor& t, const float* x, int64_t m, float* y) {
  // snippet: cpp
  // q4repack.hpp: the same calls, RAII and exceptions (q4repack::Error carries the status).
  MyPool pool;
  q4repack::ContextOptions opts;
  opts.n_threads = pool.size();
  opts.parallel_for = [&pool](int n_tasks, const q4repack::Task& task) {
    pool.parallel_for(n_tasks, task);
  };
  const q4repack::Context ctx(opts);
  std::vector<uint8_t> w = t.bytes;
  q4repack::repack_inplace(Q4R_TYPE_Q4_0, ctx.layout(Q4R_TYPE_Q4_0), w.data(), w.size(), t.n, t.k);
  const q4repack::Weights desc{
      Q4R_TYPE_Q4_0, ctx.layout(Q4R_TYPE_Q4_0), w.data(), w.size(), t.n, t.k};
  try {
    ctx.matmul(desc, x, m, y);
  } catch (const q4repack::Error& e) {
    std::fprintf(stderr, "q4repack: %s (status %d)\n", e.what(), static_cast<int>(e.status()));
  }
  // end snippet
}

TEST(ApiSnippets, RunAsDocumented) {
  const int64_t n = 24, k = 64, m = 6;
  Tensor t = gguf_tensor(n, k);
  const Tensor original = t;
  ASSERT_EQ(load_and_check(t), Q4R_OK);
  q4r_context* ctx = nullptr;
  q4r_layout layout = Q4R_LAYOUT_PLAIN;
  ASSERT_EQ(choose_layout(&ctx, &layout), Q4R_OK);
  if (layout == Q4R_LAYOUT_PLAIN) layout = Q4R_LAYOUT_4X8;  // scalar builds prefer plain
  std::string cpu_line;
  ASSERT_EQ(report_cpu(ctx, &cpu_line), Q4R_OK);
  EXPECT_NE(cpu_line.find('|'), std::string::npos);
  std::vector<uint8_t> unpacked;
  ASSERT_EQ(repack_both_ways(t, layout, &unpacked), Q4R_OK);
  EXPECT_EQ(unpacked, original.bytes);
  Tensor threaded = original;  // repacked on threads, then unpacked on two threads by hand
  ASSERT_EQ(repack_on_threads(ctx, threaded, layout), Q4R_OK);
  EXPECT_EQ(threaded.bytes, original.bytes);

  const auto x = q4r::test::random_floats(m * k, 2);
  std::vector<float> y(m * n), ref(m * n);
  ASSERT_EQ(q4r_matmul(Q4R_TYPE_Q4_0, layout, t.bytes.data(), t.bytes.size(), n, k, x.data(), m,
                       ref.data(), 1),
            Q4R_OK);
  ASSERT_EQ(matmul(ctx, t, layout, x.data(), m, y.data()), Q4R_OK);
  EXPECT_EQ(y, ref);

  // A legacy q4_0_8x8 tensor (type 33) is the repacked bytes, run as they are.
  std::vector<uint8_t> packed(original.bytes.size());
  ASSERT_EQ(q4r_repack(Q4R_TYPE_Q4_0, Q4R_LAYOUT_8X8, original.bytes.data(), packed.data(),
                       packed.size(), n, k),
            Q4R_OK);
  q4r_weights lw{};
  ASSERT_EQ(legacy_weights({33, n, k, packed.data(), packed.size()}, &lw), Q4R_OK);
  EXPECT_EQ(lw.layout, Q4R_LAYOUT_8X8);
  std::vector<float> y_legacy(m * n), ref_8x8(m * n);
  ASSERT_EQ(q4r_matmul(lw.type, lw.layout, lw.data, lw.size, n, k, x.data(), m, y_legacy.data(), 1),
            Q4R_OK);
  ASSERT_EQ(q4r_matmul(Q4R_TYPE_Q4_0, Q4R_LAYOUT_8X8, packed.data(), packed.size(), n, k, x.data(),
                       m, ref_8x8.data(), 1),
            Q4R_OK);
  EXPECT_EQ(y_legacy, ref_8x8);
  EXPECT_EQ(legacy_weights({37, n, k, packed.data(), packed.size()}, &lw), Q4R_E_UNSUPPORTED);

  MyPool pool;
  q4r_context* engine_ctx = nullptr;
  ASSERT_EQ(make_engine_context(&pool, &engine_ctx), Q4R_OK);
  std::fill(y.begin(), y.end(), 0.f);
  ASSERT_EQ(matmul(engine_ctx, t, layout, x.data(), m, y.data()), Q4R_OK);
  EXPECT_EQ(y, ref);

  const q4r_weights w{Q4R_TYPE_Q4_0, layout, t.bytes.data(), t.bytes.size(), n, k};
  std::fill(y.begin(), y.end(), 0.f);
  ASSERT_EQ(run_by_hand(&w, x.data(), m, y.data()), Q4R_OK);
  EXPECT_EQ(y, ref);

  std::vector<uint8_t> experts;
  for (int e = 0; e < 8; ++e) {
    Tensor ex = gguf_tensor(n, k);
    ASSERT_EQ(
        q4r_repack_inplace(Q4R_TYPE_Q4_0, Q4R_LAYOUT_8X8, ex.bytes.data(), ex.bytes.size(), n, k),
        Q4R_OK);
    experts.insert(experts.end(), ex.bytes.begin(), ex.bytes.end());
  }
  std::vector<float> ym(m * 2 * n);
  ASSERT_EQ(moe(engine_ctx, experts, n, k, x.data(), m, ym.data()), Q4R_OK);

  EXPECT_EQ(errors(ctx, x.data(), y.data()), Q4R_E_SHAPE);
  std::fill(y.begin(), y.end(), 0.f);
  cpp_layer(original, x.data(), m, y.data());
  std::vector<float> ref_plain(m * n);
  ASSERT_EQ(q4r_matmul(Q4R_TYPE_Q4_0, Q4R_LAYOUT_PLAIN, original.bytes.data(),
                       original.bytes.size(), n, k, x.data(), m, ref_plain.data(), 1),
            Q4R_OK);
  for (int64_t i = 0; i < m * n; ++i) EXPECT_NEAR(y[i], ref_plain[i], 1e-4f);
  q4r_context_destroy(engine_ctx);
  q4r_context_destroy(ctx);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every ```cpp block of docs/API.md is a snippet of this file, verbatim.
TEST(ApiSnippets, DocMatchesCompiledCode) {
  const std::string here = __FILE__;
  const std::string root = here.substr(0, here.rfind("/tests/"));
  const std::string doc = read_file(root + "/docs/API.md");
  const std::string src = read_file(here);
  ASSERT_FALSE(doc.empty()) << root + "/docs/API.md";
  int blocks = 0;
  for (std::size_t p = doc.find("```cpp\n"); p != std::string::npos;
       p = doc.find("```cpp\n", p + 1)) {
    const std::size_t b = p + 7, e = doc.find("```\n", b);
    ASSERT_NE(e, std::string::npos);
    const std::string block = doc.substr(b, e - b);
    // Snippets are indented in functions here; compare line by line without the indent.
    std::istringstream lines(block);
    std::string line, joined_doc;
    while (std::getline(lines, line)) joined_doc += line + "\n";
    bool found = false;
    for (std::size_t s = src.find("// snippet: "); s != std::string::npos && !found;
         s = src.find("// snippet: ", s + 1)) {
      const std::size_t body = src.find('\n', s) + 1;
      const std::size_t end = src.rfind('\n', src.find("// end snippet", body)) + 1;
      std::istringstream sl(src.substr(body, end - body));
      std::string indent, joined_src;
      bool first = true;
      while (std::getline(sl, line)) {
        if (first) indent = line.substr(0, line.find_first_not_of(' ')), first = false;
        joined_src +=
            (line.compare(0, indent.size(), indent) == 0 ? line.substr(indent.size()) : line) +
            "\n";
      }
      found = joined_src == joined_doc;
    }
    EXPECT_TRUE(found) << "docs/API.md block not found verbatim in " << here << ":\n" << block;
    ++blocks;
  }
  EXPECT_GE(blocks, 8);
}

}  // namespace
