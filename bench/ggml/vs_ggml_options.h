// Command line of q4repack_vs_ggml (see usage() in vs_ggml_options.cc).
#ifndef Q4R_BENCH_GGML_VS_GGML_OPTIONS_H_
#define Q4R_BENCH_GGML_VS_GGML_OPTIONS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "q4repack/q4repack.h"

namespace q4r::bench {

// One weight shape timed at one batch size; `cold`: the weights come from DRAM.
struct CaseSpec {
  int64_t n, k, m;
  bool cold;
};

struct Options {
  bool check = false;  // cross-check mode instead of timing
  std::vector<q4r_type> types{Q4R_TYPE_Q4_0, Q4R_TYPE_IQ4_NL};
  std::vector<int> threads{1, 2};
  std::vector<CaseSpec> cases;  // filled from --gemv / --gemm / --m (defaults in parse_options)
  std::vector<q4r_isa> isas;    // ours: each available ISA listed (default: the active one)
  bool all_layouts = false;     // ours: every layout, not only plain + preferred
  double seconds = 1.5;         // timing budget per case (all variants together)
  int min_rounds = 3;
  // Cold cases: each variant cycles through copies of its weights totalling at least this much.
  // Not 4x the LLC: this VM reports a 508 MiB L3 (the whole socket's; a Zen 5 core reaches the
  // 32 MiB of its CCD), and 4x that for each of 4-10 variants would not fit in memory.
  int64_t cold_mib = 512;
  std::string json_path;
  std::string note;  // free text recorded in the JSON (the script passes the commit)
};

// Parses argv; prints usage and exits on --help or bad input.
Options parse_options(int argc, char** argv);

}  // namespace q4r::bench

#endif  // Q4R_BENCH_GGML_VS_GGML_OPTIONS_H_
