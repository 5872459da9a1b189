#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan, the library instrumented too) and runs each
# for a bounded time on a copy of its seed corpus (tests/corpus/<target>). Any crash, leak,
# sanitizer report or timeout fails the run. FUZZ_SECONDS (default 60) sets the time per target.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
build=build/fuzz
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DQ4R_BUILD_FUZZ=ON -DQ4R_BUILD_TESTS=OFF -DQ4R_BUILD_BENCH=OFF -DQ4R_BUILD_TOOLS=OFF \
  -DQ4R_BUILD_EXAMPLES=OFF \
  "-DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -gdwarf-4" \
  "-DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all" \
  "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined" >/dev/null || exit 1
cmake --build "$build" -j 2 --target q4r_fuzz_gguf q4r_fuzz_q4p q4r_fuzz_api || exit 1

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
for t in gguf q4p api; do
  mkdir -p "$work/$t"
  cp tests/corpus/$t/* "$work/$t/"
  log="$work/$t.log"
  echo "--- fuzz $t: ${seconds} s"
  (cd "$work" && "$OLDPWD/$build/fuzz/q4r_fuzz_$t" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 "$work/$t") >"$log" 2>&1
  rc=$?
  runs=$(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1)
  execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$')
  if [ $rc -ne 0 ]; then
    echo "fuzz $t: FAILED (exit $rc)"
    grep -E 'ERROR|SUMMARY|==[0-9]+==|Test unit written' "$log" | head -20
    tail -30 "$log"
    # The failing inputs outlive the temporary folder: kept in build/fuzz/crashes and printed
    # (base64, at most 8 KiB each), so a failure on a CI machine can be replayed anywhere:
    # base64 -d > x && build/fuzz/fuzz/q4r_fuzz_<target> x
    mkdir -p "$build/crashes"
    for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
      [ -f "$f" ] || continue
      cp "$f" "$build/crashes/$t-$(basename "$f")"
      echo "input $t-$(basename "$f") (base64): $(base64 -w0 "$f")"
    done
    status=1
  else
    echo "fuzz $t: ok, ${execs:-?} executions (${runs:-no summary}), crashes 0"
  fi
done
exit $status
