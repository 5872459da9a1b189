// q4repack bench: the plain baseline against repacked layouts on model-shaped weights, with this
// machine's memory bandwidth as the yardstick (the measurement itself is in bench_runner.cc).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench_runner.h"
#include "cli.h"
#include "file_tool_util.h"
#include "lib/file/gguf.h"

using namespace q4r::cli;

namespace {

// "1,16,512" -> {1, 16, 512}, each in [lo, hi].
std::vector<int> int_list(const std::string& option, const std::string& text, int lo, int hi) {
  std::vector<int> out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t end = std::min(text.find(',', pos), text.size());
    const std::string item = text.substr(pos, end - pos);
    char* stop = nullptr;
    const long v = std::strtol(item.c_str(), &stop, 10);
    if (item.empty() || *stop != '\0' || v < lo || v > hi) {
      usage_error("--%s: '%s' is not a list of integers in [%d, %d]", option.c_str(), text.c_str(),
                  lo, hi);
    }
    out.push_back(static_cast<int>(v));
    pos = end + 1;
  }
  return out;
}

// "4096x4096,1024x4096" -> shapes named by their dimensions, once each.
std::vector<q4r::bench::BenchShape> parse_shapes(const std::string& text) {
  std::vector<q4r::bench::BenchShape> out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t end = std::min(text.find(',', pos), text.size());
    const std::string item = text.substr(pos, end - pos);
    long long n = 0, k = 0;
    char extra = 0;
    if (std::sscanf(item.c_str(), "%lldx%lld%c", &n, &k, &extra) != 2 || n <= 0 || k <= 0 ||
        k % 32 != 0 || n > (1 << 20) || k > (1 << 20)) {
      usage_error("--shapes: '%s' is not NxK with N, K positive, K a multiple of 32", item.c_str());
    }
    out.push_back({item, n, k, 1});
    pos = end + 1;
  }
  return out;
}

// The distinct Q4_0 / IQ4_NL matrix shapes of a GGUF file, each with how often it occurs, and the
// types present (a file normally has one weight type).
std::vector<q4r::bench::BenchShape> gguf_shapes(const std::string& path,
                                                std::vector<q4r_type>* types) {
  q4r::GgufFile file;
  open_gguf(file, path);  // the reader's message names the file
  std::vector<q4r::bench::BenchShape> out;
  types->clear();
  for (const q4r::GgufWeightShape& s : q4r::gguf_weight_shapes(file)) {
    if (std::find(types->begin(), types->end(), s.type) == types->end()) types->push_back(s.type);
    const std::string name = std::to_string(s.rows) + "x" + std::to_string(s.k);
    auto same = std::find_if(out.begin(), out.end(), [&](const q4r::bench::BenchShape& b) {
      return b.n == s.rows && b.k == s.k;
    });
    if (same != out.end()) {
      same->count += static_cast<int>(s.count);
    } else {
      out.push_back({name, s.rows, s.k, static_cast<int>(s.count)});
    }
  }
  if (out.empty())
    input_error("%s has no Q4_0 or IQ4_NL weight matrices to benchmark", path.c_str());
  return out;
}

}  // namespace

int cmd_bench(int argc, char** argv) {
  const Args a =
      ArgParser("bench",
                "[FILE.gguf] [--threads LIST] [--batch LIST] [--type q4_0|iq4_nl|all]\n"
                "                      [--all-layouts] [--json FILE]",
                "Measures this machine's memory read bandwidth, then Y = X * W^T through the\n"
                "public API on the weight shapes of one 8B-model layer (4096x4096, 1024x4096,\n"
                "14336x4096, 4096x14336): the plain (un-repacked) baseline against the preferred\n"
                "repacked layout of the active ISA (every layout with --all-layouts). Reports\n"
                "time per call, GB/s of weights and % of the measured bandwidth (M <= 4), GOPS\n"
                "(2*M*N*K/s) and the speedup over the baseline. M <= 4 uses cold weights (rotated\n"
                "copies larger than the L3 cache); M = 1 is also shown warm. About a minute with\n"
                "the defaults. Q4REPACK_ISA=<isa> selects another instruction set.\n"
                "With FILE.gguf: the file's distinct Q4_0/IQ4_NL weight shapes, weighted by how\n"
                "often each occurs, ending with an estimate of decode and prefill tokens/s of the\n"
                "model's matmuls on this machine, plain vs repacked.")
          .option("threads", "comma-separated thread counts (default 1), e.g. 1,2")
          .option("batch", "comma-separated batch sizes M (default 1,16,512)")
          .option("type", "q4_0, iq4_nl or all (default q4_0)")
          .flag("all-layouts", "measure 4x4, 4x8 and 8x8, not only the preferred layout")
          .option("json",
                  "also write every measurement to FILE as JSON (for scripts/plot_bench.py)")
          .option("shapes",
                  "comma-separated NxK weight shapes instead of the 8B layer, e.g. 4096x4096")
          .option("seconds", "time budget of one measurement in seconds (default 0.25)")
          .positionals(0, 1, "FILE.gguf")
          .parse(argc, argv);
  q4r::bench::BenchOptions o;
  if (a.has("threads")) o.threads = int_list("threads", a.str("threads"), 1, 256);
  if (a.has("batch")) o.batches = int_list("batch", a.str("batch"), 1, 65536);
  if (a.has("type")) {
    const std::string& t = a.str("type");
    if (t == "all") {
      o.types = {Q4R_TYPE_Q4_0, Q4R_TYPE_IQ4_NL};
    } else {
      const q4r_type type = a.type("type");
      if (type == Q4R_TYPE_Q8_0) usage_error("--type must be q4_0, iq4_nl or all");
      o.types = {type};
    }
  }
  o.all_layouts = a.has("all-layouts");
  if (a.has("json")) o.json_path = a.str("json");
  if (a.has("seconds")) {
    char* stop = nullptr;
    o.cell_seconds = std::strtod(a.str("seconds").c_str(), &stop);
    if (*stop != '\0' || !(o.cell_seconds >= 0 && o.cell_seconds <= 60)) {
      usage_error("--seconds must be a number between 0 and 60");
    }
  }
  std::vector<q4r::bench::BenchShape> shapes = q4r::bench::default_model_shapes();
  if (a.has("shapes")) {
    shapes = parse_shapes(a.str("shapes"));
    o.source = "--shapes " + a.str("shapes");
  }
  if (!a.positional().empty()) {
    if (a.has("shapes")) usage_error("give either FILE.gguf or --shapes, not both");
    std::vector<q4r_type> file_types;
    shapes = gguf_shapes(a.positional()[0], &file_types);
    if (!a.has("type")) o.types = file_types;
    o.source = a.positional()[0];
    o.whole_model = true;
  }
  return q4r::bench::run_bench(shapes, o);
}
