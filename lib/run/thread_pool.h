// A small fork-join thread pool: the library's default executor for q4r_matmul and contexts that
// bring no parallel-for of their own.
//
// run() hands out task indices through an atomic counter to the calling thread and up to
// max_threads - 1 workers, and returns when every task has returned. One caller owns the pool at a
// time; a second concurrent caller (another engine thread, or a task that calls back into the
// library) does not wait for it but runs its tasks inline, so run() never deadlocks.
//
// After a job, the workers (and the caller, for the last workers) poll for a while before they
// sleep on a condition variable: a sleeping thread is woken through the kernel and starts
// microseconds late (tens on a VM), which is several per cent of a 4096x4096 GEMV, while the
// next call of a matmul loop usually comes within microseconds.
#ifndef Q4R_LIB_THREAD_POOL_H_
#define Q4R_LIB_THREAD_POOL_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace q4r {

using TaskFn = void (*)(void* arg, int task_index);

class ThreadPool {
 public:
  // Starts `workers` threads (0 is valid: everything runs on the caller).
  explicit ThreadPool(int workers);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Threads that can work on one run(): the workers plus the caller.
  int max_threads() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs task(arg, i) for every i in [0, n_tasks) on at most max_threads threads (the caller
  // included) and returns when all have returned. Afterwards the workers poll for the next job
  // for poll_ns nanoseconds before they sleep (0: sleep at once).
  void run(int n_tasks, int max_threads, TaskFn task, void* arg, int64_t poll_ns);

 private:
  void worker_main(int index);
  // Claims and runs task indices until none is left.
  void drain();

  std::vector<std::thread> workers_;
  std::mutex owner_;  // held by the caller of the current run()

  std::mutex mu_;  // guards the job fields and the counters below
  std::condition_variable wake_;
  std::condition_variable done_;
  // Written under mu_; atomic so that polling threads can read them without it.
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
  std::atomic<int> finished_{0};  // workers of the current job that are done
  int participants_ = 0;          // workers taking part in the current job
  int64_t poll_ns_ = 0;
  TaskFn task_ = nullptr;
  void* arg_ = nullptr;
  int n_tasks_ = 0;
  std::atomic<int> next_{0};
};

// The longest poll a caller may ask for (one second), in microseconds.
constexpr int kMaxPollUs = 1000000;
// How long workers poll after a job unless told otherwise: Q4REPACK_POLL_US microseconds
// (0..kMaxPollUs; anything else is ignored) if set, else 100 us.
int64_t default_poll_ns();
// Logical CPUs (at least 1).
int hardware_threads();
// The process-wide pool with hardware_threads() - 1 workers, created at first use (thread-safe).
ThreadPool& default_pool();

}  // namespace q4r

#endif  // Q4R_LIB_THREAD_POOL_H_
