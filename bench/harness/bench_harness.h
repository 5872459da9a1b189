// Measurement helpers shared by `q4repack bench` and the Google Benchmark binary (bench/):
// synthetic weights and activations, cold weight copies, a small worker pool, one matmul through
// the public stateless API split over threads, and the machine's memory read bandwidth.
//
// Everything here goes through the public C API (plus plain std::), so what is measured is what a
// user of the library gets.
#ifndef Q4R_TOOLS_BENCH_HARNESS_H_
#define Q4R_TOOLS_BENCH_HARNESS_H_

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "q4repack/q4repack.h"

namespace q4r::bench {

// A 64-byte aligned, zero-initialised byte buffer.
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(std::size_t size);
  uint8_t* data() { return data_.get(); }
  const uint8_t* data() const { return data_.get(); }
  std::size_t size() const { return size_; }

 private:
  struct Free {
    void operator()(uint8_t* p) const;
  };
  std::unique_ptr<uint8_t, Free> data_;
  std::size_t size_ = 0;
};

// Plain weights with random nibbles and random fp16 scales: the kernels' speed does not depend on
// the values, and this is far faster than quantizing floats (IQ4_NL's scale search is slow).
Buffer random_plain_weights(q4r_type type, int64_t n, int64_t k, uint64_t seed);
// m x k floats uniform in [-1, 1).
std::vector<float> random_activations(int64_t m, int64_t k, uint64_t seed);

// Busy-waits `us` microseconds (not a sleep: the core stays as busy as in a program doing other
// work between two calls, an engine's other ops or a Python caller's own code).
void busy_wait_us(int us);

// Last-level cache size of this machine in bytes (sysconf; 32 MiB if the OS does not say).
std::size_t l3_cache_bytes();
// How many copies of a tensor of `bytes` make a rotation that never hits in the L3 cache:
// enough that the copies together are at least 4 x L3 (at least 2 copies).
int cold_copies(std::size_t bytes);

// `copies` identical copies of one weight tensor in one layout, handed out round-robin. With
// cold_copies() copies, each use reads weights that were evicted from every cache level since
// their last use ("cold"); with one copy, repeated use finds them in cache when they fit ("warm").
class WeightCopies {
 public:
  WeightCopies(const Buffer& plain, q4r_type type, q4r_layout layout, int64_t n, int64_t k,
               int copies);
  const uint8_t* next();
  std::size_t bytes() const { return bytes_; }
  int copies() const { return static_cast<int>(copies_.size()); }

 private:
  std::vector<Buffer> copies_;
  std::size_t bytes_;
  std::size_t next_ = 0;
};

// The calling thread plus `threads - 1` workers. run(fn) calls fn(i) for i in [0, threads) in
// parallel (the caller runs i = 0) and returns when all are done. Workers spin briefly between
// jobs (back-to-back timed calls) and then sleep, so an idle pool costs no CPU.
class WorkerPool {
 public:
  explicit WorkerPool(int threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;
  int threads() const { return threads_; }
  void run(const std::function<void(int)>& fn);

 private:
  void worker(int index);
  int threads_;
  std::vector<std::thread> workers_;
  const std::function<void(int)>* job_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
};

// Y = X * W^T through q4r_quantize_activations_rows + q4r_run, both split over the pool's
// threads: activation rows in groups of 4, output columns in equal runs of whole row groups.
// Holds the workspace and output; checks every status (aborts with the message on failure, as a
// failed call would make the timing meaningless).
class ParallelMatmul {
 public:
  ParallelMatmul(q4r_type type, q4r_layout layout, int64_t n, int64_t k, int64_t m);
  void run(WorkerPool& pool, const uint8_t* w, const float* x);
  const float* y() const { return y_.data(); }

 private:
  q4r_type type_;
  q4r_layout layout_;
  int64_t n_, k_, m_;
  std::size_t w_bytes_;
  Buffer workspace_;
  std::vector<float> y_;
};

// Size of the buffer the bandwidth measurement reads: max(8 x L3, 256 MiB).
std::size_t read_buffer_bytes();
// One streaming read over `buf`, split between the pool's threads; returns a checksum (so the
// reads cannot be optimized away).
uint64_t read_pass(WorkerPool& pool, const Buffer& buf);
// Streaming read bandwidth in GB/s (1e9 bytes/s): `reps` passes over a buffer of at least 8 x L3
// (on transparent huge pages where the OS gives them), with the widest vector loads of this CPU,
// timed in 8 MiB steps per thread, each read as one sequential stream and as 4 (the GEMV's
// pattern); the better median step. `pages` (optional) receives the buffer's huge-page state
// (huge_page_state), `streams` (optional) which pattern won (1 or 4).
double measure_read_bandwidth(WorkerPool& pool, int reps, std::string* pages = nullptr,
                              int* streams = nullptr);
// "zmm loads" / "ymm loads" / ...: the loads the bandwidth measurement uses.
const char* read_vector_width();
// "THP madvise, 100% of the buffer on huge pages": the system's transparent-huge-page mode and
// how much of [p, p + bytes) is on huge pages now (Linux; a note elsewhere).
std::string huge_page_state(const void* p, std::size_t bytes);

// Aborts with the library's message if `s` is not Q4R_OK (benchmarks only).
void check(q4r_status s, const char* what);

}  // namespace q4r::bench

#endif  // Q4R_TOOLS_BENCH_HARNESS_H_
