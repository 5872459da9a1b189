#!/usr/bin/env bash
# The aarch64 suite: makes the arm64 dependency sysroot if missing, cross-builds the arm64 preset
# and runs the whole test suite under qemu-aarch64 on three emulated CPUs:
#   cortex-a72  ARMv8.0 NEON only    -> neon kernels (dotprod/i8mm tests skip)
#   neoverse-n1 NEON + dotprod       -> neon and dotprod kernels
#   max         dotprod + i8mm + SVE -> every ARM kernel but sve256 (qemu's SVE is 512 bits here)
#   max,sve256=on,sve-default-vector-length=32
#               SVE with a 256-bit vector length -> the sve256 kernels too (dispatched)
# A kernel the emulated CPU lacks is never dispatched; if one runs anyway, qemu dies with SIGILL
# and the run fails. Q4R_TEST_QUICK=1 (set by the arm64 test preset) keeps emulated shapes small.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/make-arm64-sysroot.sh
cmake --preset arm64
cmake --build --preset arm64

cli=build/arm64/tools/q4repack
status=0
for cpu in cortex-a72 neoverse-n1 max max,sve256=on,sve-default-vector-length=32; do
  echo "=== arm64: QEMU_CPU=$cpu"
  if [ -x "$cli" ]; then
    QEMU_CPU=$cpu qemu-aarch64 -L /usr/aarch64-linux-gnu "$cli" info | grep -E "^features|isa selected" || status=1
  fi
  QEMU_CPU=$cpu ctest --preset arm64 || status=1
done

# Benchmark smoke: the aarch64 bench binary runs every ARM level's kernels on a small shape.
# Timings under emulation say nothing about real hardware (docs/ARM.md); this only proves it runs.
bench=build/arm64/bench/q4repack_bench
if [ -x "$bench" ]; then
  echo "=== arm64: benchmark smoke (QEMU_CPU=max)"
  QEMU_CPU=max qemu-aarch64 -L /usr/aarch64-linux-gnu "$bench" \
    --benchmark_filter='^kernel/.*/q4_0/.*/512x1024/m:(1|4)/warm' --benchmark_min_time=0.01 ||
    status=1
fi
exit $status
