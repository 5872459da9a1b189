#!/usr/bin/env bash
# Installs q4repack into a temporary prefix (cmake --install) and builds examples/consumer against
# it twice: with find_package (static, shared and C++ targets) and with pkg-config, then the example
# engine (examples/ffn_engine.cc) with pkg-config; runs them all. Then the Python package against
# the installed library: installed by cmake (component python) and by pip into a venv (offline,
# Debian's setuptools), with a smoke test and the whole pytest suite on the pip-installed one.
# Last, the README's literal system-wide `pip install ./python` (scripts/test-pip-system.sh: in
# throwaway namespaces, offline, uninstalled again).
# Reuses build/release when it exists (scripts/test.sh builds it first), else configures its own.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

build=build/release
if [ ! -f "$build/CMakeCache.txt" ]; then
  build=$tmp/build
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DQ4R_BUILD_TESTS=OFF \
    -DQ4R_BUILD_BENCH=OFF -DQ4R_BUILD_EXAMPLES=OFF >/dev/null
fi
cmake --build "$build" -j2
cmake --install "$build" --prefix "$prefix" >/dev/null

echo "--- installed files"
(cd "$prefix" && find . -type f -o -type l | sort)
pc=$(find "$prefix" -name q4repack.pc | head -1)
[ -n "$pc" ] || { echo "q4repack.pc not installed"; exit 1; }
libdir=$(dirname "$(dirname "$pc")")
for f in include/q4repack/q4repack.h include/q4repack/q4repack.hpp; do
  [ -f "$prefix/$f" ] || { echo "missing $f"; exit 1; }
done
for f in libq4repack.a libq4repack.so libq4repack.so.0 cmake/q4repack/q4repackConfig.cmake \
  cmake/q4repack/q4repackConfigVersion.cmake pkgconfig/q4repack.pc; do
  [ -e "$libdir/$f" ] || { echo "missing $libdir/$f"; exit 1; }
done
soname=$(objdump -p "$libdir/libq4repack.so" | awk '/SONAME/ {print $2}')
[ "$soname" = "libq4repack.so.0" ] || { echo "SONAME is '$soname', expected libq4repack.so.0"; exit 1; }
if grep -q 'Q4R_BUILD_TOOLS:BOOL=ON' "$build/CMakeCache.txt"; then
  [ -x "$prefix/bin/q4repack" ] || { echo "missing bin/q4repack"; exit 1; }
fi
# Only the C API is exported from the shared library.
if nm -D --defined-only "$libdir/libq4repack.so" | awk '{print $3}' | grep -v '^q4r_' | grep -v '^_' ; then
  echo "shared library exports symbols outside q4r_*"; exit 1
fi

echo "--- find_package consumer"
cmake -S examples/consumer -B "$tmp/consumer" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$tmp/consumer" -j2
"$tmp/consumer/consumer_static"
"$tmp/consumer/consumer_shared"
"$tmp/consumer/consumer_cpp"
# The shared consumer really uses the installed .so.
# (ldd's output captured first: `ldd | grep -q` under pipefail fails when grep quits early.)
deps=$(ldd "$tmp/consumer/consumer_shared")
grep -q "$libdir/libq4repack.so.0" <<<"$deps" ||
  { echo "consumer_shared does not load the installed library"; exit 1; }

echo "--- pkg-config consumer"
export PKG_CONFIG_PATH=$libdir/pkgconfig
[ "$(pkg-config --modversion q4repack)" = "$(awk '/^Version:/ {print $2}' "$libdir/pkgconfig/q4repack.pc")" ]
cc -o "$tmp/pc_consumer" "$root/examples/consumer/consumer.c" $(pkg-config --cflags --libs q4repack) -lm
LD_LIBRARY_PATH=$libdir "$tmp/pc_consumer"
c++ -std=c++17 -o "$tmp/pc_consumer_cpp" "$root/examples/consumer/consumer.cpp" \
  $(pkg-config --cflags --libs q4repack)
LD_LIBRARY_PATH=$libdir "$tmp/pc_consumer_cpp"
echo "--- the example engine against the installed package"
c++ -std=c++17 -O2 -o "$tmp/ffn_engine" "$root/examples/ffn_engine.cc" \
  $(pkg-config --cflags --libs q4repack) -pthread
LD_LIBRARY_PATH=$libdir "$tmp/ffn_engine" --check --scale 16 --layers 3 --prompt 9 --tokens 3 \
  --threads 3
echo "--- Python package installed by cmake (component python), on PYTHONPATH"
PY=/usr/bin/python3  # Debian's python3 with python3-numpy / python3-pytest
cmake --install "$build" --prefix "$prefix" --component python >/dev/null
pydir=$(dirname "$(find "$prefix" -path '*/q4repack/__init__.py' | head -1)")
smoke='import os, sys, numpy as np, q4repack
want = os.path.realpath(sys.argv[1])
assert os.path.realpath(q4repack.library_path()) == want, (q4repack.library_path(), want)
info = q4repack.info()
print(info["version"], info["isa_active"], info["preferred_layouts"])
w = q4repack.quantize(np.ones((8, 64), np.float32), "q4_0")
y = q4repack.matmul(q4repack.repack(w, "q4_0", "8x8"), np.ones((3, 64), np.float32), "q4_0", "8x8")
assert y.shape == (3, 8) and abs(float(y[0, 0]) - 64) < 0.1, y'
(cd "$tmp" && env -u Q4REPACK_LIBRARY PYTHONPATH="$(dirname "$pydir")" PYTHONDONTWRITEBYTECODE=1 \
  "$PY" -c "$smoke" "$libdir/libq4repack.so.0")

echo "--- Python package installed by pip into a venv (offline), bundling the installed library"
"$PY" -m venv --system-site-packages "$tmp/venv"
cp -r "$root/python" "$tmp/pysrc"
rm -rf "$tmp/pysrc/build" "$tmp/pysrc"/*.egg-info "$tmp/pysrc/q4repack"/libq4repack.so*
Q4REPACK_LIBRARY=$libdir/libq4repack.so.0 "$tmp/venv/bin/python" -m pip install -q --no-index \
  --no-build-isolation --no-deps "$tmp/pysrc"
bundled=$("$tmp/venv/bin/python" -c 'import q4repack, os; print(os.path.dirname(q4repack.__file__))')
case $bundled in "$tmp/venv/"*) ;; *) echo "pip installed q4repack to $bundled"; exit 1 ;; esac
(cd "$tmp" && env -u Q4REPACK_LIBRARY PYTHONDONTWRITEBYTECODE=1 "$tmp/venv/bin/python" -c "$smoke" \
  "$bundled/libq4repack.so.0")
(cd "$tmp" && env -u Q4REPACK_LIBRARY -u PYTHONPATH PYTHONDONTWRITEBYTECODE=1 \
  "$tmp/venv/bin/python" -m pytest -q -p no:cacheprovider "$root/python/tests")
echo "--- the README's literal pip install ./python, system-wide, offline (throwaway namespaces)"
if [ "$build" = build/release ]; then
  scripts/test-pip-system.sh
else
  echo "skipped: needs build/release (the library the literal command bundles)"
fi
echo "install: ok"
