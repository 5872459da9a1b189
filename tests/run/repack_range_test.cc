// Row-group ranges (q4r_*_range) and the threaded whole-tensor calls (q4r_context_repack /
// q4r_context_unpack): any split of the row groups gives exactly the whole call's bytes, a range
// touches only its own groups' bytes, bad ranges are refused with the data untouched, and threads
// (ours, an engine's hook, or plain std::threads on disjoint ranges) equal one thread.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "q4repack/q4repack.h"
#include "q4repack/q4repack.hpp"
#include "test_util.h"

namespace q4r::test {
namespace {

const q4r_type kTypes[] = {Q4R_TYPE_Q4_0, Q4R_TYPE_IQ4_NL};
const q4r_layout kLayouts[] = {Q4R_LAYOUT_4X4, Q4R_LAYOUT_4X8, Q4R_LAYOUT_8X8};

struct Shape {
  int64_t rows, k;
};
// Rows with and without a plain tail, every K of the brief.
const Shape kShapes[] = {{1, 32},    {3, 64},    {8, 96},    {13, 576},
                         {33, 2880}, {64, 4096}, {70, 4096}, {21, 32}};

enum class Op { kRepack, kUnpack, kRepackInplace, kUnpackInplace };
const Op kOps[] = {Op::kRepack, Op::kUnpack, Op::kRepackInplace, Op::kUnpackInplace};
bool in_place(Op op) {
  return op == Op::kRepackInplace || op == Op::kUnpackInplace;
}

std::string name(Op op, q4r_type t, q4r_layout l, Shape s) {
  const char* ops[] = {"repack", "unpack", "repack_inplace", "unpack_inplace"};
  return std::string(ops[int(op)]) + " " + q4r_type_name(t) + " " + q4r_layout_name(l) + " rows " +
         std::to_string(s.rows) + " k " + std::to_string(s.k);
}

// The whole call: src -> dst (copy) or dst in place.
q4r_status whole(Op op, q4r_type t, q4r_layout l, const std::vector<uint8_t>& src,
                 std::vector<uint8_t>& dst, Shape s) {
  switch (op) {
    case Op::kRepack:
      return q4r_repack(t, l, src.data(), dst.data(), dst.size(), s.rows, s.k);
    case Op::kUnpack:
      return q4r_unpack(t, l, src.data(), dst.data(), dst.size(), s.rows, s.k);
    case Op::kRepackInplace:
      return q4r_repack_inplace(t, l, dst.data(), dst.size(), s.rows, s.k);
    case Op::kUnpackInplace:
      return q4r_unpack_inplace(t, l, dst.data(), dst.size(), s.rows, s.k);
  }
  return Q4R_E_ARGUMENT;
}

q4r_status range(Op op, q4r_type t, q4r_layout l, const uint8_t* src, uint8_t* dst,
                 std::size_t size, Shape s, int64_t g0, int64_t g1) {
  switch (op) {
    case Op::kRepack:
      return q4r_repack_range(t, l, src, dst, size, s.rows, s.k, g0, g1);
    case Op::kUnpack:
      return q4r_unpack_range(t, l, src, dst, size, s.rows, s.k, g0, g1);
    case Op::kRepackInplace:
      return q4r_repack_inplace_range(t, l, dst, size, s.rows, s.k, g0, g1);
    case Op::kUnpackInplace:
      return q4r_unpack_inplace_range(t, l, dst, size, s.rows, s.k, g0, g1);
  }
  return Q4R_E_ARGUMENT;
}

// A random split of [0, groups) into ranges, empty ones included, in random order.
std::vector<std::pair<int64_t, int64_t>> random_split(int64_t groups, std::mt19937& rng) {
  std::vector<int64_t> cuts = {0, groups};
  const int extra = int(rng() % 6);
  for (int i = 0; i < extra; ++i) cuts.push_back(int64_t(rng() % (groups + 1)));
  std::sort(cuts.begin(), cuts.end());
  std::vector<std::pair<int64_t, int64_t>> parts;
  for (std::size_t i = 0; i + 1 < cuts.size(); ++i) parts.emplace_back(cuts[i], cuts[i + 1]);
  std::shuffle(parts.begin(), parts.end(), rng);
  return parts;
}

TEST(RepackRange, RowGroupCount) {
  EXPECT_EQ(q4r_row_groups(Q4R_LAYOUT_8X8, 16), 2);
  EXPECT_EQ(q4r_row_groups(Q4R_LAYOUT_8X8, 17), 3);  // the plain tail counts as one group
  EXPECT_EQ(q4r_row_groups(Q4R_LAYOUT_4X4, 3), 1);
  EXPECT_EQ(q4r_row_groups(Q4R_LAYOUT_4X8, 4), 1);
  EXPECT_EQ(q4r_row_groups(Q4R_LAYOUT_PLAIN, 5), 5);
  EXPECT_EQ(q4r_row_groups(Q4R_LAYOUT_8X8, 0), 0);
  EXPECT_EQ(q4r_row_groups(q4r_layout(9), 8), 0);
}

TEST(RepackRange, AnySplitEqualsTheWholeCall) {
  std::mt19937 rng(7);
  uint32_t seed = 1;
  for (Shape s : kShapes) {
    for (q4r_type t : kTypes) {
      for (q4r_layout l : kLayouts) {
        const auto src = random_q4_blocks(s.rows, s.k, seed++);
        const int64_t groups = q4r_row_groups(l, s.rows);
        for (Op op : kOps) {
          std::vector<uint8_t> want = in_place(op) ? src : std::vector<uint8_t>(src.size(), 0xEE);
          ASSERT_EQ(whole(op, t, l, src, want, s), Q4R_OK) << q4r_last_error();
          for (int trial = 0; trial < 3; ++trial) {
            std::vector<uint8_t> got = in_place(op) ? src : std::vector<uint8_t>(src.size(), 0xEE);
            for (auto [g0, g1] : random_split(groups, rng)) {
              ASSERT_EQ(range(op, t, l, src.data(), got.data(), got.size(), s, g0, g1), Q4R_OK)
                  << q4r_last_error();
            }
            ASSERT_EQ(got, want) << name(op, t, l, s);
          }
        }
      }
    }
  }
}

TEST(RepackRange, TouchesOnlyItsGroups) {
  uint32_t seed = 300;
  for (Shape s : kShapes) {
    for (q4r_type t : kTypes) {
      for (q4r_layout l : kLayouts) {
        const auto src = random_q4_blocks(s.rows, s.k, seed++);
        const int64_t groups = q4r_row_groups(l, s.rows), N = q4r_layout_rows(l);
        const int64_t row_bytes = s.k / 32 * 18;
        for (Op op : kOps) {
          std::vector<uint8_t> want = in_place(op) ? src : std::vector<uint8_t>(src.size(), 0xEE);
          ASSERT_EQ(whole(op, t, l, src, want, s), Q4R_OK);
          // First, second, middle and last groups (the last one is the plain tail if N does not
          // divide the rows), alone or with the next one.
          for (int64_t g0 : {int64_t{0}, int64_t{1}, groups / 2, groups - 1}) {
            if (g0 >= groups) continue;
            const int64_t g1 = std::min(groups, g0 + 1 + g0 % 2);
            const auto before = in_place(op) ? src : std::vector<uint8_t>(src.size(), 0xEE);
            std::vector<uint8_t> got = before;
            ASSERT_EQ(range(op, t, l, src.data(), got.data(), got.size(), s, g0, g1), Q4R_OK);
            const auto b0 = std::size_t(g0 * N * row_bytes);
            const auto b1 = std::size_t(std::min(s.rows, g1 * N) * row_bytes);
            // Inside the groups: the whole call's bytes; outside: what was there.
            std::vector<uint8_t> expect = before;
            std::copy(want.begin() + b0, want.begin() + b1, expect.begin() + b0);
            ASSERT_EQ(got, expect) << name(op, t, l, s) << " groups [" << g0 << ", " << g1 << ")";
          }
        }
      }
    }
  }
}

TEST(RepackRange, BadRangesAreRefusedAndLeaveDataUntouched) {
  const Shape s{21, 64};  // 8x8: 3 groups (2 full + the tail); 4-row layouts: 6
  const auto src = random_q4_blocks(s.rows, s.k, 9);
  for (q4r_layout l : kLayouts) {
    const int64_t groups = q4r_row_groups(l, s.rows);
    const std::pair<int64_t, int64_t> bad[] = {
        {-1, 1}, {2, 1}, {0, groups + 1}, {groups + 1, groups + 2}, {INT64_MIN, 0}, {0, INT64_MAX}};
    for (Op op : kOps) {
      for (auto [g0, g1] : bad) {
        std::vector<uint8_t> dst = in_place(op) ? src : std::vector<uint8_t>(src.size(), 0xEE);
        const auto before = dst;
        EXPECT_EQ(range(op, Q4R_TYPE_Q4_0, l, src.data(), dst.data(), dst.size(), s, g0, g1),
                  Q4R_E_ARGUMENT)
            << g0 << " " << g1;
        EXPECT_NE(std::string(q4r_last_error()).find("row group range"), std::string::npos)
            << q4r_last_error();
        EXPECT_EQ(dst, before);
      }
      // The rest of the validation is the whole call's.
      std::vector<uint8_t> dst = in_place(op) ? src : std::vector<uint8_t>(src.size(), 0xEE);
      const auto before = dst;
      EXPECT_EQ(range(op, Q4R_TYPE_Q4_0, l, src.data(), dst.data(), dst.size() - 1, s, 0, 1),
                Q4R_E_SIZE);
      EXPECT_EQ(range(op, Q4R_TYPE_Q8_0, l, src.data(), dst.data(), dst.size(), s, 0, 1),
                Q4R_E_UNSUPPORTED);
      EXPECT_EQ(
          range(op, Q4R_TYPE_Q4_0, Q4R_LAYOUT_PLAIN, src.data(), dst.data(), dst.size(), s, 0, 1),
          Q4R_E_ARGUMENT);
      EXPECT_EQ(range(op, Q4R_TYPE_Q4_0, l, src.data(), dst.data(), dst.size(), {s.rows, 48}, 0, 1),
                Q4R_E_SHAPE);
      EXPECT_EQ(range(op, Q4R_TYPE_Q4_0, l, src.data(), nullptr, dst.size(), s, 0, 1), Q4R_E_NULL);
      EXPECT_EQ(dst, before);
    }
    // Overlapping but different buffers.
    std::vector<uint8_t> big(src.size() + 18);
    EXPECT_EQ(q4r_repack_range(Q4R_TYPE_Q4_0, l, big.data(), big.data() + 18, src.size(), s.rows,
                               s.k, 0, 1),
              Q4R_E_OVERLAP);
  }
}

// The parallel-for hook of an engine that runs the tasks itself, last first, on its own threads.
void reverse_threads(void*, int n_tasks, q4r_task_fn task, void* arg) {
  std::vector<std::thread> threads;
  for (int i = n_tasks - 1; i >= 0; --i) threads.emplace_back([=] { task(arg, i); });
  for (auto& th : threads) th.join();
}

TEST(RepackRange, ThreadedEqualsSingle) {
  // 3.7 MB: up to 7 tasks of >= 512 KiB, with a plain tail; 0.5 MB: one task, run inline.
  const Shape shapes[] = {{1601, 4096}, {301, 2880}};
  struct Threads {
    int n;
    bool hook;
  };
  const Threads configs[] = {{1, false}, {2, false}, {7, false}, {3, true}, {7, true}};
  std::vector<q4r_context*> contexts;
  for (Threads c : configs) {
    q4r_context_options o;
    q4r_context_options_init(&o);
    o.n_threads = c.n;
    if (c.hook) o.parallel_for = reverse_threads;
    q4r_context* ctx = nullptr;
    ASSERT_EQ(q4r_context_create(&o, &ctx), Q4R_OK);
    contexts.push_back(ctx);
  }
  uint32_t seed = 900;
  for (Shape s : shapes) {
    const auto src = random_q4_blocks(s.rows, s.k, seed++);
    for (q4r_type t : kTypes) {
      for (q4r_layout l : kLayouts) {
        for (Op op : kOps) {
          std::vector<uint8_t> want = in_place(op) ? src : std::vector<uint8_t>(src.size());
          ASSERT_EQ(whole(op, t, l, src, want, s), Q4R_OK);
          for (std::size_t c = 0; c < contexts.size(); ++c) {
            std::vector<uint8_t> got = in_place(op) ? src : std::vector<uint8_t>(src.size());
            const bool pack = op == Op::kRepack || op == Op::kRepackInplace;
            const uint8_t* from = in_place(op) ? got.data() : src.data();
            ASSERT_EQ((pack ? q4r_context_repack : q4r_context_unpack)(
                          contexts[c], t, l, from, got.data(), got.size(), s.rows, s.k),
                      Q4R_OK)
                << q4r_last_error();
            ASSERT_EQ(got, want) << name(op, t, l, s) << " threads " << configs[c].n
                                 << (configs[c].hook ? " (hook)" : "");
          }
        }
      }
    }
    // Errors: the single-threaded call's, nothing written.
    for (q4r_context* ctx : contexts) {
      std::vector<uint8_t> dst(src.size(), 0xEE);
      EXPECT_EQ(q4r_context_repack(ctx, Q4R_TYPE_Q4_0, Q4R_LAYOUT_8X8, src.data(), dst.data(),
                                   dst.size() - 1, s.rows, s.k),
                Q4R_E_SIZE);
      EXPECT_EQ(q4r_context_unpack(ctx, Q4R_TYPE_Q4_0, Q4R_LAYOUT_PLAIN, src.data(), dst.data(),
                                   dst.size(), s.rows, s.k),
                Q4R_E_ARGUMENT);
      EXPECT_EQ(dst, std::vector<uint8_t>(src.size(), 0xEE));
    }
    EXPECT_EQ(q4r_context_repack(nullptr, Q4R_TYPE_Q4_0, Q4R_LAYOUT_8X8, src.data(), nullptr,
                                 src.size(), s.rows, s.k),
              Q4R_E_NULL);
  }
  for (q4r_context* ctx : contexts) q4r_context_destroy(ctx);
}

TEST(RepackRange, ConcurrentDisjointRangesEqualTheWholeCall) {
  // An engine's own threads, each on its run of row groups, copy and in place.
  const Shape s{1001, 4096};
  const auto src = random_q4_blocks(s.rows, s.k, 4242);
  for (q4r_layout l : kLayouts) {
    const int64_t groups = q4r_row_groups(l, s.rows);
    for (Op op : kOps) {
      std::vector<uint8_t> want = in_place(op) ? src : std::vector<uint8_t>(src.size());
      ASSERT_EQ(whole(op, Q4R_TYPE_Q4_0, l, src, want, s), Q4R_OK);
      std::vector<uint8_t> got = in_place(op) ? src : std::vector<uint8_t>(src.size());
      const int parts = 5;
      std::vector<q4r_status> status(parts, Q4R_E_ARGUMENT);
      std::vector<std::thread> threads;
      for (int i = 0; i < parts; ++i) {
        threads.emplace_back([&, i] {
          status[i] = range(op, Q4R_TYPE_Q4_0, l, src.data(), got.data(), got.size(), s,
                            groups * i / parts, groups * (i + 1) / parts);
        });
      }
      for (auto& th : threads) th.join();
      for (q4r_status st : status) EXPECT_EQ(st, Q4R_OK);
      EXPECT_EQ(got, want) << name(op, Q4R_TYPE_Q4_0, l, s);
    }
  }
}

TEST(RepackRange, CppContextRepackAndUnpack) {
  const Shape s{1601, 4096};
  const auto src = random_q4_blocks(s.rows, s.k, 77);
  std::vector<uint8_t> want(src.size()), got(src.size());
  ASSERT_EQ(q4r_repack(Q4R_TYPE_IQ4_NL, Q4R_LAYOUT_8X8, src.data(), want.data(), want.size(),
                       s.rows, s.k),
            Q4R_OK);
  q4repack::ContextOptions o;
  o.n_threads = 3;
  const q4repack::Context ctx(o);
  ctx.repack(Q4R_TYPE_IQ4_NL, Q4R_LAYOUT_8X8, src.data(), got.data(), got.size(), s.rows, s.k);
  EXPECT_EQ(got, want);
  ctx.unpack(Q4R_TYPE_IQ4_NL, Q4R_LAYOUT_8X8, got.data(), got.data(), got.size(), s.rows, s.k);
  EXPECT_EQ(got, src);
  EXPECT_THROW(ctx.unpack(Q4R_TYPE_IQ4_NL, Q4R_LAYOUT_8X8, got.data(), got.data(), got.size() - 1,
                          s.rows, s.k),
               q4repack::Error);
}

}  // namespace
}  // namespace q4r::test
