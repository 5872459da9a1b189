#!/usr/bin/env bash
# The native x86 test binary under qemu-x86_64 CPU models without the newer ISAs:
#   Nehalem (SSE4.2, no AVX2): the dispatcher must pick scalar and nothing may execute AVX;
#   Haswell (AVX2 + FMA + F16C, no AVX-512): the dispatcher must pick avx2.
# A SIGILL anywhere (e.g. an AVX-512 copy of an inline function picked by the linker for baseline
# code, TOOLCHAIN.md section 3) fails the run. qemu has no AVX-512 and no AVX-VNNI at all; the
# AVX-512 kernels (the 256-bit file and the 512-bit one layered over it) are covered by their
# SIMDe-emulated copies inside the test binary (which run here too); the AVX-VNNI file is the same
# 256-bit VNNI template (tested natively where the CPU has AVX-VNNI).
# Builds build/release only if it is missing. Q4R_TEST_QUICK=1 keeps each run well under 2 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

build=${Q4R_BUILD_DIR:-build/release}
if [ ! -x "$build/tests/q4repack_tests" ] || [ ! -x "$build/tools/q4repack" ]; then
  cmake --preset release
  cmake --build --preset release
fi
if ! command -v qemu-x86_64 >/dev/null; then
  echo "test-x86-qemu: qemu-x86_64 not found (Debian package qemu-user)" >&2
  exit 1
fi
case "$(uname -m)" in
  x86_64) ;;
  *) echo "test-x86-qemu: not an x86-64 build host; skipped"; exit 0 ;;
esac

status=0
run_model() {
  local model=$1 want_isa=$2
  echo "--- qemu-x86_64 -cpu $model (expect isa $want_isa)"
  local info
  if ! info=$(qemu-x86_64 -cpu "$model" "$build/tools/q4repack" info 2>/dev/null); then
    echo "FAILED: q4repack info died under -cpu $model" >&2
    status=1
    return
  fi
  local selected
  selected=$(printf '%s\n' "$info" | awk -F: '/^isa selected/ {print $2}' | awk '{print $1}')
  if [ "$selected" != "$want_isa" ]; then
    echo "FAILED: -cpu $model selected '$selected', expected '$want_isa'" >&2
    status=1
  fi
  local t0=$SECONDS
  # stderr is dropped: qemu's TCG prints harmless warnings about unsupported CPUID bits.
  # ToolTest is left out: it spawns the q4repack CLI, which runs natively, outside the emulated
  # CPU (and would see ISAs the emulated test process does not).
  if Q4R_TEST_QUICK=1 timeout 600 qemu-x86_64 -cpu "$model" "$build/tests/q4repack_tests" \
    --gtest_brief=1 --gtest_filter='-ToolTest.*' 2>/dev/null | grep -E -A 20 '^\[  FAILED|^\[=+\] [0-9]+ tests'; then
    echo "--- -cpu $model: passed ($((SECONDS - t0)) s)"
  else
    echo "FAILED: test binary under -cpu $model ($((SECONDS - t0)) s)" >&2
    status=1
  fi
}

run_model Nehalem scalar
run_model Haswell avx2
exit $status
