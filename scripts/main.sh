#!/usr/bin/env bash
# The main job: install dependencies, build (Release), then show what this machine has and
# validate every kernel here against the scalar reference on model-shaped weights, and benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release
Q4R=build/release/tools/q4repack
"$Q4R" info
"$Q4R" validate
if "$Q4R" bench --help >/dev/null 2>&1; then "$Q4R" bench; fi
