#!/usr/bin/env bash
# Every test: install dependencies, then the layer check (scripts/check-layers.sh, seconds), the
# native Release suite, the ASan+UBSan suite, and each further suite script (x86 under qemu,
# aarch64 under qemu, install/consumer, Python, TSan, fuzzing, the cross-check against GGML).
# Ends with one "N passed, N failed" line over the suites; exits non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh || exit 1

passed=0
failed=0
failed_names=()
suite() {
  local name=$1
  shift
  echo "=== suite: $name"
  local t0=$SECONDS
  if "$@"; then
    passed=$((passed + 1))
    echo "=== suite $name: ok ($((SECONDS - t0)) s)"
  else
    failed=$((failed + 1))
    failed_names+=("$name")
    echo "=== suite $name: FAILED ($((SECONDS - t0)) s)"
  fi
}
workflow() { cmake --workflow --preset "$1"; }

suite layers scripts/check-layers.sh
suite native workflow release
suite asan-ubsan workflow asan
for s in x86-qemu arm64 install python tsan fuzz ggml; do
  [ -x "scripts/test-$s.sh" ] && suite "$s" "scripts/test-$s.sh"
done

echo "suites: ${failed_names[*]:-none} failed"
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
