#!/usr/bin/env bash
# Configures and builds bench/q4repack_vs_ggml (Release) in build/vs-ggml against the GGML snapshot
# in ../shared/third_party/ggml (override: Q4R_GGML_DIR=/path). Used by bench-vs-ggml.sh and
# test-ggml.sh. GGML's CPU backend takes ~45 s on 2 cores the first time; later builds are
# incremental. Q4R_GGML_ISA=avx2 builds GGML for an AVX2-only CPU instead of natively, into
# build/vs-ggml-avx2 (the yardstick for our avx2 kernels: run it with --isas avx2).
set -euo pipefail
cd "$(dirname "$0")/.."
ggml_dir=${Q4R_GGML_DIR:-$(cd .. && pwd)/shared/third_party/ggml}
if [ ! -f "$ggml_dir/include/ggml.h" ]; then
  echo "vs-ggml: no GGML source tree at $ggml_dir (set Q4R_GGML_DIR)" >&2
  exit 1
fi
isa=${Q4R_GGML_ISA:-native}
dir=build/vs-ggml
[ "$isa" = native ] || dir=build/vs-ggml-$isa
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DQ4R_GGML_DIR="$ggml_dir" \
  -DQ4R_GGML_ISA="$isa" \
  -DQ4R_BUILD_TESTS=OFF -DQ4R_BUILD_BENCH=OFF -DQ4R_BUILD_TOOLS=OFF -DQ4R_BUILD_EXAMPLES=OFF \
  >/dev/null
# GGML's own sources print compiler notes; keep only our errors readable.
cmake --build "$dir" -j2 --target q4repack_vs_ggml >"$dir/build.log" 2>&1 || {
  grep -E "error|Error" "$dir/build.log" | head -40 >&2
  echo "vs-ggml: build failed ($dir/build.log)" >&2
  exit 1
}
echo "$dir/bench/q4repack_vs_ggml"
