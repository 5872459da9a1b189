// Work items that the tasks of one fork-join claim one at a time, for the two-phase jobs of the
// drivers (quantize the activations, then run the columns) in a single fork-join: a second
// fork-join costs a wake-up of every worker, tens of microseconds on a VM.
#ifndef Q4R_RUN_CLAIMS_H_
#define Q4R_RUN_CLAIMS_H_

#include <atomic>
#include <cstdint>
#include <thread>

#include "cpu_relax.h"

namespace q4r {

class Claims {
 public:
  void set_count(int64_t count) { count_ = count; }
  int64_t count() const { return count_; }

  // Runs f(i) for every item i this task claims, until none is left.
  template <class F>
  void run(F&& f) {
    for (int64_t i = next_.fetch_add(1, std::memory_order_relaxed); i < count_;
         i = next_.fetch_add(1, std::memory_order_relaxed)) {
      f(i);
      done_.fetch_add(1, std::memory_order_release);
    }
  }

  // Returns once every item is done. Call it after run(): then it only waits for items that
  // running tasks have claimed, so it ends even where the executor runs the tasks one after
  // another. Spins briefly (the items are short), then yields, so that with more tasks than cores
  // a waiting task does not keep a working one off its core.
  void wait_all_done() const {
    for (int spins = 0; done_.load(std::memory_order_acquire) < count_; ++spins) {
      if (spins < 4096) {
        cpu_relax();
      } else {
        std::this_thread::yield();
      }
    }
  }

 private:
  int64_t count_ = 0;
  std::atomic<int64_t> next_{0};
  std::atomic<int64_t> done_{0};
};

}  // namespace q4r

#endif  // Q4R_RUN_CLAIMS_H_
