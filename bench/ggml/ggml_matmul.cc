#include "ggml_matmul.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include <ggml-backend.h>
#include <ggml-cpu.h>
#include <ggml.h>

namespace q4r::bench {

namespace {

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "q4repack_vs_ggml: GGML: %s\n", what.c_str());
  std::exit(2);
}

ggml_type ggml_type_of(q4r_type type) {
  switch (type) {
    case Q4R_TYPE_Q4_0:
      return GGML_TYPE_Q4_0;
    case Q4R_TYPE_IQ4_NL:
      return GGML_TYPE_IQ4_NL;
    default:
      die(std::string("no GGML weight type for ") + q4r_type_name(type));
  }
}

// The extra buffer type llama.cpp's loader puts Q4_0 / IQ4_NL weights in.
ggml_backend_buffer_type_t find_repack_buffer_type(ggml_backend_t backend) {
  ggml_backend_dev_t dev = ggml_backend_get_device(backend);
  ggml_backend_reg_t reg = ggml_backend_dev_backend_reg(dev);
  auto get_extra = reinterpret_cast<ggml_backend_dev_get_extra_bufts_t>(
      ggml_backend_reg_get_proc_address(reg, "ggml_backend_dev_get_extra_bufts"));
  if (!get_extra) return nullptr;
  for (ggml_backend_buffer_type_t* b = get_extra(dev); b && *b; ++b) {
    if (std::strcmp(ggml_backend_buft_name(*b), "CPU_REPACK") == 0) return *b;
  }
  return nullptr;
}

// Same page treatment as our weight buffers (bench_harness.h's Buffer): transparent huge pages
// where the kernel allows them. GGML's buffer is a fresh allocation not yet touched, so the advice
// applies before the upload writes it.
void advise_huge_pages(void* p, std::size_t size) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr std::size_t kHuge = std::size_t{2} << 20;
  const auto begin = (reinterpret_cast<uintptr_t>(p) + kHuge - 1) / kHuge * kHuge;
  const auto end = (reinterpret_cast<uintptr_t>(p) + size) / kHuge * kHuge;
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#endif
}

// GGML's log: warnings and errors go to stderr; its one-line info messages are dropped, except
// the name of the repack kernel it picks, which is kept for the report.
std::string& repack_kernel_note() {
  static std::string note;
  return note;
}

void log_filter(ggml_log_level level, const char* text, void*) {
  static ggml_log_level last = GGML_LOG_LEVEL_NONE;
  if (level != GGML_LOG_LEVEL_CONT) last = level;
  if (last >= GGML_LOG_LEVEL_WARN) {
    std::fputs(text, stderr);
  } else if (const char* with = std::strstr(text, " with ")) {
    if (std::strstr(text, "repack")) {
      std::string name = with + 6;
      while (!name.empty() && (name.back() == '\n' || name.back() == ' ')) name.pop_back();
      std::string& note = repack_kernel_note();
      if (note.find(name) == std::string::npos) note += note.empty() ? name : " " + name;
    }
  }
}

ggml_context* new_context(std::size_t tensors, std::size_t graphs) {
  ggml_init_params params{};
  params.mem_size = tensors * ggml_tensor_overhead() + graphs * ggml_graph_overhead() + 4096;
  params.no_alloc = true;  // tensor data lives in backend buffers
  ggml_context* ctx = ggml_init(params);
  if (!ctx) die("ggml_init failed");
  return ctx;
}

// Places `t` at `addr` in a buffer that wraps caller memory.
ggml_backend_buffer_t wrap(ggml_tensor* t, void* addr, std::size_t size) {
  ggml_backend_buffer_t buf = ggml_backend_cpu_buffer_from_ptr(addr, size);
  if (!buf || ggml_backend_tensor_alloc(buf, t, addr) != GGML_STATUS_SUCCESS) {
    die("cannot wrap caller memory as a CPU buffer");
  }
  return buf;
}

}  // namespace

const std::string& ggml_repack_kernels() {
  return repack_kernel_note();
}

GgmlBackend::GgmlBackend()
    : backend_((ggml_log_set(log_filter, nullptr), ggml_backend_cpu_init())) {
  if (!backend_) die("ggml_backend_cpu_init failed");
  repack_buft_ = find_repack_buffer_type(backend_);
}

GgmlBackend::~GgmlBackend() {
  ggml_backend_free(backend_);
}

bool GgmlMatmul::can_repack(const GgmlBackend& backend, q4r_type type, int64_t n, int64_t k) {
  auto buft = static_cast<ggml_backend_buffer_type_t>(backend.repack_buffer_type());
  if (!buft) return false;
  ggml_context* ctx = new_context(1, 0);
  ggml_tensor* w = ggml_new_tensor_2d(ctx, ggml_type_of(type), k, n);
  // An untouched allocation of the tensor's size: init_tensor picks GGML's repack kernel (the
  // tensor's `extra`) or none.
  ggml_backend_buffer_t buf = ggml_backend_buft_alloc_buffer(buft, ggml_nbytes(w));
  const bool ok =
      buf &&
      ggml_backend_tensor_alloc(buf, w, ggml_backend_buffer_get_base(buf)) == GGML_STATUS_SUCCESS &&
      w->extra != nullptr;
  if (buf) ggml_backend_buffer_free(buf);
  ggml_free(ctx);
  return ok;
}

GgmlMatmul::GgmlMatmul(const GgmlBackend& backend, GgmlPlacement placement, q4r_type type,
                       int64_t n, int64_t k, int64_t m,
                       const std::vector<const uint8_t*>& plain_copies, const float* x)
    : backend_(backend), x_(sizeof(float) * m * k), y_(sizeof(float) * m * n) {
  std::memcpy(x_.data(), x, x_.size());
  const std::size_t copies = plain_copies.size();
  ctx_ = new_context(2 * copies + 1, copies);
  ggml_tensor* xt = ggml_new_tensor_2d(ctx_, GGML_TYPE_F32, k, m);
  buffers_.push_back(wrap(xt, x_.data(), x_.size()));
  for (std::size_t c = 0; c < copies; ++c) {
    ggml_tensor* w = ggml_new_tensor_2d(ctx_, ggml_type_of(type), k, n);
    const std::size_t bytes = ggml_nbytes(w);
    if (placement == GgmlPlacement::kPlain) {
      buffers_.push_back(wrap(w, const_cast<uint8_t*>(plain_copies[c]), bytes));
    } else {
      auto buft = static_cast<ggml_backend_buffer_type_t>(backend.repack_buffer_type());
      if (!buft) die("this GGML has no CPU_REPACK buffer type (GGML_CPU_REPACK=OFF?)");
      ggml_backend_buffer_t buf = ggml_backend_buft_alloc_buffer(buft, bytes);
      if (!buf) die("cannot allocate a CPU_REPACK buffer");
      buffers_.push_back(buf);
      advise_huge_pages(ggml_backend_buffer_get_base(buf), ggml_backend_buffer_get_size(buf));
      ggml_backend_buffer_set_usage(buf, GGML_BACKEND_BUFFER_USAGE_WEIGHTS);
      if (ggml_backend_tensor_alloc(buf, w, ggml_backend_buffer_get_base(buf)) !=
              GGML_STATUS_SUCCESS ||
          w->extra == nullptr) {
        die("GGML does not repack this tensor (rows not a multiple of its layout's)");
      }
      ggml_backend_tensor_set(w, plain_copies[c], 0, bytes);  // repacks
    }
    ggml_tensor* y = ggml_mul_mat(ctx_, w, xt);
    // Every copy's result goes to the same memory: only the last call's output is read.
    buffers_.push_back(wrap(y, y_.data(), y_.size()));
    ggml_cgraph* g = ggml_new_graph(ctx_);
    ggml_build_forward_expand(g, y);
    weights_.push_back(w);
    graphs_.push_back(g);
  }
}

GgmlMatmul::~GgmlMatmul() {
  for (ggml_backend_buffer_t b : buffers_) ggml_backend_buffer_free(b);
  ggml_free(ctx_);
}

void GgmlMatmul::run(int threads) {
  ggml_backend_cpu_set_n_threads(backend_.get(), threads);
  if (ggml_backend_graph_compute(backend_.get(), graphs_[next_]) != GGML_STATUS_SUCCESS) {
    die("ggml_backend_graph_compute failed");
  }
  next_ = (next_ + 1) % graphs_.size();
}

const uint8_t* GgmlMatmul::weight_data() const {
  return static_cast<const uint8_t*>(weights_.front()->data);
}

}  // namespace q4r::bench
