#!/usr/bin/env bash
# The layer check (docs/ARCHITECTURE.md): every `#include "..."` of our own code must point at a
# folder the including file's layer may use. Prints each offending file:line and exits 1.
# Cheap (grep over the tree, no build), so scripts/test.sh runs it first.
#
#   layer (folder of the including file)  may include (besides system / third-party <...> headers)
#   include/q4repack/                     include/
#   lib/format/                           lib/format/, include/ (the public enums); no SIMD/IO/threads
#   kernels/                              kernels/, lib/format/
#   lib/run/                              lib/run/, lib/format/, lib/error.h, kernels/kernel_table.h, include/
#   lib/file/                             lib/file/, lib/format/, lib/error.h, include/
#   lib/ (api.cc, error.*)                lib/, kernels/kernel_table.h, include/
#   bench/harness/                        bench/harness/, include/ (public API only)
#   bench/                                bench/, include/, lib/run/dispatch.h (the ISA list)
#   tools/                                tools/, bench/harness/, include/, lib/file/, lib/format/,
#                                         lib/run/dispatch.h
#   fuzz/                                 include/, lib/file/
#   examples/                             include/
#   tests/                                anything but tools/ and bench/ (the tool is run, not linked)
set -uo pipefail
cd "$(dirname "$0")/.."

# Sets $rules to the allowed include prefixes (paths from the repository root) for the file at $1.
allowed() {
  case $1 in
    include/*) rules="include/" ;;
    lib/format/*) rules="lib/format/ include/" ;;
    kernels/*) rules="kernels/ lib/format/" ;;
    lib/run/*) rules="lib/run/ lib/format/ lib/error.h kernels/kernel_table.h include/" ;;
    lib/file/*) rules="lib/file/ lib/format/ lib/error.h include/" ;;
    lib/*) rules="lib/ kernels/kernel_table.h include/" ;;
    bench/harness/*) rules="bench/harness/ include/" ;;
    bench/*) rules="bench/ include/ lib/run/dispatch.h" ;;
    tools/*) rules="tools/ bench/harness/ include/ lib/file/ lib/format/ lib/run/dispatch.h" ;;
    fuzz/*) rules="include/ lib/file/" ;;
    examples/*) rules="include/" ;;
    tests/*) rules="tests/ include/ lib/ kernels/" ;;
    *) rules="" ;;
  esac
}

# System headers the format layer must not use: it is plain C++ (no SIMD, no I/O, no threads).
format_forbidden='<(thread|mutex|atomic|condition_variable|future|fstream|iostream|cstdio|stdio\.h|unistd\.h|sys/[a-z_]+\.h|[a-z0-9]*intrin\.h|arm_neon\.h|xsimd/[^>]*|cpu_features[^>]*)>'

# Where a quoted include resolves, in the compiler's order: the including file's folder, then the
# include directories (repository root, kernels/, include/, tests/support/ for the tests).
# Sets $target (a path from the root; empty if the include is not a file of this tree). Our
# includes never use "../", so no normalisation is needed (pure bash: no process per include).
resolve() {
  local from_dir=$1 name=$2 dir
  target=""
  for dir in "$from_dir" . kernels include tests/support; do
    if [ -f "$dir/$name" ]; then
      target=$dir/$name
      target=${target#./}
      return
    fi
  done
}

bad=0
fail() {
  echo "check-layers: $1" >&2
  bad=$((bad + 1))
}

while IFS= read -r file; do
  allowed "$file"
  [ -n "$rules" ] || continue
  while IFS=: read -r line text; do
    if [[ $text =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\"([^\"]+)\" ]]; then
      name=${BASH_REMATCH[1]}
      resolve "${file%/*}" "$name"
      if [ -z "$target" ]; then
        fail "$file:$line: include \"$name\" does not resolve to a file of this tree"
        continue
      fi
      ok=0
      for prefix in $rules; do
        [[ $target == "$prefix"* ]] && ok=1 && break
      done
      if [[ $file == tests/* && ($target == tools/* || $target == bench/*) ]]; then ok=0; fi
      [ $ok -eq 1 ] ||
        fail "$file:$line: includes $target; this layer may include only: $rules"
    elif [[ $file == lib/format/* && $text =~ $format_forbidden ]]; then
      fail "$file:$line: ${BASH_REMATCH[0]} in lib/format/ (plain C++: no SIMD, I/O or threads)"
    fi
  done < <(grep -n '^[[:space:]]*#[[:space:]]*include' "$file")
done < <(git ls-files -co --exclude-standard -- include lib kernels bench tools fuzz examples tests |
  grep -E '\.(h|hpp|c|cc|inc)$')

if [ $bad -ne 0 ]; then
  echo "check-layers: $bad include(s) break the layering (docs/ARCHITECTURE.md)" >&2
  exit 1
fi
echo "check-layers: ok (every #include of our code follows docs/ARCHITECTURE.md)"
