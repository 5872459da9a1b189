#!/usr/bin/env bash
# Static speed check of the ARM kernels without ARM hardware (docs/ARM.md, "Static speed check").
# Cross-compiles our ARM kernel files (each with exactly its CMake flags, -O3 as in Release) and
# GGML's ARM repack file (../shared/third_party/ggml, compiled only, never linked), finds each
# kernel's hot K-loop in the disassembly and runs llvm-mca-19 on it for Neoverse N1/N2/V1/V2.
# Prints `ARM-SPEED <cpu> <kernel> ours=.. ggml=.. ratio=..` lines (cycles per 1k int8 MACs) and,
# with --markdown, a table for the docs. A model, not a measurement: see docs/ARM.md.
#
#   scripts/arm-speed.sh [--markdown] [--cpus neoverse-n1,neoverse-v1]
#   GGML_DIR=/path/to/ggml scripts/arm-speed.sh     (default: ../shared/third_party/ggml)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
for tool in aarch64-linux-gnu-g++ aarch64-linux-gnu-objdump llvm-mca-19 python3; do
  command -v "$tool" >/dev/null || {
    echo "arm-speed: $tool missing (scripts/install-deps.sh)" >&2
    exit 1
  }
done
out=${ARM_SPEED_DIR:-build/arm-speed}
mkdir -p "$out"
ggml=${GGML_DIR:-$root/../shared/third_party/ggml}

cxx=(aarch64-linux-gnu-g++ -std=c++17 -O3 -DNDEBUG -I "$root" -I "$root/kernels")
# Per-level flags: the same as cmake/Q4rKernels.cmake (checked below, so they cannot drift).
declare -A flags=(
  [neon]="-march=armv8-a -fno-schedule-insns"
  [dotprod]="-march=armv8.2-a+dotprod -fno-schedule-insns"
  [i8mm]="-march=armv8.2-a+dotprod+i8mm -fno-schedule-insns"
  [sve256]="-march=armv8.2-a+dotprod+i8mm+sve -msve-vector-bits=256 -fno-schedule-insns"
)
compile() {  # name flags source... (at most 2 compilers at once: the machine is shared)
  local name=$1 f=$2
  shift 2
  # Up to date (newer than the source and everything our kernel files include): keep it.
  if [ -f "$out/$name.dis" ] && [ -z "$(find "$@" kernels/arm kernels/kernel_table.h lib/format/formats.h \
    "$0" -newer "$out/$name.dis" 2>/dev/null)" ]; then
    return 0
  fi
  while [ "$(jobs -rp | wc -l)" -ge 2 ]; do wait -n; done
  "${cxx[@]}" $f -c "$@" -o "$out/$name.o" && aarch64-linux-gnu-objdump -d -C --no-show-raw-insn \
    "$out/$name.o" >"$out/$name.dis"
}
ours=()
for level in neon dotprod i8mm sve256; do
  src=kernels/arm/kernels_$level.cc
  [ -f "$src" ] || continue
  # (the cmake call may wrap: compare with newlines and indentation squeezed to one space)
  tr -s ' \n' ' ' <cmake/Q4rKernels.cmake | grep -qF "arm $level ${flags[$level]})" || {
    echo "arm-speed: flags for $level differ from cmake/Q4rKernels.cmake" >&2
    exit 1
  }
  compile "$level" "${flags[$level]}" "$src" &
  ours+=("$level=$out/$level.dis")
done
ggml_args=()
if [ -f "$ggml/src/ggml-cpu/arch/arm/repack.cpp" ]; then
  ginc=(-I "$ggml/include" -I "$ggml/src" -I "$ggml/src/ggml-cpu")
  compile ggml_dp "-march=armv8.2-a+dotprod+i8mm+fp16 ${ginc[*]}" \
    "$ggml/src/ggml-cpu/arch/arm/repack.cpp" &
  compile ggml_sve "-march=armv8.2-a+dotprod+i8mm+fp16+sve ${ginc[*]}" \
    "$ggml/src/ggml-cpu/arch/arm/repack.cpp" &
  ggml_args=(--ggml "dp=$out/ggml_dp.dis" "sve=$out/ggml_sve.dis")
else
  echo "arm-speed: no GGML snapshot at $ggml; printing ours only" >&2
fi
wait
python3 scripts/arm_speed.py --ours "${ours[@]}" "${ggml_args[@]}" "$@"
