// `q4repack bench`: the plain (un-repacked) baseline against repacked layouts on a list of weight
// shapes, with the machine's measured memory bandwidth as the yardstick. The shape list is an
// input, so any source of shapes (the embedded 8B layer, a GGUF file) reuses the whole run.
#ifndef Q4R_TOOLS_BENCH_RUNNER_H_
#define Q4R_TOOLS_BENCH_RUNNER_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "q4repack/q4repack.h"

namespace q4r::bench {

// One weight matrix shape: n rows (output features) of k values, used `count` times per layer.
struct BenchShape {
  std::string name;
  int64_t n;
  int64_t k;
  int count;
};

struct BenchOptions {
  std::vector<int> threads{1};
  std::vector<int> batches{1, 16, 512};
  std::vector<q4r_type> types{Q4R_TYPE_Q4_0};
  bool all_layouts = false;                 // every packed layout, not only q4r_preferred_layout
  std::string json_path;                    // "" = no JSON
  std::string source = "default 8B layer";  // where the shapes came from, for the report
  double cell_seconds = 0.25;  // time budget of one measurement (at least 3 timed calls)
  bool whole_model = false;    // the shapes are every matrix of a model: report tokens/s
  // Layouts a file already stores weights in (legacy pre-repacked GGUF types): measured too, as
  // they run with no repack at load.
  std::vector<std::pair<q4r_type, q4r_layout>> stored_layouts;
};

// One transformer layer of an 8B Llama-style model (hidden 4096, 8 KV heads of 128, FFN 14336).
std::vector<BenchShape> default_model_shapes();

// Runs the benchmark, prints the report on stdout, writes JSON if asked. Returns 0.
int run_bench(const std::vector<BenchShape>& shapes, const BenchOptions& options);

}  // namespace q4r::bench

#endif  // Q4R_TOOLS_BENCH_RUNNER_H_
