#include "bench_harness.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#if defined(__linux__)
#include <sys/mman.h>
#endif
#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace q4r::bench {

namespace {

constexpr std::size_t kAlign = 64;

// splitmix64: a fast, well-mixed generator; reproducible data from a seed.
uint64_t next_random(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Busy-wait step: pause, and after a while yield, so that on a loaded machine a waiting thread
// gives its core to the thread it waits for.
inline void backoff(int spins) {
  if (spins < 2048) {
    cpu_relax();
  } else {
    std::this_thread::yield();
  }
}

using Clock = std::chrono::steady_clock;

}  // namespace

void check(q4r_status s, const char* what) {
  if (s == Q4R_OK) return;
  std::fprintf(stderr, "q4repack bench: %s failed: %s (%s)\n", what, q4r_strerror(s),
               q4r_last_error());
  std::abort();
}

void Buffer::Free::operator()(uint8_t* p) const {
  std::free(p);
}

Buffer::Buffer(std::size_t size) : size_(size) {
  const std::size_t rounded = (std::max<std::size_t>(size, 1) + kAlign - 1) / kAlign * kAlign;
  auto* p = static_cast<uint8_t*>(std::aligned_alloc(kAlign, rounded));
  if (!p) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  // Large weight buffers on huge pages where the kernel allows it, as a loader's mmap often is:
  // fewer TLB misses while streaming. Applies to plain and repacked buffers alike.
  constexpr std::size_t kHuge = std::size_t{2} << 20;
  if (rounded >= 2 * kHuge) {
    const auto begin = (reinterpret_cast<uintptr_t>(p) + kHuge - 1) / kHuge * kHuge;
    const auto end = (reinterpret_cast<uintptr_t>(p) + rounded) / kHuge * kHuge;
    if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
  }
#endif
  std::memset(p, 0, rounded);  // touch every page now, not inside a timed region
  data_.reset(p);
}

Buffer random_plain_weights(q4r_type type, int64_t n, int64_t k, uint64_t seed) {
  std::size_t bytes = 0;
  check(q4r_tensor_bytes(type, n, k, &bytes), "q4r_tensor_bytes");
  Buffer b(bytes);
  uint64_t state = seed;
  uint8_t* p = b.data();
  const std::size_t blocks = bytes / 18;
  for (std::size_t i = 0; i < blocks; ++i, p += 18) {
    uint64_t r = next_random(state);
    // fp16 scale in [2^-7, 2^-6): exponent field 8, random mantissa, random sign.
    const uint16_t d = static_cast<uint16_t>(0x2000u | (r & 0x3FFu) | ((r >> 10) & 1u) << 15);
    std::memcpy(p, &d, 2);
    const uint64_t q0 = next_random(state), q1 = next_random(state);
    std::memcpy(p + 2, &q0, 8);
    std::memcpy(p + 10, &q1, 8);
  }
  return b;
}

void busy_wait_us(int us) {
  const auto end = Clock::now() + std::chrono::microseconds(us);
  while (Clock::now() < end) {
  }
}

std::vector<float> random_activations(int64_t m, int64_t k, uint64_t seed) {
  std::vector<float> x(static_cast<std::size_t>(m * k));
  uint64_t state = seed;
  for (float& v : x) v = static_cast<float>(next_random(state) >> 40) * 0x1p-23f - 1.0f;
  return x;
}

std::size_t l3_cache_bytes() {
  // sysfs first: glibc's sysconf(_SC_LEVEL3_CACHE_SIZE) reports 256 MiB on this AMD VM, where
  // sysfs (and lscpu) say 32 MiB. The last level the kernel lists wins.
  std::size_t best = 0;
  int best_level = 0;
  for (int i = 0; i < 8; ++i) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
    int level = 0;
    char unit = 0;
    unsigned long size = 0;
    FILE* f = std::fopen((dir + "level").c_str(), "r");
    if (!f) continue;
    const bool ok_level = std::fscanf(f, "%d", &level) == 1;
    std::fclose(f);
    f = std::fopen((dir + "size").c_str(), "r");
    if (!f) continue;
    const int got = std::fscanf(f, "%lu%c", &size, &unit);
    std::fclose(f);
    if (!ok_level || got < 1 || level < best_level) continue;
    const std::size_t bytes = unit == 'K' ? size << 10 : unit == 'M' ? size << 20 : size;
    if (level > best_level || bytes > best) best = bytes, best_level = level;
  }
  if (best_level >= 3 && best > 0) return best;
  long l3 = -1;
#if defined(_SC_LEVEL3_CACHE_SIZE)
  l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
#endif
  return l3 > 0 ? static_cast<std::size_t>(l3) : std::size_t{32} << 20;
}

int cold_copies(std::size_t bytes) {
  const std::size_t target = 4 * l3_cache_bytes();
  return static_cast<int>(std::max<std::size_t>(2, (target + bytes - 1) / bytes));
}

WeightCopies::WeightCopies(const Buffer& plain, q4r_type type, q4r_layout layout, int64_t n,
                           int64_t k, int copies)
    : bytes_(plain.size()) {
  copies_.reserve(copies);
  for (int i = 0; i < copies; ++i) {
    copies_.emplace_back(bytes_);
    if (layout == Q4R_LAYOUT_PLAIN) {
      std::memcpy(copies_.back().data(), plain.data(), bytes_);
    } else if (i == 0) {
      check(q4r_repack(type, layout, plain.data(), copies_.back().data(), bytes_, n, k),
            "q4r_repack");
    } else {
      std::memcpy(copies_.back().data(), copies_.front().data(), bytes_);
    }
  }
}

const uint8_t* WeightCopies::next() {
  const uint8_t* p = copies_[next_].data();
  next_ = (next_ + 1) % copies_.size();
  return p;
}

WorkerPool::WorkerPool(int threads) : threads_(std::max(1, threads)) {
  for (int i = 1; i < threads_; ++i) workers_.emplace_back(&WorkerPool::worker, this, i);
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void WorkerPool::run(const std::function<void(int)>& fn) {
  if (threads_ == 1) return fn(0);
  job_ = &fn;
  pending_.store(threads_ - 1, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  fn(0);
  for (int spins = 0; pending_.load(std::memory_order_acquire) != 0; ++spins) backoff(spins);
}

void WorkerPool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    // Spin briefly (~0.1 ms of pause instructions; the jobs of one timed call and consecutive calls
    // come back to back), then sleep: a longer spin would hold the second core while the bench
    // times another variant (a 1-thread one) in alternation, and count as its CPU time.
    for (int i = 0; i < (1 << 12) && generation_.load(std::memory_order_acquire) == seen; ++i) {
      cpu_relax();
    }
    if (generation_.load(std::memory_order_acquire) == seen) {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
    }
    seen = generation_.load(std::memory_order_acquire);
    if (stop_.load()) return;
    (*job_)(index);
    pending_.fetch_sub(1, std::memory_order_release);
  }
}

ParallelMatmul::ParallelMatmul(q4r_type type, q4r_layout layout, int64_t n, int64_t k, int64_t m)
    : type_(type), layout_(layout), n_(n), k_(k), m_(m), y_(static_cast<std::size_t>(m * n)) {
  check(q4r_tensor_bytes(type, n, k, &w_bytes_), "q4r_tensor_bytes");
  std::size_t ws = 0;
  check(q4r_workspace_size(layout, n, m, k, &ws), "q4r_workspace_size");
  workspace_ = Buffer(ws);
}

void ParallelMatmul::run(WorkerPool& pool, const uint8_t* w, const float* x) {
  const int t = pool.threads();
  const int64_t groups = (m_ + 3) / 4;
  const std::size_t k = static_cast<std::size_t>(k_);
  pool.run([&](int i) {
    const int64_t r0 = 4 * (groups * i / t), r1 = std::min(m_, 4 * (groups * (i + 1) / t));
    if (r0 < r1) {
      check(q4r_quantize_activations_rows(layout_, n_, x, k, m_, k_, r0, r1, workspace_.data(),
                                          workspace_.size()),
            "q4r_quantize_activations_rows");
    }
  });
  const int64_t step = q4r_column_step(layout_);
  const int64_t units = (n_ + step - 1) / step;
  pool.run([&](int i) {
    const int64_t c0 = step * (units * i / t), c1 = std::min(n_, step * (units * (i + 1) / t));
    if (c0 < c1) {
      check(q4r_run(type_, layout_, w, w_bytes_, n_, k_, workspace_.data(), workspace_.size(), m_,
                    y_.data(), static_cast<std::size_t>(n_), c0, c1),
            "q4r_run");
    }
  });
}

std::size_t read_buffer_bytes() {
  return std::max<std::size_t>(8 * l3_cache_bytes(), std::size_t{256} << 20) / 4096 * 4096;
}

namespace {

constexpr int kReadStreams = 4;  // the GEMV's gemv_streams(1), lut_kernels_x86.inc

// XOR of words [w0, w1), read as S equal contiguous parts in lockstep (S = 1: one sequential
// stream; S = 4: the access pattern of the GEMV's weight streams, lut_kernels_x86.inc), 64 bytes
// of each part per step with its own load instruction (unrolled: the hardware prefetchers key on
// them). Load-bound. The widest loads this CPU has are used (the Xeon read 14.7 GB/s with
// ymm and 16.3 GB/s with zmm loads on one core): the function is compiled three times with target
// attributes (each a separate non-inline function, no code shared with baseline code) and picked
// at run time. Words past the last whole step of the parts are not read (a few KiB at most).
template <int S>
uint64_t read_words_base(const uint64_t* p, std::size_t w0, std::size_t w1) {
  const std::size_t part = (w1 - w0) / S / 8 * 8;
  uint64_t a[S][8] = {};
  for (std::size_t j = w0; j < w0 + part; j += 8) {
    for (int t = 0; t < S; ++t) {
      for (int u = 0; u < 8; ++u) a[t][u] ^= p[t * part + j + u];
    }
  }
  uint64_t s = 0;
  for (int t = 0; t < S; ++t) {
    for (uint64_t v : a[t]) s ^= v;
  }
  return s;
}
#if defined(__x86_64__) && defined(__GNUC__)
// Explicit vector loads: GCC's default tuning would auto-vectorize the avx512f variant with ymm.
template <int S>
__attribute__((target("avx2"))) uint64_t read_words_avx2(const uint64_t* p, std::size_t w0,
                                                         std::size_t w1) {
  const std::size_t part = (w1 - w0) / S / 8 * 8;
  __m256i a[S], b[S];
  for (int t = 0; t < S; ++t) a[t] = b[t] = _mm256_setzero_si256();
  for (std::size_t j = w0; j < w0 + part; j += 8) {
#pragma GCC unroll 4
    for (int t = 0; t < S; ++t) {
      const uint64_t* q = p + t * part + j;
      a[t] = _mm256_xor_si256(a[t], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q)));
      b[t] = _mm256_xor_si256(b[t], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + 4)));
    }
  }
  for (int t = 1; t < S; ++t) a[0] = _mm256_xor_si256(a[0], _mm256_xor_si256(a[t], b[t]));
  alignas(32) uint64_t v[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(v), _mm256_xor_si256(a[0], b[0]));
  return v[0] ^ v[1] ^ v[2] ^ v[3];
}
template <int S>
__attribute__((target("avx512f"))) uint64_t read_words_avx512(const uint64_t* p, std::size_t w0,
                                                              std::size_t w1) {
  const std::size_t part = (w1 - w0) / S / 8 * 8;
  __m512i a[S];
  for (int t = 0; t < S; ++t) a[t] = _mm512_setzero_si512();
  for (std::size_t j = w0; j < w0 + part; j += 8) {
#pragma GCC unroll 4
    for (int t = 0; t < S; ++t) a[t] = _mm512_xor_si512(a[t], _mm512_loadu_si512(p + t * part + j));
  }
  for (int t = 1; t < S; ++t) a[0] = _mm512_xor_si512(a[0], a[t]);
  alignas(64) uint64_t v[8];
  _mm512_store_si512(v, a[0]);
  return v[0] ^ v[1] ^ v[2] ^ v[3] ^ v[4] ^ v[5] ^ v[6] ^ v[7];
}
#endif

using ReadWordsFn = uint64_t (*)(const uint64_t*, std::size_t, std::size_t);
struct ReadWords {
  ReadWordsFn one, four;  // 1 and kReadStreams parts
  const char* name;
};
ReadWords best_read_words() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) {
    return {read_words_avx512<1>, read_words_avx512<kReadStreams>, "zmm loads"};
  }
  if (__builtin_cpu_supports("avx2")) {
    return {read_words_avx2<1>, read_words_avx2<kReadStreams>, "ymm loads"};
  }
  return {read_words_base<1>, read_words_base<kReadStreams>, "xmm loads"};
#else
  return {read_words_base<1>, read_words_base<kReadStreams>, "vector loads"};
#endif
}

// Words [w0, w1) as one stream, or as kReadStreams streams.
uint64_t read_words(const uint64_t* p, std::size_t w0, std::size_t w1, bool streams = false) {
  static const ReadWords fns = best_read_words();
  return (streams ? fns.four : fns.one)(p, w0, w1);
}

}  // namespace

const char* read_vector_width() {
  return best_read_words().name;
}

std::string huge_page_state(const void* p, std::size_t bytes) {
#if defined(__linux__)
  std::string mode = "unknown";
  if (FILE* f = std::fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r")) {
    char line[128] = {};
    if (std::fgets(line, sizeof line, f)) {
      const char* b = std::strchr(line, '[');
      const char* e = b ? std::strchr(b, ']') : nullptr;
      if (b && e) mode = std::string(b + 1, e);
    }
    std::fclose(f);
  }
  // The huge-page share of the buffer's range, from /proc/self/smaps (kB lines of its mapping).
  long huge_kb = -1;
  if (FILE* f = std::fopen("/proc/self/smaps", "r")) {
    const auto lo = reinterpret_cast<uintptr_t>(p), hi = lo + bytes;
    char line[256];
    bool in = false;
    huge_kb = 0;
    while (std::fgets(line, sizeof line, f)) {
      unsigned long a = 0, b = 0;
      if (std::sscanf(line, "%lx-%lx ", &a, &b) == 2 && std::strchr(line, ' ')) {
        in = a < hi && b > lo;
        continue;
      }
      long kb = 0;
      if (in && std::sscanf(line, "AnonHugePages: %ld kB", &kb) == 1) huge_kb += kb;
    }
    std::fclose(f);
  }
  char buf[160];
  if (huge_kb < 0) {
    std::snprintf(buf, sizeof buf, "THP %s", mode.c_str());
  } else {
    std::snprintf(buf, sizeof buf, "THP %s, %.0f%% of the buffer on huge pages", mode.c_str(),
                  100.0 * huge_kb * 1024.0 / static_cast<double>(bytes));
  }
  return buf;
#else
  (void)p;
  (void)bytes;
  return "no huge-page information";
#endif
}

uint64_t read_pass(WorkerPool& pool, const Buffer& buf) {
  const std::size_t words = buf.size() / sizeof(uint64_t);
  const auto* p = reinterpret_cast<const uint64_t*>(buf.data());
  std::vector<uint64_t> sink(pool.threads() * 8);  // one cache line per thread
  pool.run([&](int i) {
    const int t = pool.threads();
    sink[i * 8] = read_words(p, words * i / t / 8 * 8, words * (i + 1) / t / 8 * 8);
  });
  uint64_t s = 0;
  for (uint64_t v : sink) s ^= v;
  return s;
}

double measure_read_bandwidth(WorkerPool& pool, int reps, std::string* pages, int* streams) {
  Buffer buf(read_buffer_bytes());  // on huge pages where the OS gives them (Buffer)
  std::memset(buf.data(), 1, buf.size());
  if (pages) *pages = huge_page_state(buf.data(), buf.size());
  // The buffer is read in order, in steps of 8 MiB per thread, and every step is timed: each step
  // still streams from memory (the buffer is >= 8 x L3), and the median step rate ignores the
  // steps during which another process had the CPU, as the kernels' median call does. Each step
  // is read twice over the passes, as one sequential stream and as kReadStreams (the GEMV's
  // pattern, which one core reads faster on some CPUs: Zen 5), and the better median counts.
  const int t = pool.threads();
  const std::size_t chunk_words = (std::size_t{8} << 20) / sizeof(uint64_t);
  const std::size_t steps = buf.size() / sizeof(uint64_t) / (chunk_words * t);
  const auto* p = reinterpret_cast<const uint64_t*>(buf.data());
  std::vector<uint64_t> sink(t * 8);
  std::vector<double> rates[2];
  for (int r = 0; r < 2 * reps; ++r) {
    const int pattern = r % 2;
    for (std::size_t step = 0; step < steps; ++step) {
      const auto t0 = Clock::now();
      pool.run([&](int i) {
        const std::size_t w0 = (step * t + i) * chunk_words;
        sink[i * 8] ^= read_words(p, w0, w0 + chunk_words, pattern == 1);
      });
      const double sec = std::chrono::duration<double>(Clock::now() - t0).count();
      rates[pattern].push_back(static_cast<double>(chunk_words * sizeof(uint64_t) * t) / sec *
                               1e-9);
    }
  }
  volatile uint64_t keep = sink[0];
  (void)keep;
  double best[2];
  for (int i = 0; i < 2; ++i) {
    std::sort(rates[i].begin(), rates[i].end());
    best[i] = rates[i][rates[i].size() / 2];
  }
  if (streams) *streams = best[1] > best[0] ? kReadStreams : 1;
  return std::max(best[0], best[1]);
}

}  // namespace q4r::bench
