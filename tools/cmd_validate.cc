// q4repack validate: with no file, an embedded synthetic set of model-shaped weights (one layer of
// an 8B model plus odd shapes) checked for every type, layout and instruction set available here:
//   bytes:   repack, unpack == original, in-place repack == buffer repack, in-place unpack,
//            threaded (q4r_context_*) == single-threaded;
//   kernels: every available ISA's GEMM/GEMV (packed layouts) and plain kernel, on the same
//            quantized activations as the scalar reference, batch 1 (GEMV only) and 5 (GEMM on 4
//            rows + GEMV tail), all output columns, within a rigorous float error bound of the
//            scalar result; the scalar result itself within the bound of the exact dot product on
//            sampled columns;
//   activation quantizers of every ISA against the scalar one (same scales; levels may differ by
//            one only where the ISA rounds ties to even).
// One verdict line per case, a summary, exit 1 on any mismatch.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "cli.h"
#include "file_tool_util.h"
#include "validate_file.h"
#include "validate_reference.h"

using namespace q4r::cli;
namespace v = q4r::validate;

namespace {

struct Shape {
  const char* name;
  int64_t n, k;
};

// One layer of an 8B (Llama-3-8B-like) model, then shapes that exercise every tail.
const Shape kDefaultShapes[] = {
    {"attn_q/o", 4096, 4096},    {"attn_k/v", 1024, 4096}, {"ffn_gate/up", 14336, 4096},
    {"ffn_down", 4096, 14336},   {"rows%8=3", 1003, 4096}, {"k2880", 2884, 2880},
    {"k576 rows%8=5", 517, 576}, {"k96", 36, 96},          {"k32 rows=7", 7, 32},
    {"one row", 1, 64},
};
const Shape kQuickShapes[] = {
    {"model rows", 264, 4096},  {"rows%8=3", 59, 1024}, {"k2880", 20, 2880},
    {"k576 rows%8=5", 13, 576}, {"k96", 36, 96},        {"k32 rows=7", 7, 32},
    {"one row", 1, 64},
};

const q4r_type kTypes[] = {Q4R_TYPE_Q4_0, Q4R_TYPE_IQ4_NL};
const int64_t kBatches[] = {1, 5};
// Values quantized with the (slow) IQ4_NL scale search per shape; further rows are random valid
// blocks. Q4_0 quantizes every row.
constexpr int64_t kIq4nlQuantizedValues = 1 << 18;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int worker_count() {
  return std::max(1u, std::min(4u, std::thread::hardware_concurrency()));
}

// Runs body(begin, end) over [0, count) split into contiguous parts on worker threads; `align`
// keeps part boundaries on multiples of it.
template <class F>
void parallel_ranges(int64_t count, int64_t align, F body) {
  const int64_t units = (count + align - 1) / align;
  const int workers = static_cast<int>(std::min<int64_t>(worker_count(), units));
  if (workers <= 1) return body(int64_t{0}, count);
  std::vector<std::thread> threads;
  for (int t = 0; t < workers; ++t) {
    const int64_t b = std::min(count, units * t / workers * align);
    const int64_t e = std::min(count, units * (t + 1) / workers * align);
    if (b < e) threads.emplace_back([=] { body(b, e); });
  }
  for (auto& th : threads) th.join();
}

// Plain blocks of one shape and type.
std::vector<uint8_t> make_weights(q4r_type type, const Shape& s, uint32_t seed,
                                  int64_t* quantized_rows) {
  const std::size_t bytes = tensor_bytes(type, s.n, s.k);
  const std::size_t row_bytes = bytes / static_cast<std::size_t>(s.n);
  std::vector<uint8_t> plain(bytes);
  int64_t rows_q = s.n;
  if (type == Q4R_TYPE_IQ4_NL)
    rows_q = std::min(s.n, std::max<int64_t>(1, kIq4nlQuantizedValues / s.k));
  *quantized_rows = rows_q;
  parallel_ranges(rows_q, 1, [&](int64_t r0, int64_t r1) {
    constexpr int64_t kChunk = 16;
    std::vector<float> x(kChunk * s.k);
    for (int64_t r = r0; r < r1; r += kChunk) {
      const int64_t e = std::min(r1, r + kChunk);
      v::synthetic_weights(seed, r, e, s.k, x.data());
      check(q4r_quantize(type, x.data(), e - r, s.k, nullptr, &plain[r * row_bytes],
                         (e - r) * row_bytes),
            "quantize");
    }
  });
  if (rows_q < s.n) {
    parallel_ranges(s.n - rows_q, 1, [&](int64_t r0, int64_t r1) {
      v::random_blocks(seed, rows_q + r0, rows_q + r1, s.k, &plain[(rows_q + r0) * row_bytes]);
    });
  }
  return plain;
}

struct Stats {
  int cases = 0, mismatches = 0;
};

struct Fail {
  std::vector<std::string> messages;
  void add(const std::string& m) {
    if (messages.size() < 4) messages.push_back(m);
  }
};

std::string fmt(const char* f, double a) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, a);
  return buf;
}

// Column windows where results are checked against the exact dot products: the first, a middle
// and the last one (which holds the plain tail rows), each starting on a row-group boundary.
struct Window {
  int64_t c0, c1;
};
std::vector<Window> sample_windows(int64_t n) {
  if (n <= 256) return {{0, n}};
  const int64_t mid = n / 2 / 8 * 8, last = (n - 64) / 8 * 8;
  return {{0, 64}, {mid, mid + 64}, {last, n}};
}
std::vector<int64_t> window_columns(const std::vector<Window>& windows) {
  std::vector<int64_t> cols;
  for (const Window& w : windows) {
    for (int64_t c = w.c0; c < w.c1; ++c) cols.push_back(c);
  }
  return cols;
}

// Output columns [c0, c1) of one run on the given ISA, split over threads in whole row groups.
void run_columns(q4r_isa isa, q4r_type type, q4r_layout layout, const std::vector<uint8_t>& w,
                 const Shape& s, const std::vector<uint8_t>& ws, int64_t m, std::vector<float>& y,
                 int64_t c0, int64_t c1) {
  check(q4r_set_isa(isa), "select isa");
  const int64_t step = q4r_column_step(layout);
  parallel_ranges(c1 - c0, step, [&](int64_t b, int64_t e) {
    check(q4r_run(type, layout, w.data(), w.size(), s.n, s.k, ws.data(), ws.size(), m, y.data(),
                  static_cast<std::size_t>(s.n), c0 + b, c0 + e),
          "run");
  });
}

// Activation quantizers of `isa` against the scalar ones on the same floats.
bool check_activation_quantizer(q4r_isa isa, const std::vector<float>& x, int64_t m, int64_t k,
                                std::string* detail) {
  auto quantize = [&](q4r_isa which, int chunk) {
    check(q4r_set_isa(which), "select isa");
    const int64_t rows = chunk ? m - m % 4 : m;
    std::vector<uint8_t> out(rows * k / 32 * 34);
    if (chunk) {
      check(q4r_quantize_q8_0_x4(x.data(), k, rows, k, chunk, out.data(), out.size()),
            "quantize x4");
    } else {
      check(q4r_quantize_q8_0_rows(x.data(), k, rows, k, out.data(), out.size()), "quantize rows");
    }
    return out;
  };
  int64_t scale_diffs = 0, level_diffs = 0, big = 0;
  for (int chunk : {0, 4, 8}) {
    const auto ref = quantize(Q4R_ISA_SCALAR, chunk), got = quantize(isa, chunk);
    // Both formats put the fp16 scales first in each 34-byte (row) or 136-byte (group) unit.
    const int64_t unit = chunk ? 136 : 34, scales = chunk ? 4 : 1;
    for (std::size_t u = 0; u < ref.size() / unit; ++u) {
      const uint8_t* a = &ref[u * unit];
      const uint8_t* b = &got[u * unit];
      if (std::memcmp(a, b, 2 * scales) != 0) ++scale_diffs;
      for (int64_t i = 2 * scales; i < unit; ++i) {
        const int d = std::abs(int(int8_t(a[i])) - int(int8_t(b[i])));
        level_diffs += d != 0;
        big += d > 1;
      }
    }
  }
  *detail = std::to_string(level_diffs) + " levels off by one";
  return scale_diffs == 0 && big == 0;
}

// The activations of one batch, quantized by the scalar quantizer, and what they are checked
// against: the exact dot products on the sampled columns, error bounds for all columns, and the
// scalar plain kernel's result for all columns (the reference every ISA and layout is compared to).
struct Batch {
  int64_t m;
  v::Exact exact;
  std::vector<double> bound;
  std::vector<float> ref;
};

// The largest |got - want| / tolerance seen, and where (NaN counts as the worst).
struct Worst {
  double ratio = 0;
  int64_t index = 0;
};

// All checks of one (shape, type); prints one line per layout.
void validate_shape_type(const Shape& s, q4r_type type, const std::vector<q4r_isa>& isas,
                         bool fault, Stats* stats) {
  const auto t0 = std::chrono::steady_clock::now();
  int64_t quantized_rows = 0;
  const std::vector<uint8_t> plain = make_weights(type, s, 7, &quantized_rows);
  const std::vector<float> x = v::synthetic_activations(11, kBatches[1], s.k);
  const std::vector<Window> windows = sample_windows(s.n);
  const std::vector<int64_t> cols = window_columns(windows);
  const std::size_t nc = cols.size();
  const double factor = v::error_factor(s.k);

  // The workspace of a layout for the first m rows of x, quantized by the scalar quantizer (the
  // kernels of every ISA then see exactly the same integers).
  auto workspace = [&](q4r_layout layout, int64_t m) {
    std::size_t bytes = 0;
    check(q4r_workspace_size(layout, s.n, m, s.k, &bytes), "workspace size");
    std::vector<uint8_t> ws(bytes);
    check(q4r_set_isa(Q4R_ISA_SCALAR), "select isa");
    check(q4r_quantize_activations(layout, s.n, x.data(), s.k, m, s.k, ws.data(), ws.size()),
          "quantize activations");
    return ws;
  };
  std::vector<Batch> batches;
  for (int64_t m : kBatches) {
    Batch b{m, {}, {}, std::vector<float>(m * s.n)};
    const std::vector<uint8_t> act = workspace(Q4R_LAYOUT_PLAIN, m);  // plain q8_0 rows
    b.exact = v::exact_dots(type, plain.data(), act.data(), s.k, m, cols);
    b.bound = v::abs_sum_bounds(type, plain.data(), act.data(), s.n, s.k, m);
    run_columns(Q4R_ISA_SCALAR, type, Q4R_LAYOUT_PLAIN, plain, s, act, m, b.ref, 0, s.n);
    batches.push_back(std::move(b));
  }
  const double setup_s = seconds_since(t0);

  for (int li = 0; li < Q4R_LAYOUT_COUNT; ++li) {
    const auto t1 = std::chrono::steady_clock::now();
    const q4r_layout layout = q4r_layout(li);
    Fail fail;
    std::string bytes_note = "-";
    std::vector<uint8_t> w = plain;
    if (layout != Q4R_LAYOUT_PLAIN) {
      std::vector<uint8_t> packed(plain.size()), back(plain.size());
      check(q4r_repack(type, layout, plain.data(), packed.data(), plain.size(), s.n, s.k),
            "repack");
      check(q4r_unpack(type, layout, packed.data(), back.data(), back.size(), s.n, s.k), "unpack");
      if (back != plain) fail.add("unpack(repack(w)) != w");
      check(q4r_repack_inplace(type, layout, w.data(), w.size(), s.n, s.k), "repack in place");
      if (w != packed) fail.add("in-place repack != buffer repack");
      back = packed;
      check(q4r_unpack_inplace(type, layout, back.data(), back.size(), s.n, s.k),
            "unpack in place");
      if (back != plain) fail.add("in-place unpack != w");
      // The threaded calls (row-group runs on worker threads) give the same bytes.
      const ContextPtr threads = repack_context(worker_count());
      std::vector<uint8_t> threaded(plain.size());
      check(q4r_context_repack(threads.get(), type, layout, plain.data(), threaded.data(),
                               threaded.size(), s.n, s.k),
            "threaded repack");
      if (threaded != packed) fail.add("threaded repack != repack");
      check(q4r_context_unpack(threads.get(), type, layout, threaded.data(), threaded.data(),
                               threaded.size(), s.n, s.k),
            "threaded unpack in place");
      if (threaded != plain) fail.add("threaded in-place unpack != w");
      bytes_note = "ok";
    }
    std::string isa_note;
    for (const Batch& b : batches) {
      const std::vector<uint8_t> ws = workspace(layout, b.m);
      const std::string batch = " m=" + std::to_string(b.m);
      // Against the exact dot products on the sampled windows.
      auto check_exact = [&](q4r_isa isa, const std::vector<float>& y) {
        for (int64_t i = 0; i < b.m; ++i) {
          for (std::size_t ci = 0; ci < nc; ++ci) {
            const double err =
                std::fabs(double(y[i * s.n + cols[ci]]) - b.exact.value[i * nc + ci]);
            const double tol = factor * b.exact.abs_sum[i * nc + ci];
            if (!(err <= tol)) {
              fail.add(std::string(q4r_isa_name(isa)) + batch + " row " + std::to_string(i) +
                       " col " + std::to_string(cols[ci]) + ": error " + fmt("%.3g", err) +
                       " vs exact > bound " + fmt("%.3g", tol));
              return;
            }
          }
        }
      };
      // The scalar kernels of this layout on the windows (the plain one ran on every column).
      std::vector<float> y(b.m * s.n);
      if (layout == Q4R_LAYOUT_PLAIN) {
        y = b.ref;
      } else {
        for (const Window& win : windows) {
          run_columns(Q4R_ISA_SCALAR, type, layout, w, s, ws, b.m, y, win.c0, win.c1);
        }
      }
      check_exact(Q4R_ISA_SCALAR, y);
      for (q4r_isa isa : isas) {
        if (isa == Q4R_ISA_SCALAR) continue;
        if (fault) {  // self-test: a sign flip in one block scale must be reported
          std::vector<uint8_t> wi = w;
          wi[1] ^= 0x80;
          run_columns(isa, type, layout, wi, s, ws, b.m, y, 0, s.n);
        } else {
          run_columns(isa, type, layout, w, s, ws, b.m, y, 0, s.n);
        }
        check_exact(isa, y);
        // Every output against the scalar plain kernel: both lie within factor * bound of the
        // exact value, so they differ by at most twice that.
        Worst worst;
        for (int64_t i = 0; i < b.m * s.n; ++i) {
          const double tol = 2 * factor * b.bound[i];
          const double err = std::fabs(double(y[i]) - double(b.ref[i]));
          const double ratio = tol > 0 ? err / tol : (err > 0 ? INFINITY : 0);
          if (!(ratio <= worst.ratio)) worst = {ratio, i};
        }
        if (!(worst.ratio <= 1)) {
          const int64_t i = worst.index;
          fail.add(std::string(q4r_isa_name(isa)) + batch + " row " + std::to_string(i / s.n) +
                   " col " + std::to_string(i % s.n) + ": " + fmt("%.9g", y[i]) + " vs scalar " +
                   fmt("%.9g", b.ref[i]) + " (" + fmt("%.3g", worst.ratio) + " x bound)");
        }
        if (b.m == kBatches[1]) {
          isa_note += std::string(isa_note.empty() ? "" : ", ") + q4r_isa_name(isa) + " " +
                      fmt("%.1e", worst.ratio) + " of bound";
        }
      }
    }
    ++stats->cases;
    const bool ok = fail.messages.empty();
    if (!ok) ++stats->mismatches;
    std::printf(
        "%-8s %-13s %5lld x %-5lld %-6s %-4s bytes %-2s  kernels: scalar ok%s%s  [%.2f s]\n",
        ok ? "ok" : "MISMATCH", s.name, (long long)s.n, (long long)s.k, q4r_type_name(type),
        q4r_layout_name(layout), bytes_note.c_str(), isa_note.empty() ? "" : ", ", isa_note.c_str(),
        seconds_since(t1) + (li == 0 ? setup_s : 0));
    for (const std::string& m : fail.messages) std::printf("           %s\n", m.c_str());
    std::fflush(stdout);
  }
  (void)quantized_rows;
}

}  // namespace

int cmd_validate(int argc, char** argv) {
  // validate FILE.gguf / FILE.q4p FILE.gguf: the file modes (validate_file.cc).
  if (validate_wants_file(argc, argv)) return validate_file(argc, argv);
  const Args a =
      ArgParser(
          "validate", "[--quick]    (file modes: see q4repack validate FILE.gguf --help)",
          "Checks this build on this CPU against the scalar reference, on a synthetic set of\n"
          "model-shaped weights (one layer of an 8B model: 4096x4096, 1024x4096, 14336x4096,\n"
          "4096x14336, plus odd shapes: rows not a multiple of 8, K = 32, 96, 576, 2880).\n"
          "For q4_0 and iq4_nl and every layout: repack / unpack / in-place byte checks, and\n"
          "every available instruction set's kernels (GEMM and GEMV at batch 5 and 1, plain)\n"
          "against the scalar kernels within a rigorous float error bound (the scalar results\n"
          "are themselves checked against exact dot products on sampled columns), and every\n"
          "ISA's activation quantizer against the scalar one. Exit 1 on any mismatch.\n"
          "iq4_nl: the first 2^18 values of each shape go through the quantizer (its scale\n"
          "search is slow); further rows are random valid blocks.")
          .flag("quick", "small shapes only (a few seconds; used by the tests)")
          .flag("inject-fault", "self-test: corrupt one weight block for the SIMD runs (must fail)")
          .positionals(0, 0, "")
          .parse(argc, argv);
  const bool quick = a.has("quick"), fault = a.has("inject-fault");
  const q4r_isa initial = q4r_active_isa();
  std::vector<q4r_isa> isas;
  std::string isa_names;
  for (int i = 0; i < Q4R_ISA_COUNT; ++i) {
    if (!q4r_isa_available(q4r_isa(i))) continue;
    isas.push_back(q4r_isa(i));
    isa_names += std::string(isa_names.empty() ? "" : " ") + q4r_isa_name(q4r_isa(i));
  }
  std::printf("q4repack %s validate: isa %s; %s shapes; batch 1 and 5\n", q4r_version_string(),
              isa_names.c_str(), quick ? "quick" : "default");
  const auto t0 = std::chrono::steady_clock::now();
  Stats stats;
  const Shape* begin = quick ? std::begin(kQuickShapes) : std::begin(kDefaultShapes);
  const Shape* end = quick ? std::end(kQuickShapes) : std::end(kDefaultShapes);

  // Activation quantizers, once per K.
  std::vector<int64_t> ks;
  for (const Shape* s = begin; s != end; ++s) {
    if (std::find(ks.begin(), ks.end(), s->k) == ks.end()) ks.push_back(s->k);
  }
  for (q4r_isa isa : isas) {
    if (isa == Q4R_ISA_SCALAR) continue;
    for (int64_t k : ks) {
      const int64_t m = 9;  // two interleaved groups and a plain row
      const std::vector<float> x = v::synthetic_activations(13, m, k);
      std::string detail;
      const bool ok = check_activation_quantizer(isa, x, m, k, &detail);
      ++stats.cases;
      if (!ok) ++stats.mismatches;
      std::printf("%-8s activation quantizer %s, k %lld: scales identical, %s\n",
                  ok ? "ok" : "MISMATCH", q4r_isa_name(isa), (long long)k,
                  ok ? detail.c_str() : "levels differ by more than one or scales differ");
    }
  }
  for (const Shape* s = begin; s != end; ++s) {
    for (q4r_type t : kTypes) validate_shape_type(*s, t, isas, fault, &stats);
  }
  q4r_set_isa(initial);
  std::printf("validate: %d cases, %d mismatches (isa: %s) in %.1f s\n", stats.cases,
              stats.mismatches, isa_names.c_str(), seconds_since(t0));
  return stats.mismatches ? kExitMismatch : kExitOk;
}
