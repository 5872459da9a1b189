#!/usr/bin/env bash
# Makes the arm64 dependency sysroot for the cross build (TOOLCHAIN.md section 4): downloads the
# Debian arm64 .debs of our dependencies with apt-get download (a private apt state; the host's apt
# configuration and architectures are left alone: no dpkg --add-architecture) and unpacks them with
# dpkg -x. Usage: scripts/make-arm64-sysroot.sh [ROOT]  (default build/arm64-deps; the sysroot is
# ROOT/sysroot). Re-running with an existing sysroot does nothing; pass --force to remake it.
set -euo pipefail
cd "$(dirname "$0")/.."
force=0
if [ "${1:-}" = "--force" ]; then force=1; shift; fi
ROOT=$(realpath -m "${1:-build/arm64-deps}")
SYSROOT=$ROOT/sysroot
STAMP=$SYSROOT/.complete
if [ -f "$STAMP" ] && [ $force -eq 0 ]; then
  echo "make-arm64-sysroot: $SYSROOT is up to date"
  exit 0
fi
# cpu_features and benchmark must be arm64 builds; gtest/gmock (static .a) too. xsimd is
# header-only (identical headers), taken for completeness so the sysroot is self-contained.
DEBS=(libcpu-features-dev libgtest-dev libgmock-dev libbenchmark-dev libbenchmark1debian
      libxsimd-dev)
rm -rf "$ROOT/lists" "$ROOT/cache" "$ROOT/debs" "$SYSROOT"
mkdir -p "$ROOT/lists/partial" "$ROOT/cache/archives/partial" "$ROOT/debs" "$SYSROOT"
opts=(-oAPT::Architecture=arm64 -oAPT::Architectures=arm64 -oDir::State::Lists="$ROOT/lists"
      -oDir::Cache="$ROOT/cache" -oAPT::Sandbox::User=root -qq)
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "make-arm64-sysroot: fetching ${DEBS[*]} (arm64)"
$SUDO apt-get "${opts[@]}" update
(cd "$ROOT/debs" && $SUDO apt-get "${opts[@]}" download "${DEBS[@]}")
for d in "$ROOT"/debs/*.deb; do dpkg -x "$d" "$SYSROOT"; done
test -f "$SYSROOT/usr/include/cpu_features/cpuinfo_aarch64.h"
test -f "$SYSROOT/usr/lib/aarch64-linux-gnu/libcpu_features.a"
touch "$STAMP"
echo "make-arm64-sysroot: sysroot ready at $SYSROOT"
