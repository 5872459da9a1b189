#!/usr/bin/env bash
# ThreadSanitizer: builds the `tsan` preset (clang -fsanitize=thread) and runs the tests that
# exercise threads (thread pool, threaded matmul, contexts and hooks, MoE) and the example engine
# on its own pool. Any report fails the run (halt_on_error).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake --preset tsan >/dev/null
cmake --build --preset tsan --target q4repack_tests ffn_engine
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
# clang 14's TSan cannot map its shadow under the newest kernels' high ASLR entropy; running
# without address randomization sidesteps that ("unexpected memory mapping").
run() {
  if setarch "$(uname -m)" -R true 2>/dev/null; then
    setarch "$(uname -m)" -R "$@"
  else
    "$@"
  fi
}
run build/tsan/tests/q4repack_tests \
  --gtest_filter='ThreadPool.*:ColumnChunks.*:ThreadedMatmul.*:Context*.*:Moe*.*'
run build/tsan/examples/ffn_engine --check --scale 32 --layers 2 --prompt 9 --tokens 2 --threads 3
echo "tsan: clean"
