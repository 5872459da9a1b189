#!/usr/bin/env bash
# q4repack against GGML in one process: builds bench/q4repack_vs_ggml with the GGML snapshot in
# ../shared/third_party/ggml and times GGML plain, GGML CPU_REPACK, our plain and our preferred
# layout alternately (docs/PERFORMANCE.md, "Against GGML, same run"). Arguments go to the binary
# (--help lists them; e.g. --all-isas, --threads 1, --seconds 5). Writes the table to stdout and
# build/vs-ggml/vs-ggml.json, and the chart build/vs-ggml/vs-ggml.png (gnuplot) from it.
# Q4R_GGML_ISA=avx2 compares against GGML built for an AVX2-only CPU (build/vs-ggml-avx2).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(scripts/vs-ggml-build.sh)
out=$(dirname "$(dirname "$bin")")  # build/vs-ggml, or build/vs-ggml-avx2 with Q4R_GGML_ISA=avx2
json=$out/vs-ggml.json
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || commit="$commit+changes"
"$bin" --json "$json" --note "commit $commit" "$@"
if command -v gnuplot >/dev/null; then
  scripts/plot_vs_ggml.py "$json" "$out/vs-ggml.png"
fi
