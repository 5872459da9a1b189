// Results of the timing mode: the Markdown table on stdout (one row per case, printed as it is
// measured) and the JSON file.
#ifndef Q4R_BENCH_GGML_VS_GGML_REPORT_H_
#define Q4R_BENCH_GGML_VS_GGML_REPORT_H_

#include <string>
#include <vector>

#include "ggml_matmul.h"
#include "q4repack/q4repack.h"
#include "vs_ggml_options.h"

namespace q4r::bench {

struct Measurement {
  std::string engine;   // "ggml" or "q4repack"
  std::string isa;      // ours: q4r_isa_name; GGML: "native" (its -march=native build)
  std::string layout;   // ours: q4r_layout_name; GGML: "plain" or "repack"
  bool chosen = false;  // ours: q4r_preferred_layout of the type on that ISA
  std::string column;   // table column
  int calls = 0;
  double min_s = 0, median_s = 0;
  double gbps = 0;  // weight bytes / fastest call
  double gops = 0;  // 2*M*N*K / fastest call
  static Measurement ggml(GgmlPlacement p);
  static Measurement ours(q4r_isa isa, q4r_layout layout, q4r_type type);
};

class Report {
 public:
  explicit Report(const Options& o);
  // One case: prints its table row (the header before the first).
  void add_row(q4r_type type, const CaseSpec& c, int threads, const std::vector<Measurement>& row);
  // Writes the JSON file if asked; returns the exit code.
  int finish();

 private:
  const Options& o_;
  std::vector<std::string> columns_;
  std::string json_rows_;
};

}  // namespace q4r::bench

#endif  // Q4R_BENCH_GGML_VS_GGML_REPORT_H_
