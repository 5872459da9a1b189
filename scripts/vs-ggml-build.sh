#!/usr/bin/env bash
# Configures and builds bench/q4repack_vs_ggml (Release) in build/vs-ggml against the GGML snapshot
# in ../shared/third_party/ggml (override: Q4R_GGML_DIR=/path). Used by bench-vs-ggml.sh and
# test-ggml.sh. GGML's CPU backend takes ~45 s on 2 cores the first time; later builds are
# incremental.
set -euo pipefail
cd "$(dirname "$0")/.."
ggml_dir=${Q4R_GGML_DIR:-$(cd .. && pwd)/shared/third_party/ggml}
if [ ! -f "$ggml_dir/include/ggml.h" ]; then
  echo "vs-ggml: no GGML source tree at $ggml_dir (set Q4R_GGML_DIR)" >&2
  exit 1
fi
cmake -S . -B build/vs-ggml -G Ninja -DCMAKE_BUILD_TYPE=Release -DQ4R_GGML_DIR="$ggml_dir" \
  -DQ4R_BUILD_TESTS=OFF -DQ4R_BUILD_BENCH=OFF -DQ4R_BUILD_TOOLS=OFF -DQ4R_BUILD_EXAMPLES=OFF \
  >/dev/null
# GGML's own sources print compiler notes; keep only our errors readable.
cmake --build build/vs-ggml -j2 --target q4repack_vs_ggml >build/vs-ggml/build.log 2>&1 || {
  grep -E "error|Error" build/vs-ggml/build.log | head -40 >&2
  echo "vs-ggml: build failed (build/vs-ggml/build.log)" >&2
  exit 1
}
echo build/vs-ggml/bench/q4repack_vs_ggml
