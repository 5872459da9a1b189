#include "thread_pool.h"

#include <algorithm>

namespace q4r {

ThreadPool::ThreadPool(int workers) {
  workers_.reserve(static_cast<std::size_t>(std::max(workers, 0)));
  for (int i = 0; i < workers; ++i) workers_.emplace_back(&ThreadPool::worker_main, this, i);
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::drain() {
  for (int i = next_.fetch_add(1, std::memory_order_relaxed); i < n_tasks_;
       i = next_.fetch_add(1, std::memory_order_relaxed)) {
    task_(arg_, i);
  }
}

void ThreadPool::worker_main(int index) {
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      // Only the first `participants_` workers join; the caller waits for exactly those, so the
      // job fields stay valid until each of them has finished.
      if (index >= participants_) continue;
    }
    drain();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (++finished_ == participants_) done_.notify_one();
    }
  }
}

void ThreadPool::run(int n_tasks, int max_threads, TaskFn task, void* arg) {
  if (n_tasks <= 0) return;
  const int helpers = std::min({max_threads - 1, n_tasks - 1, static_cast<int>(workers_.size())});
  std::unique_lock<std::mutex> owner(owner_, std::try_to_lock);
  if (helpers <= 0 || !owner.owns_lock()) {
    for (int i = 0; i < n_tasks; ++i) task(arg, i);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    task_ = task;
    arg_ = arg;
    n_tasks_ = n_tasks;
    next_.store(0, std::memory_order_relaxed);
    participants_ = helpers;
    finished_ = 0;
    ++generation_;
  }
  wake_.notify_all();
  drain();
  std::unique_lock<std::mutex> lock(mu_);
  done_.wait(lock, [&] { return finished_ == participants_; });
}

int hardware_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(std::min(n, 1024u));
}

ThreadPool& default_pool() {
  static ThreadPool pool(hardware_threads() - 1);
  return pool;
}

}  // namespace q4r
