#!/usr/bin/env bash
# Installs everything q4repack needs from Debian 12's own packages (nothing else is downloaded),
# then configures the system's pip so that the README's `pip install ./python` works offline
# (a commented block in /etc/pip.conf; docs/PYTHON.md, "Install").
# Safe to re-run; skips apt entirely when every package is already installed.
#   scripts/install-deps.sh               packages + pip configuration
#   scripts/install-deps.sh --pip-config  only the pip configuration (Q4R_PIP_CONF: another file)
set -euo pipefail
PACKAGES=(
  cmake ninja-build g++ clang libclang-rt-14-dev clang-format valgrind pkg-config
  libxsimd-dev libcpu-features-dev libgtest-dev libgmock-dev libbenchmark-dev libsimde-dev
  g++-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
  llvm-19  # llvm-mca-19: the static ARM speed check (scripts/arm-speed.sh), not the tests
  gnuplot-nox python3 python3-numpy python3-pytest python3-pip python3-venv python3-setuptools
  python3-wheel
)
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

install_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#PACKAGES[@]} packages present"
    return
  fi
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# The [global] block of the system pip configuration, between markers (rewritten on every run, the
# rest of the file kept as it is). The key semantics were checked against Debian 12's pip 23.0.1.
PIP_BLOCK='# >>> q4repack (scripts/install-deps.sh) >>>
# Makes the README'"'"'s `pip install ./python` work on Debian 12, offline (docs/PYTHON.md,
# "Install"). Delete this block to get pip'"'"'s defaults back.
# break-system-packages = true is `--break-system-packages`: Debian marks its python3 "externally
#   managed" (PEP 668) and pip refuses to install outside a venv without it. pip then installs
#   into /usr/local/lib/python3.11/dist-packages (or ~/.local), never into Debian'"'"'s own
#   /usr/lib/python3/dist-packages.
# no-build-isolation = false is `--no-build-isolation`: pip reads a "--no-X" switch in a config
#   file as the value of X itself, so "false" turns build isolation OFF ("true" would keep it).
#   Builds then use the installed setuptools and wheel (python3-setuptools, python3-wheel)
#   instead of downloading them into a fresh environment.
break-system-packages = true
no-build-isolation = false
# <<< q4repack <<<'

configure_pip() {
  local conf=${Q4R_PIP_CONF:-/etc/pip.conf}
  # Line-based (configparser would drop the file's comments): remove an earlier block, then put
  # the block first in [global] (appending a [global] section if there is none). Keys the file
  # already sets itself outside the block are left to the file.
  $SUDO env Q4R_PIP_BLOCK="$PIP_BLOCK" /usr/bin/python3 - "$conf" <<'PY'
import os, re, sys
path, block = sys.argv[1], os.environ["Q4R_PIP_BLOCK"].splitlines()
try:
    lines = open(path).read().splitlines()
except FileNotFoundError:
    lines = []
start, end = block[0], block[-1]
if start in lines and end in lines:
    del lines[lines.index(start):lines.index(end) + 1]
keys = re.compile(r"\s*(break-system-packages|no-build-isolation)\s*[=:]")
section, own = None, set()
for line in lines:
    if line.strip().startswith("["):
        section = line.strip()
    elif section == "[global]" and keys.match(line):
        own.add(keys.match(line).group(1))
block = [l for l in block if not (keys.match(l) and keys.match(l).group(1) in own)]
heads = [i for i, l in enumerate(lines) if l.strip() == "[global]"]
if heads:
    lines[heads[0] + 1:heads[0] + 1] = block
else:
    lines += ([""] if lines else []) + ["[global]"] + block
os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
with open(path, "w") as f:
    f.write("\n".join(lines) + "\n")
if own:
    print("install-deps: %s sets %s itself; left as it is" % (path, ", ".join(sorted(own))))
PY
  echo "install-deps: pip configured for offline system installs ($conf)"
}

[ "${1:-}" = "--pip-config" ] || install_packages
configure_pip
