// A small fork-join thread pool: the library's default executor for q4r_matmul and contexts that
// bring no parallel-for of their own.
//
// run() hands out task indices through an atomic counter to the calling thread and up to
// max_threads - 1 workers, and returns when every task has returned. One caller owns the pool at a
// time; a second concurrent caller (another engine thread, or a task that calls back into the
// library) does not wait for it but runs its tasks inline, so run() never deadlocks.
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
  // included) and returns when all have returned.
  void run(int n_tasks, int max_threads, TaskFn task, void* arg);

 private:
  void worker_main(int index);
  // Claims and runs task indices until none is left.
  void drain();

  std::vector<std::thread> workers_;
  std::mutex owner_;  // held by the caller of the current run()

  std::mutex mu_;  // guards the job fields and the counters below
  std::condition_variable wake_;
  std::condition_variable done_;
  uint64_t generation_ = 0;
  bool stop_ = false;
  int participants_ = 0;  // workers taking part in the current job
  int finished_ = 0;      // of those, how many are done
  TaskFn task_ = nullptr;
  void* arg_ = nullptr;
  int n_tasks_ = 0;
  std::atomic<int> next_{0};
};

// Logical CPUs (at least 1).
int hardware_threads();
// The process-wide pool with hardware_threads() - 1 workers, created at first use (thread-safe).
ThreadPool& default_pool();

}  // namespace q4r

#endif  // Q4R_LIB_THREAD_POOL_H_
