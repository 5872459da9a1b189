#!/usr/bin/env bash
# The aarch64 suite: makes the arm64 dependency sysroot if missing, cross-builds the arm64 preset
# and runs the whole test suite under qemu-aarch64 on three emulated CPUs:
#   cortex-a72  ARMv8.0 NEON only    -> neon kernels (dotprod/i8mm tests skip)
#   neoverse-n1 NEON + dotprod       -> neon and dotprod kernels
#   max         dotprod + i8mm + SVE -> every ARM kernel
# A kernel the emulated CPU lacks is never dispatched; if one runs anyway, qemu dies with SIGILL
# and the run fails. Q4R_TEST_QUICK=1 (set by the arm64 test preset) keeps emulated shapes small.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/make-arm64-sysroot.sh
cmake --preset arm64
cmake --build --preset arm64

cli=build/arm64/tools/q4repack
status=0
for cpu in cortex-a72 neoverse-n1 max; do
  echo "=== arm64: QEMU_CPU=$cpu"
  if [ -x "$cli" ]; then
    QEMU_CPU=$cpu qemu-aarch64 -L /usr/aarch64-linux-gnu "$cli" info | grep -E "active isa|asimd|i8mm" || status=1
  fi
  QEMU_CPU=$cpu ctest --preset arm64 || status=1
done
exit $status
