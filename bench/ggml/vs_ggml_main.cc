// q4repack_vs_ggml: q4repack and GGML's CPU backend in one process, on the same weight bytes and
// activations: timed alternately (default), or cross-checked (--check). See
// scripts/bench-vs-ggml.sh and docs/PERFORMANCE.md ("Against GGML, same run").
#include "vs_ggml_modes.h"
#include "vs_ggml_options.h"

int main(int argc, char** argv) {
  const q4r::bench::Options o = q4r::bench::parse_options(argc, argv);
  return o.check ? q4r::bench::run_check(o) : q4r::bench::run_bench(o);
}
