// validate on real files: for every Q4_0 / IQ4_NL matrix, repack into each layout asked for,
// unpack and compare with the original bytes, and run every kernel set this CPU has against the
// scalar reference on random activations. With a .q4p file: the same on its packed tensors, after
// checking that it belongs to the GGUF.
//
// Tolerance: an output y[m][c] is a sum over K products; kernels of different ISAs differ in the
// float summation order and in how activations round at exact ties (FORMATS.md Part A). We accept
// |y - y_ref| <= 1e-4 * S + 1e-6, where S = sum |w_deq| * |x| over the row (the scale of the
// terms). A wrong block, nibble or scale gives errors of the order of S / sqrt(K) or larger.
#include "validate_file.h"

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cli.h"
#include "file_tool_util.h"
#include "lib/file/q4p.h"
#include "q4repack/q4p.h"

namespace q4r::cli {
namespace {

struct Options {
  std::vector<q4r_layout> layouts;  // empty: the layout of the .q4p tensor
  int64_t batch = 5;
  bool inplace = false;  // repack inside a copy-on-write mapping of the GGUF
  bool keep = false;     // keep every packed copy alive (what a loader with a repack buffer does)
};

struct Verdict {
  std::string name, type, shape, layouts, isas, problem;
  double max_err = 0;  // max |y - ref| / (S + tiny) over everything checked
};

bool ends_with(const std::string& s, const char* suffix) {
  const std::size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

std::vector<q4r_isa> isas_here() {
  std::vector<q4r_isa> out;
  for (int i = 0; i < Q4R_ISA_COUNT; ++i)
    if (q4r_isa_available(q4r_isa(i))) out.push_back(q4r_isa(i));
  return out;
}

// Y = X W^T with weights in `layout` on `isa`.
bool run(q4r_isa isa, q4r_type type, q4r_layout layout, const uint8_t* w, std::size_t bytes,
         int64_t rows, int64_t k, const std::vector<float>& x, int64_t m, std::vector<float>& y) {
  if (q4r_set_isa(isa) != Q4R_OK) return false;
  y.assign(std::size_t(m * rows), 0.f);
  return q4r_matmul(type, layout, w, bytes, rows, k, x.data(), m, y.data(), 0) == Q4R_OK;
}

// Scale of the terms of each output: S[m][c] = sum_j |w[c][j]| * |x[m][j]|, one row at a time.
std::vector<double> term_scale(q4r_type type, const uint8_t* w, int64_t rows, int64_t k,
                               const std::vector<float>& x, int64_t m) {
  std::vector<double> s(std::size_t(m * rows));
  std::vector<float> row(static_cast<std::size_t>(k));
  const std::size_t row_bytes = std::size_t(k / 32) * 18;
  for (int64_t c = 0; c < rows; ++c) {
    check(q4r_dequantize(type, w + c * row_bytes, row_bytes, 1, k, row.data()), "dequantize");
    for (int64_t r = 0; r < m; ++r) {
      double acc = 0;
      for (int64_t j = 0; j < k; ++j) acc += std::fabs(double(row[j]) * x[r * k + j]);
      s[r * rows + c] = acc;
    }
  }
  return s;
}

// Kernel results of `packed` on every ISA against the scalar plain reference.
void check_kernels(Verdict& v, q4r_type type, q4r_layout layout, const uint8_t* packed,
                   const std::vector<float>& ref, const std::vector<double>& scale,
                   std::size_t bytes, int64_t rows, int64_t k, const std::vector<float>& x,
                   int64_t m) {
  std::vector<float> y;
  for (q4r_isa isa : isas_here()) {
    if (!run(isa, type, layout, packed, bytes, rows, k, x, m, y)) {
      if (v.problem.empty()) {
        v.problem = std::string(q4r_layout_name(layout)) + "/" + q4r_isa_name(isa) +
                    ": matmul failed: " + q4r_last_error();
      }
      continue;
    }
    for (std::size_t i = 0; i < y.size(); ++i) {
      const double err = std::fabs(double(y[i]) - ref[i]);
      const double rel = err / (scale[i] + 1e-30);
      if (std::isfinite(rel)) v.max_err = std::max(v.max_err, rel);
      if (!(err <= 1e-4 * scale[i] + 1e-6) && v.problem.empty()) {
        char msg[200];
        std::snprintf(msg, sizeof msg, "%s/%s: y[%zu][%zu] = %.9g, scalar reference %.9g",
                      q4r_layout_name(layout), q4r_isa_name(isa), i / std::size_t(rows),
                      i % std::size_t(rows), double(y[i]), double(ref[i]));
        v.problem = msg;
      }
    }
  }
}

struct RunStats {
  std::size_t tensors = 0, failed = 0, matrices = 0;
  uint64_t bytes = 0;
};

void print_row(const Verdict& v) {
  std::printf("%-36s %-7s %-16s %-12s %9.2e  %s\n", v.name.c_str(), v.type.c_str(), v.shape.c_str(),
              v.layouts.c_str(), v.max_err,
              v.problem.empty() ? "ok" : ("MISMATCH: " + v.problem).c_str());
}

std::string layouts_text(const std::vector<q4r_layout>& ls) {
  std::string s;
  for (q4r_layout l : ls) s += (s.empty() ? "" : ",") + std::string(q4r_layout_name(l));
  return s;
}

long peak_rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

}  // namespace

bool validate_wants_file(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (ends_with(a, ".gguf") || ends_with(a, ".q4p")) return true;
  }
  return argc > 1 && argv[1][0] != '-';
}

int validate_file(int argc, char** argv) {
  const Args a =
      ArgParser(
          "validate", "FILE.gguf | FILE.q4p FILE.gguf [--layout auto|all|4x4|4x8|8x8]",
          "For each Q4_0 / IQ4_NL matrix of a GGUF file: repack into the layout(s), unpack\n"
          "and compare with the original bytes, and run every instruction set available here\n"
          "against the scalar reference on random activations (|y - ref| <= 1e-4 * sum|w*x|\n"
          "+ 1e-6). With a .q4p file: check it belongs to the GGUF (checksums), then the same\n"
          "on its packed tensors. Exit 1 on any mismatch.")
          .option("layout", "auto (this machine's choice, default), all, 4x4, 4x8 or 8x8")
          .option("batch", "activation rows M (default 5: GEMM groups and a GEMV tail)")
          .option("json", "also write the per-tensor results as JSON to OUT")
          .flag("inplace", "repack inside a copy-on-write mapping of the GGUF (no copies)")
          .option("threads", "threads that repack and unpack each tensor (default 0: all cores)")
          .flag("report-rss", "print the peak resident memory against the file size")
          .flag("keep-copies",
                "keep every repacked copy until the end, as a loader with a separate repack "
                "buffer does (for --report-rss comparisons)")
          .positionals(1, 2, "FILE.gguf, or FILE.q4p FILE.gguf.")
          .parse(argc, argv);
  Options opt;
  opt.batch = a.integer("batch", 5);
  if (opt.batch < 1 || opt.batch > 4096) usage_error("--batch must be in 1..4096");
  opt.inplace = a.has("inplace");
  const ContextPtr threads = repack_context(threads_option(a));
  const q4r_context* ctx = threads.get();
  opt.keep = a.has("keep-copies");
  const auto& pos = a.positional();
  const bool with_q4p = ends_with(pos[0], ".q4p");
  if (with_q4p != (pos.size() == 2)) usage_error("give FILE.gguf, or FILE.q4p and its FILE.gguf");
  if (with_q4p && (opt.inplace || a.has("layout"))) {
    usage_error("--inplace and --layout apply to a GGUF file alone, not to a .q4p");
  }
  const std::string gguf_path = with_q4p ? pos[1] : pos[0];
  if (!with_q4p) {
    const std::string l = a.has("layout") ? a.str("layout") : "auto";
    if (l == "all") {
      opt.layouts = {Q4R_LAYOUT_4X4, Q4R_LAYOUT_4X8, Q4R_LAYOUT_8X8};
    } else if (l != "auto") {
      const q4r_layout one = a.layout("layout");
      if (one == Q4R_LAYOUT_PLAIN) usage_error("--layout must be auto, all, 4x4, 4x8 or 8x8");
      opt.layouts = {one};
    }
  }

  const auto t0 = std::chrono::steady_clock::now();
  const q4r_isa active = q4r_active_isa();
  GgufFile g;
  open_gguf(g, gguf_path,
            opt.inplace ? MappedFile::Mode::kCopyOnWrite : MappedFile::Mode::kReadOnly);
  q4r_q4p* pack = nullptr;
  std::unique_ptr<q4r_q4p, void (*)(q4r_q4p*)> pack_owner(nullptr, q4r_q4p_close);
  if (with_q4p) {
    check(q4r_q4p_open(pos[0].c_str(), Q4R_Q4P_VERIFY, &pack), "open");
    pack_owner.reset(pack);
    check(q4r_q4p_check_source(pack, gguf_path.c_str(), Q4R_Q4P_VERIFY), "source check");
  }

  std::printf("validate %s%s%s: isas %s", with_q4p ? pos[0].c_str() : "",
              with_q4p ? " against " : "", gguf_path.c_str(), "");
  for (q4r_isa isa : isas_here()) std::printf("%s ", q4r_isa_name(isa));
  std::printf("(batch %" PRId64 ")\n\n%-36s %-7s %-16s %-12s %9s  %s\n", opt.batch, "tensor",
              "type", "shape", "layouts", "max err", "verdict");

  std::vector<const GgufTensor*> work;
  for (const GgufTensor& t : g.tensors) {
    if (!t.repackable) continue;
    q4r_q4p_tensor pt;
    if (with_q4p && q4r_q4p_find_tensor(pack, std::string(t.name).c_str(), &pt) != Q4R_OK) continue;
    work.push_back(&t);
  }
  RunStats st;
  std::vector<Verdict> verdicts;
  std::vector<std::vector<uint8_t>> kept;
  Progress progress(work.size());
  for (std::size_t ti = 0; ti < work.size(); ++ti) {
    const GgufTensor& t = *work[ti];
    progress.step(ti, t.name);
    Verdict v;
    v.name = std::string(t.name);
    v.type = q4r_type_name(t.q4type);
    v.shape = t.shape_string();
    q4r_q4p_tensor pt{};
    std::vector<q4r_layout> layouts = opt.layouts;
    if (with_q4p) {
      q4r_q4p_find_tensor(pack, v.name.c_str(), &pt);
      layouts = {pt.layout};
    } else if (layouts.empty()) {
      layouts = {q4r_preferred_layout(t.q4type, active)};
    }
    v.layouts = layouts_text(layouts);
    const std::size_t mb = std::size_t(t.nbytes / uint64_t(t.matrices));
    std::mt19937 rng(uint32_t(ti) * 7919u + 1u);
    std::uniform_real_distribution<float> dist(-1.f, 1.f);
    for (int64_t e = 0; e < t.matrices; ++e) {
      const uint8_t* src = t.data + e * mb;
      std::vector<float> x(std::size_t(opt.batch * t.k));
      for (float& f : x) f = dist(rng);
      std::vector<float> ref;
      if (!run(Q4R_ISA_SCALAR, t.q4type, Q4R_LAYOUT_PLAIN, src, mb, t.rows, t.k, x, opt.batch,
               ref)) {
        v.problem = std::string("reference matmul failed: ") + q4r_last_error();
        break;
      }
      const auto scale = term_scale(t.q4type, src, t.rows, t.k, x, opt.batch);
      for (q4r_layout layout : layouts) {
        std::vector<uint8_t> buf;
        const uint8_t* packed;
        if (with_q4p) {
          packed = static_cast<const uint8_t*>(pt.data) + e * pt.matrix_bytes;
        } else if (opt.inplace) {
          // Repack inside the private mapping: only the pages written are copied.
          uint8_t* w = g.writable_bytes() + (src - g.bytes());
          const uint64_t before = checksum64(src, mb);
          check(q4r_context_repack(ctx, t.q4type, layout, w, w, mb, t.rows, t.k),
                "repack in place");
          packed = w;
          // Unpack and repack again in place: the round trip needs no second copy either.
          check(q4r_context_unpack(ctx, t.q4type, layout, w, w, mb, t.rows, t.k),
                "unpack in place");
          if (checksum64(w, mb) != before && v.problem.empty()) {
            v.problem = std::string(q4r_layout_name(layout)) + ": unpack != original bytes";
          }
          check(q4r_context_repack(ctx, t.q4type, layout, w, w, mb, t.rows, t.k),
                "repack in place");
        } else {
          buf.resize(mb);
          check(q4r_context_repack(ctx, t.q4type, layout, src, buf.data(), mb, t.rows, t.k),
                "repack");
          packed = buf.data();
        }
        if (!opt.inplace) {
          std::vector<uint8_t> back(mb);
          check(q4r_context_unpack(ctx, t.q4type, layout, packed, back.data(), mb, t.rows, t.k),
                "unpack");
          if (std::memcmp(back.data(), src, mb) != 0 && v.problem.empty()) {
            v.problem = std::string(q4r_layout_name(layout)) + ": unpack != original bytes";
          }
        }
        check_kernels(v, t.q4type, layout, packed, ref, scale, mb, t.rows, t.k, x, opt.batch);
        if (opt.inplace && layouts.size() > 1) {
          // Back to plain for the next layout.
          uint8_t* w = g.writable_bytes() + (src - g.bytes());
          check(q4r_context_unpack(ctx, t.q4type, layout, w, w, mb, t.rows, t.k),
                "unpack in place");
        }
        if (opt.keep && !buf.empty()) kept.push_back(std::move(buf));
      }
      ++st.matrices;
    }
    st.bytes += t.nbytes;
    ++st.tensors;
    if (!v.problem.empty()) ++st.failed;
    progress.finish();
    print_row(v);
    verdicts.push_back(std::move(v));
  }
  progress.finish();
  q4r_set_isa(active);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("\n%zu tensors (%zu matrices, %" PRIu64
              " bytes) checked in %.2f s: %zu ok, %zu "
              "mismatched\n",
              st.tensors, st.matrices, st.bytes, secs, st.tensors - st.failed, st.failed);
  const long rss = peak_rss_kib();
  if (a.has("report-rss")) {
    std::printf("peak RSS %.1f MiB, file %.1f MiB: %.2fx the file (%s)\n", rss / 1024.0,
                g.size() / 1048576.0, rss * 1024.0 / double(std::max<std::size_t>(g.size(), 1)),
                opt.inplace ? "in place, copy-on-write mapping"
                : opt.keep  ? "read-only mapping + repacked copies kept"
                            : "read-only mapping + one copy at a time");
  }
  if (a.has("json")) {
    std::string j = "{\n  \"file\": " + json_quote(gguf_path) +
                    (with_q4p ? ",\n  \"q4p\": " + json_quote(pos[0]) : std::string()) +
                    ",\n  \"batch\": " + std::to_string(opt.batch) + ",\n  \"isas\": [";
    bool first = true;
    for (q4r_isa isa : isas_here()) {
      j += std::string(first ? "" : ", ") + json_quote(q4r_isa_name(isa));
      first = false;
    }
    j += "],\n  \"tensors\": [\n";
    for (std::size_t i = 0; i < verdicts.size(); ++i) {
      const Verdict& v = verdicts[i];
      char err[40];
      std::snprintf(err, sizeof err, "%.3e", v.max_err);
      j += "    {\"name\": " + json_quote(v.name) + ", \"type\": " + json_quote(v.type) +
           ", \"shape\": " + v.shape + ", \"layouts\": " + json_quote(v.layouts) +
           ", \"max_rel_err\": " + err + ", \"ok\": " + (v.problem.empty() ? "true" : "false") +
           ", \"problem\": " + json_quote(v.problem) + "}" +
           (i + 1 < verdicts.size() ? ",\n" : "\n");
    }
    j += "  ],\n  \"ok\": " + std::to_string(st.tensors - st.failed) +
         ",\n  \"mismatched\": " + std::to_string(st.failed) +
         ",\n  \"seconds\": " + std::to_string(secs) +
         ",\n  \"peak_rss_kib\": " + std::to_string(rss) +
         ",\n  \"file_bytes\": " + std::to_string(g.size()) + "\n}\n";
    write_text(a.str("json"), j);
  }
  return st.failed ? kExitMismatch : kExitOk;
}

}  // namespace q4r::cli
