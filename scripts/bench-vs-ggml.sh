#!/usr/bin/env bash
# q4repack against GGML in one process: builds bench/q4repack_vs_ggml with the GGML snapshot in
# ../shared/third_party/ggml and times GGML plain, GGML CPU_REPACK, our plain and our preferred
# layout alternately (docs/PERFORMANCE.md, "Against GGML, same run"). Arguments go to the binary
# (--help lists them; e.g. --all-isas, --threads 1, --seconds 5). Writes the table to stdout and
# build/vs-ggml/vs-ggml.json, and the chart build/vs-ggml/vs-ggml.png (gnuplot) from it.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(scripts/vs-ggml-build.sh)
json=build/vs-ggml/vs-ggml.json
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || commit="$commit+changes"
"$bin" --json "$json" --note "commit $commit" "$@"
if command -v gnuplot >/dev/null; then
  scripts/plot_vs_ggml.py "$json" build/vs-ggml/vs-ggml.png
fi
