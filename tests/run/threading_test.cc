// The internal thread pool, the column chunking, and threaded q4r_matmul: any thread count (also
// far above the number of row groups) gives exactly the single-thread result.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "lib/run/context.h"
#include "lib/run/thread_pool.h"
#include "q4repack/q4repack.h"
#include "test_util.h"

namespace q4r::test {
namespace {

struct Counter {
  std::vector<std::atomic<int>> hits;
  explicit Counter(int n) : hits(n) {}
  static void task(void* arg, int i) { static_cast<Counter*>(arg)->hits[i].fetch_add(1); }
};

// Workers that sleep at once after a job, and workers that poll for the next one (50 us).
constexpr int64_t kPolls[] = {0, 50'000};

TEST(ThreadPool, RunsEveryTaskExactlyOnce) {
  ThreadPool pool(3);
  EXPECT_EQ(pool.max_threads(), 4);
  for (int64_t poll : kPolls) {
    for (int n : {1, 2, 3, 4, 5, 17, 100}) {
      for (int threads : {1, 2, 4, 8}) {
        Counter c(n);
        pool.run(n, threads, Counter::task, &c, poll);
        for (int i = 0; i < n; ++i) ASSERT_EQ(c.hits[i].load(), 1) << n << " " << threads;
      }
    }
  }
  pool.run(0, 4, Counter::task, nullptr, 0);  // no tasks: nothing called
}

// Jobs that alternate between polling and sleeping workers, and a pool destroyed while its
// workers poll (they see the stop flag, not only the end of the poll: 10 s would hang the test).
TEST(ThreadPool, PollingAndSleepingWorkersMix) {
  for (int rep = 0; rep < 50; ++rep) {
    ThreadPool pool(2);
    Counter c(12);
    pool.run(12, 3, Counter::task, &c, rep % 2 ? 0 : 20'000);
    pool.run(12, 2, Counter::task, &c, 10'000'000'000);
    for (auto& h : c.hits) ASSERT_EQ(h.load(), 2);
  }
}

TEST(ThreadPool, ZeroWorkersRunsOnCaller) {
  ThreadPool pool(0);
  Counter c(9);
  pool.run(9, 8, Counter::task, &c, 0);
  for (auto& h : c.hits) EXPECT_EQ(h.load(), 1);
}

// Many engine threads submitting at once, and tasks that submit again (nested): no deadlock,
// every task of every run exactly once.
TEST(ThreadPool, ConcurrentAndNestedRuns) {
  ThreadPool pool(2);
  struct Nested {
    ThreadPool* pool;
    Counter inner{5};
    static void task(void* arg, int) {
      auto* self = static_cast<Nested*>(arg);
      self->pool->run(5, 3, Counter::task, &self->inner, 1000);
    }
  };
  std::vector<std::thread> callers;
  std::vector<Counter> counters;
  counters.reserve(8);
  for (int t = 0; t < 8; ++t) counters.emplace_back(50);
  for (int t = 0; t < 8; ++t) {
    callers.emplace_back([&, t] {
      for (int rep = 0; rep < 20; ++rep) {
        pool.run(50, 3, Counter::task, &counters[t], kPolls[rep % 2]);
      }
    });
  }
  for (auto& th : callers) th.join();
  for (auto& c : counters) {
    for (auto& h : c.hits) ASSERT_EQ(h.load(), 20);
  }
  Nested nested{&pool};
  pool.run(4, 3, Nested::task, &nested, kPolls[1]);
  for (auto& h : nested.inner.hits) EXPECT_EQ(h.load(), 4);
}

TEST(ThreadPool, DefaultPoolInitialisesOnceUnderRace) {
  std::vector<std::thread> th;
  std::vector<ThreadPool*> seen(8);
  for (int i = 0; i < 8; ++i) th.emplace_back([&, i] { seen[i] = &default_pool(); });
  for (auto& t : th) t.join();
  for (ThreadPool* p : seen) EXPECT_EQ(p, seen[0]);
  EXPECT_EQ(default_pool().max_threads(), hardware_threads());
}

// Chunks tile [0, n) with no gap and no overlap, start on a row group, and end on one or at n.
TEST(ColumnChunks, TileTheColumnsOnRowGroups) {
  for (int64_t step : {1, 4, 8}) {
    for (int64_t n = 1; n <= 70; ++n) {
      for (int64_t tasks : {1, 2, 3, 7, 16, 64}) {
        const ColumnChunks c = column_chunks(n, step, tasks, 4);
        ASSERT_GE(c.size, step);
        ASSERT_EQ(c.size % step, 0);
        int64_t covered = 0;
        for (int64_t i = 0; i < c.count; ++i) {
          const int64_t b = i * c.size, e = std::min(b + c.size, n);
          ASSERT_EQ(b, covered);
          ASSERT_LT(b, e) << "empty chunk";
          ASSERT_TRUE(e == n || e % step == 0);
          covered = e;
        }
        ASSERT_EQ(covered, n) << "n " << n << " step " << step << " tasks " << tasks;
      }
    }
  }
}

// Plain Q4 weights in `layout` (repacked from random blocks).
std::vector<uint8_t> weights(q4r_type type, q4r_layout layout, int64_t n, int64_t k,
                             uint32_t seed) {
  std::vector<uint8_t> w = random_q4_blocks(n, k, seed);
  if (layout != Q4R_LAYOUT_PLAIN) {
    EXPECT_EQ(q4r_repack_inplace(type, layout, w.data(), w.size(), n, k), Q4R_OK)
        << q4r_last_error();
  }
  return w;
}

std::vector<float> matmul(q4r_type type, q4r_layout layout, const std::vector<uint8_t>& w,
                          int64_t n, int64_t k, const std::vector<float>& x, int64_t m,
                          int threads) {
  std::vector<float> y(m * n, -1.f);
  EXPECT_EQ(q4r_matmul(type, layout, w.data(), w.size(), n, k, x.data(), m, y.data(), threads),
            Q4R_OK)
      << q4r_last_error();
  return y;
}

// Every column is computed by one kernel call whatever the split, so results are bit-identical.
TEST(ThreadedMatmul, AnyThreadCountMatchesOneThreadExactly) {
  const int64_t k = 96;
  for (q4r_type type : {Q4R_TYPE_Q4_0, Q4R_TYPE_IQ4_NL}) {
    for (q4r_layout layout : {Q4R_LAYOUT_PLAIN, Q4R_LAYOUT_4X4, Q4R_LAYOUT_4X8, Q4R_LAYOUT_8X8}) {
      const int64_t N = q4r_layout_rows(layout);
      for (int64_t n : {N, 2 * N, 2 * N + 3, 16 * N + 1, int64_t{200}}) {
        const auto w = weights(type, layout, n, k, static_cast<uint32_t>(n * 7 + layout));
        for (int64_t m : {1, 3, 4, 5, 17, 40}) {
          const auto x = random_floats(m * k, static_cast<uint32_t>(m));
          const auto ref = matmul(type, layout, w, n, k, x, m, 1);
          for (int threads : {0, 2, 3, 7, 64}) {
            ASSERT_EQ(matmul(type, layout, w, n, k, x, m, threads), ref)
                << q4r_type_name(type) << " " << q4r_layout_name(layout) << " n=" << n << " m=" << m
                << " threads=" << threads;
          }
        }
      }
    }
  }
}

// An engine hook that gives every task its own OS thread: real concurrency far beyond the row
// groups (n = 2N with 16 and 64 tasks, the reference's race, FORMATS.md B.7.2).
void thread_per_task(void* user, int n_tasks, q4r_task_fn task, void* arg) {
  static_cast<std::atomic<int>*>(user)->fetch_add(1);
  std::vector<std::thread> th;
  for (int i = 0; i < n_tasks; ++i) th.emplace_back(task, arg, i);
  for (auto& t : th) t.join();
}

TEST(ThreadedMatmul, ManyRealThreadsOnTwoRowGroups) {
  const int64_t k = 4096;
  for (q4r_layout layout : {Q4R_LAYOUT_4X4, Q4R_LAYOUT_4X8, Q4R_LAYOUT_8X8}) {
    const int64_t n = 2 * q4r_layout_rows(layout);
    const auto w = weights(Q4R_TYPE_Q4_0, layout, n, k, 11);
    for (int64_t m : {1, 4, 21}) {
      const auto x = random_floats(m * k, 5);
      const auto ref = matmul(Q4R_TYPE_Q4_0, layout, w, n, k, x, m, 1);
      for (int tasks : {16, 64}) {
        std::atomic<int> calls{0};
        q4r_context_options o;
        q4r_context_options_init(&o);
        o.n_threads = tasks;
        o.parallel_for = thread_per_task;
        o.parallel_for_user = &calls;
        q4r_context* ctx = nullptr;
        ASSERT_EQ(q4r_context_create(&o, &ctx), Q4R_OK);
        const q4r_weights desc{Q4R_TYPE_Q4_0, layout, w.data(), w.size(), n, k};
        std::vector<float> y(m * n, -1.f);
        ASSERT_EQ(q4r_context_matmul(ctx, &desc, x.data(), k, m, y.data(), n, nullptr, 0), Q4R_OK)
            << q4r_last_error();
        EXPECT_EQ(y, ref) << q4r_layout_name(layout) << " m=" << m << " tasks=" << tasks;
        EXPECT_GE(calls.load(), 1);
        q4r_context_destroy(ctx);
      }
    }
  }
}

// Any number of threads may run matmuls on the same packed weights at once.
TEST(ThreadedMatmul, ConcurrentCallersShareWeights) {
  const int64_t n = 64, k = 256, m = 9;
  const auto w = weights(Q4R_TYPE_IQ4_NL, Q4R_LAYOUT_8X8, n, k, 3);
  std::vector<std::vector<float>> xs, refs;
  for (int t = 0; t < 6; ++t) {
    xs.push_back(random_floats(m * k, 100 + t));
    refs.push_back(matmul(Q4R_TYPE_IQ4_NL, Q4R_LAYOUT_8X8, w, n, k, xs[t], m, 1));
  }
  std::atomic<int> mismatches{0};
  std::vector<std::thread> th;
  for (int t = 0; t < 6; ++t) {
    th.emplace_back([&, t] {
      for (int rep = 0; rep < 10; ++rep) {
        std::vector<float> y(m * n);
        if (q4r_matmul(Q4R_TYPE_IQ4_NL, Q4R_LAYOUT_8X8, w.data(), w.size(), n, k, xs[t].data(), m,
                       y.data(), 2) != Q4R_OK ||
            y != refs[t]) {
          mismatches.fetch_add(1);
        }
      }
    });
  }
  for (auto& x : th) x.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace q4r::test
