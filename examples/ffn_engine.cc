// A small inference engine on q4repack's public API: a stack of transformer feed-forward blocks
// (x += down(silu(gate(rmsnorm(x))) * up(rmsnorm(x)))) with Llama-3-8B shapes (hidden 4096,
// ffn 14336), synthetic weights quantized to Q4_0 by the library and repacked in place, run on
// the engine's own thread pool through the context's parallel-for hook.
//
//   ffn_engine [--layers L] [--scale S] [--prompt P] [--tokens T] [--threads N] [--check]
//
// Default: runs the engine twice, each in a child process so that peak memory (max RSS) is
// measured per variant: once with plain weights and once repacked in place, and prints prefill
// (P tokens in one batch) and decode (T tokens one at a time) tokens/s and max RSS of both.
// --scale S divides both dimensions by S (rounded to multiples of 32) for quick runs.
// --check: small model in one process, plain and repacked side by side; exits 1 unless the final
// hidden states agree within the stated tolerance.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "q4repack/q4repack.hpp"

namespace {

// ------------------------------------------------------------------ the engine's thread pool
// What an engine already has: workers that run index ranges. q4repack never creates threads here.
class EnginePool {
 public:
  explicit EnginePool(int threads) {
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { work(); });
  }
  ~EnginePool() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }
  int threads() const { return static_cast<int>(workers_.size()) + 1; }

  // q4r_parallel_for: the caller works too, and returns once every task has run.
  static void parallel_for(void* user, int n_tasks, q4r_task_fn task, void* arg) {
    static_cast<EnginePool*>(user)->run(n_tasks, task, arg);
  }

 private:
  void run(int n_tasks, q4r_task_fn task, void* arg) {
    std::unique_lock<std::mutex> l(mu_);
    task_ = task;
    arg_ = arg;
    n_tasks_ = n_tasks;
    next_ = 0;
    pending_ = n_tasks;
    ++generation_;
    l.unlock();
    cv_.notify_all();
    drain();
    l.lock();
    done_.wait(l, [&] { return pending_ == 0; });
  }
  void drain() {
    for (;;) {
      std::unique_lock<std::mutex> l(mu_);
      if (next_ >= n_tasks_) return;
      const int i = next_++;
      q4r_task_fn task = task_;
      void* arg = arg_;
      l.unlock();
      task(arg, i);
      l.lock();
      if (--pending_ == 0) done_.notify_all();
    }
  }
  void work() {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
      }
      drain();
    }
  }
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_, done_;
  q4r_task_fn task_ = nullptr;
  void* arg_ = nullptr;
  int n_tasks_ = 0, next_ = 0, pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

// ------------------------------------------------------------------ model
struct Options {
  int layers = 2;
  int scale = 1;
  int prompt = 32;
  int tokens = 8;
  int threads = 0;
  bool check = false;
};

struct Matrix {
  std::vector<uint8_t> data;  // Q4_0, plain or repacked in place
  q4repack::Weights desc;     // n rows (outputs) of k
};

struct Model {
  int64_t hidden, ffn;
  std::vector<Matrix> gate, up, down;
};

// Deterministic synthetic weights, uniform with variance 1/k so activations stay O(1). Generated
// and quantized 64 rows at a time, so no full float copy of a matrix ever exists.
Matrix make_matrix(int64_t n, int64_t k, uint64_t seed) {
  Matrix m;
  const std::size_t row_bytes = q4repack::tensor_bytes(Q4R_TYPE_Q4_0, 1, k);
  m.data.resize(row_bytes * n);
  const float amp = std::sqrt(3.f / static_cast<float>(k));
  std::vector<float> rows(64 * k);
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (int64_t r0 = 0; r0 < n; r0 += 64) {
    const int64_t rn = std::min<int64_t>(64, n - r0);
    for (int64_t i = 0; i < rn * k; ++i) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      rows[i] = amp * (static_cast<float>(s >> 40) / 8388608.f - 1.f);
    }
    q4repack::check(q4r_quantize(Q4R_TYPE_Q4_0, rows.data(), rn, k, nullptr,
                                 m.data.data() + r0 * row_bytes, rn * row_bytes));
  }
  m.desc = q4repack::Weights{Q4R_TYPE_Q4_0, Q4R_LAYOUT_PLAIN, m.data.data(), m.data.size(), n, k};
  return m;
}

Model make_model(const Options& o) {
  auto dim = [&](int64_t d) { return std::max<int64_t>(32, d / o.scale / 32 * 32); };
  Model m{dim(4096), dim(14336), {}, {}, {}};
  for (int l = 0; l < o.layers; ++l) {
    m.gate.push_back(make_matrix(m.ffn, m.hidden, 3 * l + 1));
    m.up.push_back(make_matrix(m.ffn, m.hidden, 3 * l + 2));
    m.down.push_back(make_matrix(m.hidden, m.ffn, 3 * l + 3));
  }
  return m;
}

// In place: same buffer, same size; the descriptor now says which layout the bytes are in.
void repack_inplace(Matrix& m, q4r_layout layout) {
  q4repack::repack_inplace(Q4R_TYPE_Q4_0, layout, m.data.data(), m.data.size(), m.desc.n, m.desc.k);
  m.desc.layout = layout;
}

void repack_model(Model& m, q4r_layout layout) {
  for (auto* mats : {&m.gate, &m.up, &m.down}) {
    for (Matrix& mat : *mats) repack_inplace(mat, layout);
  }
}

// ------------------------------------------------------------------ forward pass
class Engine {
 public:
  // With a shadow model (the same weights in another layout), every matmul also runs on the
  // shadow weights with the identical input, and max_shadow_diff() reports the largest
  // difference relative to the output's scale.
  Engine(const Model& model, const q4repack::Context& ctx, int64_t max_m,
         const Model* shadow = nullptr)
      : model_(model),
        shadow_(shadow),
        ctx_(ctx),
        xn_(max_m * model.hidden),
        g_(max_m * model.ffn),
        u_(max_m * model.ffn),
        d_(max_m * model.hidden),
        check_(shadow ? max_m * model.ffn : 0) {
    std::size_t ws = 0;
    for (std::size_t l = 0; l < model.gate.size(); ++l) {
      ws = std::max({ws, ctx.workspace_size(model.gate[l].desc, max_m),
                     ctx.workspace_size(model.down[l].desc, max_m)});
    }
    workspace_.resize(ws);
  }

  // x: m rows of hidden floats, updated in place through every layer.
  void forward(float* x, int64_t m) {
    const int64_t h = model_.hidden, f = model_.ffn;
    for (std::size_t l = 0; l < model_.gate.size(); ++l) {
      rmsnorm(x, xn_.data(), m, h);
      matmul(model_.gate[l], xn_.data(), m, g_.data());
      matmul(model_.up[l], xn_.data(), m, u_.data());
      if (shadow_) {
        compare(shadow_->gate[l], xn_.data(), m, g_.data());
        compare(shadow_->up[l], xn_.data(), m, u_.data());
      }
      for (int64_t i = 0; i < m * f; ++i) g_[i] = g_[i] / (1.f + std::exp(-g_[i])) * u_[i];
      matmul(model_.down[l], g_.data(), m, d_.data());
      if (shadow_) compare(shadow_->down[l], g_.data(), m, d_.data());
      for (int64_t i = 0; i < m * h; ++i) x[i] += d_[i];
    }
  }

  double max_shadow_diff() const { return max_shadow_diff_; }

 private:
  void compare(const Matrix& w, const float* x, int64_t m, const float* y) {
    matmul(w, x, m, check_.data());
    double scale = 0, diff = 0;
    for (int64_t i = 0; i < m * w.desc.n; ++i) {
      scale = std::max(scale, std::fabs(double(y[i])));
      diff = std::max(diff, std::fabs(double(y[i]) - check_[i]));
    }
    if (scale > 0) max_shadow_diff_ = std::max(max_shadow_diff_, diff / scale);
  }
  void matmul(const Matrix& w, const float* x, int64_t m, float* y) {
    ctx_.matmul(w.desc, x, static_cast<std::size_t>(w.desc.k), m, y,
                static_cast<std::size_t>(w.desc.n), workspace_.data(), workspace_.size());
  }
  static void rmsnorm(const float* x, float* y, int64_t m, int64_t h) {
    for (int64_t r = 0; r < m; ++r) {
      double ss = 0;
      for (int64_t i = 0; i < h; ++i) ss += double(x[r * h + i]) * x[r * h + i];
      const float inv = 1.f / std::sqrt(static_cast<float>(ss / h) + 1e-6f);
      for (int64_t i = 0; i < h; ++i) y[r * h + i] = x[r * h + i] * inv;
    }
  }
  const Model& model_;
  const Model* shadow_;
  const q4repack::Context& ctx_;
  std::vector<float> xn_, g_, u_, d_, check_;
  double max_shadow_diff_ = 0;
  std::vector<uint8_t> workspace_;
};

std::vector<float> prompt_embeddings(int64_t m, int64_t h) {
  std::vector<float> x(m * h);
  for (int64_t i = 0; i < m * h; ++i) x[i] = std::sin(0.37f * static_cast<float>(i % 9973));
  return x;
}

struct RunResult {
  double prefill_tps, decode_tps;
  float checksum;
};

// Prefill the prompt as one batch, then decode: each step feeds the last hidden state back in as
// the next token's input (a stand-in for sampling + embedding lookup). `final_state` receives the
// prompt's output rows followed by every decode step's output.
RunResult run(const Model& model, const q4repack::Context& ctx, const Options& o,
              std::vector<float>* final_state, const Model* shadow = nullptr,
              double* max_shadow_diff = nullptr) {
  const int64_t h = model.hidden;
  Engine engine(model, ctx, o.prompt, shadow);
  std::vector<float> x = prompt_embeddings(o.prompt, h);
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  engine.forward(x.data(), o.prompt);
  const auto t1 = clock::now();
  std::vector<float> tok(x.end() - h, x.end());
  std::vector<float> out = x;
  for (int t = 0; t < o.tokens; ++t) {
    engine.forward(tok.data(), 1);
    out.insert(out.end(), tok.begin(), tok.end());
  }
  const auto t2 = clock::now();
  RunResult r;
  r.prefill_tps = o.prompt / std::chrono::duration<double>(t1 - t0).count();
  r.decode_tps = o.tokens / std::chrono::duration<double>(t2 - t1).count();
  r.checksum = 0;
  for (float v : tok) r.checksum += v;
  if (final_state) *final_state = std::move(out);
  if (max_shadow_diff) *max_shadow_diff = engine.max_shadow_diff();
  return r;
}

// ------------------------------------------------------------------ modes
int check_mode(const Options& o, const q4repack::Context& ctx, q4r_layout layout) {
  Model plain = make_model(o);
  Model packed = make_model(o);
  repack_model(packed, layout);
  std::vector<float> a, b;
  double per_matmul = 0;
  run(plain, ctx, o, &a, &packed, &per_matmul);
  run(packed, ctx, o, &b);
  // 1. Every matmul, repacked vs plain on the identical input: the same quantized weights and
  //    activations, only the kernels' float summation order differs (k/32 block products summed
  //    in another order, ~1e-6 of the output's scale). Tolerance 1e-4 of the output's max |y|.
  // 2. End to end (whole prefill + decode): an activation sitting on a Q8_0 rounding boundary can
  //    round the other way after such a difference, and these flips compound layer by layer (the
  //    reason greedy decoding with and without repacking can differ in GGML too). Tolerance
  //    5e-2 of the state's max |x| for the small models of the test.
  double max_abs = 0, max_diff = 0;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    max_abs = std::max(max_abs, std::fabs(double(a[i])));
    max_diff = std::max(max_diff, std::fabs(double(a[i]) - b[i]));
  }
  const bool ok_matmul = per_matmul <= 1e-4;
  const bool ok_state = a.size() == b.size() && max_diff <= 5e-2 * max_abs;
  std::printf("check: hidden %lld ffn %lld layers %d layout %s\n", (long long)plain.hidden,
              (long long)plain.ffn, o.layers, q4r_layout_name(layout));
  std::printf("  per matmul: max |plain - repacked| / max |y| = %.3g (tolerance 1e-4): %s\n",
              per_matmul, ok_matmul ? "ok" : "MISMATCH");
  std::printf("  end to end: max |plain - repacked| / max |x| = %.3g (tolerance 5e-2): %s\n",
              max_abs > 0 ? max_diff / max_abs : 0.0, ok_state ? "ok" : "MISMATCH");
  return ok_matmul && ok_state ? 0 : 1;
}

// Runs one variant in a child process; returns its max RSS in KiB and its result.
bool run_child(const Options& o, const q4repack::Context& ctx, q4r_layout layout, RunResult* result,
               long* max_rss_kib) {
  int fd[2];
  if (pipe(fd) != 0) return false;
  const pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    close(fd[0]);
    Model model = make_model(o);
    if (layout != Q4R_LAYOUT_PLAIN) repack_model(model, layout);
    const RunResult r = run(model, ctx, o, nullptr);
    const bool written = write(fd[1], &r, sizeof r) == static_cast<ssize_t>(sizeof r);
    _exit(written ? 0 : 1);
  }
  close(fd[1]);
  const bool got = read(fd[0], result, sizeof *result) == static_cast<ssize_t>(sizeof *result);
  close(fd[0]);
  int status = 0;
  struct rusage ru {};
  if (wait4(pid, &status, 0, &ru) != pid) return false;
  *max_rss_kib = ru.ru_maxrss;
  return got && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int bench_mode(const Options& o, const q4repack::Context& ctx, q4r_layout layout) {
  const auto dim = [&](int64_t d) { return std::max<int64_t>(32, d / o.scale / 32 * 32); };
  std::printf(
      "ffn_engine: %d layers, hidden %lld, ffn %lld, Q4_0, prompt %d, decode %d tokens, "
      "%d threads (engine pool), isa %s\n",
      o.layers, (long long)dim(4096), (long long)dim(14336), o.prompt, o.tokens, ctx.threads(),
      q4r_isa_name(ctx.isa()));
  RunResult plain{}, packed{};
  long rss_plain = 0, rss_packed = 0;
  if (!run_child(o, ctx, Q4R_LAYOUT_PLAIN, &plain, &rss_plain) ||
      !run_child(o, ctx, layout, &packed, &rss_packed)) {
    std::fprintf(stderr, "ffn_engine: a run failed\n");
    return 1;
  }
  std::printf("%-16s %14s %14s %14s\n", "weights", "prefill tok/s", "decode tok/s", "max RSS MiB");
  std::printf("%-16s %14.2f %14.2f %14.1f\n", "plain", plain.prefill_tps, plain.decode_tps,
              rss_plain / 1024.0);
  const std::string name = std::string("repacked ") + q4r_layout_name(layout);
  std::printf("%-16s %14.2f %14.2f %14.1f\n", name.c_str(), packed.prefill_tps, packed.decode_tps,
              rss_packed / 1024.0);
  const double rss_ratio = double(rss_packed) / double(rss_plain);
  std::printf("speed-up: prefill %.2fx, decode %.2fx; memory repacked/plain %.3f (%s 5%%)\n",
              packed.prefill_tps / plain.prefill_tps, packed.decode_tps / plain.decode_tps,
              rss_ratio, std::fabs(rss_ratio - 1) <= 0.05 ? "within" : "NOT within");
  return 0;
}

int usage() {
  std::fprintf(stderr,
               "usage: ffn_engine [--layers L] [--scale S] [--prompt P] [--tokens T] "
               "[--threads N] [--check]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](int* out) {
      if (i + 1 >= argc) return false;
      *out = std::atoi(argv[++i]);
      return *out > 0;
    };
    bool ok = true;
    if (a == "--layers")
      ok = value(&o.layers);
    else if (a == "--scale")
      ok = value(&o.scale);
    else if (a == "--prompt")
      ok = value(&o.prompt);
    else if (a == "--tokens")
      ok = value(&o.tokens);
    else if (a == "--threads")
      ok = value(&o.threads);
    else if (a == "--check")
      o.check = true;
    else
      ok = false;
    if (!ok) return usage();
  }
  try {
    EnginePool pool(o.threads > 0 ? o.threads : std::max(1u, std::thread::hardware_concurrency()));
    q4repack::ContextOptions co;
    co.n_threads = pool.threads();
    co.parallel_for = [&pool](int n_tasks, const q4repack::Task& task) {
      // Forward the C task straight to the engine's pool.
      struct Call {
        const q4repack::Task* task;
        static void run(void* arg, int i) { (*static_cast<Call*>(arg)->task)(i); }
      } call{&task};
      EnginePool::parallel_for(&pool, n_tasks, &Call::run, &call);
    };
    const q4repack::Context ctx(co);
    q4r_layout layout = ctx.layout(Q4R_TYPE_Q4_0);
    if (layout == Q4R_LAYOUT_PLAIN) layout = Q4R_LAYOUT_8X8;  // the example is about repacking
    return o.check ? check_mode(o, ctx, layout) : bench_mode(o, ctx, layout);
  } catch (const q4repack::Error& e) {
    std::fprintf(stderr, "ffn_engine: %s\n", e.what());
    return 1;
  }
}
