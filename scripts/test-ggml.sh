#!/usr/bin/env bash
# The live reference beside the golden files: builds q4repack_vs_ggml against the GGML snapshot
# (../shared/third_party/ggml) and cross-checks our outputs with GGML's CPU backend (plain and
# CPU_REPACK) on small shapes, for every type, layout and ISA available here, within the bound of
# docs/KERNELS.md; also that GGML's repacked bytes equal ours. Fails on any mismatch.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(scripts/vs-ggml-build.sh)
"$bin" --check
