#!/usr/bin/env bash
# The Python package's pytest suite (python/tests) with Debian's python3, numpy and pytest, against
# the library in build/release (built here when missing). Golden vectors as for the C tests.
# Ends with "python: ok" or a failure; pytest's "no tests collected" (exit code 5) is a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3  # Debian's, with python3-numpy / python3-pytest (not a pyenv or venv one)

build=build/release
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake --preset release >/dev/null || exit 1
fi
cmake --build "$build" -j2 --target q4repack_shared || exit 1

export Q4REPACK_LIBRARY=$PWD/$build/libq4repack.so.0 PYTHONPATH=$PWD/python PYTHONDONTWRITEBYTECODE=1
"$PY" -m pytest -q -p no:cacheprovider python/tests
status=$?
case $status in
  0) echo "python: ok" ;;
  5) echo "python: FAILED (pytest collected no tests)" ;;
  *) echo "python: FAILED (pytest exit code $status)" ;;
esac
[ "$status" -eq 0 ]
