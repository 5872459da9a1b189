#!/usr/bin/env bash
# Installs everything q4repack needs from Debian 12's own packages (nothing else is downloaded).
# Safe to re-run; skips apt entirely when every package is already installed.
set -euo pipefail
PACKAGES=(
  cmake ninja-build g++ clang libclang-rt-14-dev clang-format valgrind pkg-config
  libxsimd-dev libcpu-features-dev libgtest-dev libgmock-dev libbenchmark-dev libsimde-dev
  g++-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
  llvm-19  # llvm-mca-19: the static ARM speed check (scripts/arm-speed.sh), not the tests
  gnuplot-nox python3 python3-numpy python3-pytest python3-pip python3-venv python3-setuptools
  python3-wheel
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
