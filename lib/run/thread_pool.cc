#include "thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "cpu_relax.h"

namespace q4r {
namespace {

// Polls done() for up to `ns` nanoseconds; true if it became true.
template <class Done>
bool poll_for(int64_t ns, Done done) {
  if (done()) return true;
  if (ns <= 0) return false;
  const auto end = std::chrono::steady_clock::now() + std::chrono::nanoseconds(ns);
  for (;;) {
    for (int i = 0; i < 32; ++i) {
      cpu_relax();
      if (done()) return true;
    }
    if (std::chrono::steady_clock::now() >= end) return false;
  }
}

}  // namespace

int64_t default_poll_ns() {
  static const int64_t ns = [] {
    long us = 100;
    if (const char* env = std::getenv("Q4REPACK_POLL_US"); env && *env) {
      char* end = nullptr;
      const long v = std::strtol(env, &end, 10);
      if (!*end && v >= 0 && v <= kMaxPollUs) us = v;
    }
    return int64_t{us} * 1000;
  }();
  return ns;
}

ThreadPool::ThreadPool(int workers) {
  workers_.reserve(static_cast<std::size_t>(std::max(workers, 0)));
  for (int i = 0; i < workers; ++i) workers_.emplace_back(&ThreadPool::worker_main, this, i);
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true, std::memory_order_relaxed);
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
  int64_t poll_ns = 0;
  for (;;) {
    // Poll first: the next call of a matmul loop usually comes within microseconds, and a worker
    // woken from a futex sleep starts tens of microseconds late on a VM.
    poll_for(poll_ns, [&] {
      return generation_.load(std::memory_order_acquire) != seen ||
             stop_.load(std::memory_order_relaxed);
    });
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] {
        return stop_.load(std::memory_order_relaxed) ||
               generation_.load(std::memory_order_relaxed) != seen;
      });
      if (stop_.load(std::memory_order_relaxed)) return;
      seen = generation_.load(std::memory_order_relaxed);
      // Only the first `participants_` workers join; the caller waits for exactly those, so the
      // job fields stay valid until each of them has finished. The others go back to sleep at
      // once: on a many-core machine, calls on a few threads must not keep every core polling.
      if (index >= participants_) {
        poll_ns = 0;
        continue;
      }
      poll_ns = poll_ns_;
    }
    drain();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finished_.fetch_add(1, std::memory_order_release) + 1 == participants_) {
        done_.notify_one();
      }
    }
  }
}

void ThreadPool::run(int n_tasks, int max_threads, TaskFn task, void* arg, int64_t poll_ns) {
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
    poll_ns_ = poll_ns;
    finished_.store(0, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  drain();
  if (poll_for(poll_ns, [&] { return finished_.load(std::memory_order_acquire) == helpers; })) {
    return;
  }
  std::unique_lock<std::mutex> lock(mu_);
  done_.wait(lock, [&] { return finished_.load(std::memory_order_relaxed) == helpers; });
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
