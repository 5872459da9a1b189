#!/usr/bin/env bash
# The README's Python set-up, literally, the way a fresh Debian 12 machine runs it: after
# scripts/install-deps.sh (its pip configuration) and the build, `pip install ./python` (Debian's
# pip, system-wide, no options) then `python3 -c "import q4repack; print(q4repack.info())"`, then
# `pip uninstall -y q4repack`. Offline and throwaway: it runs in private mount and network
# namespaces (unshare, as root) where /usr/local, /etc and python/ are overlays on temporary
# folders, with no network but loopback, a fresh-machine environment (Debian's PATH, no PIP_*
# variables) and pip's cache in a temporary folder; so the machine, its pip configuration and the
# source tree are left exactly as they were. Part of scripts/test-install.sh; needs build/release.
# Without namespaces (not root, or a container that forbids them) it says so and skips (exit 0).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
lib=$root/build/release/libq4repack.so.0
[ -f "$lib" ] || { echo "pip-system: build the library first (scripts/main.sh)"; exit 1; }
if ! unshare --mount --net --propagation private true 2>/dev/null; then
  echo "pip-system: skipped (needs root and mount/network namespaces: unshare -mn)"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for d in usr etc python; do mkdir -p "$tmp/upper-$d" "$tmp/work-$d"; done
mkdir -p "$tmp/home" "$tmp/cache"

# Runs inside the namespaces. $1: root, $2: tmp.
inner='set -euo pipefail
root=$1 tmp=$2
overlay() { mount -t overlay overlay -o "lowerdir=$1,upperdir=$tmp/upper-$2,workdir=$tmp/work-$2" "$1"; }
overlay /usr/local usr
overlay /etc etc
overlay "$root/python" python
cd "$root"
# The state before the set-up: scripts/test.sh has already run install-deps.sh on this machine,
# so take its pip block out of /etc/pip.conf (in the overlay only) for the controls below.
if [ -f /etc/pip.conf ]; then
  sed -i "/^# >>> q4repack/,/^# <<< q4repack <<</d" /etc/pip.conf
  if grep -q "q4repack" /etc/pip.conf; then echo "could not remove the q4repack pip block"; exit 1; fi
fi
if python3 -c "import socket; socket.create_connection((\"pypi.org\", 443), 3)" 2>/dev/null; then
  echo "the namespace has network access"; exit 1
fi
# Controls: without the configuration Debian'"'"'s pip refuses (PEP 668); with the isolation key the
# other way round ("true") it tries to download setuptools and fails offline.
expect_failure() {  # $1: text the output must contain; the rest: the command
  local want=$1 out; shift
  if out=$("$@" 2>&1); then echo "unexpected success: $*"; exit 1; fi
  grep -q -- "$want" <<<"$out" || { echo "$* failed without \"$want\":"; echo "$out"; exit 1; }
  echo "  refused as expected ($want)"
}
echo "+ pip install ./python   # before scripts/install-deps.sh configured pip"
expect_failure externally-managed-environment pip install ./python
printf "[global]\nbreak-system-packages = true\nno-build-isolation = true\n" >"$tmp/isolated.conf"
echo "+ PIP_CONFIG_FILE=(no-build-isolation = true) pip install ./python"
expect_failure setuptools env PIP_CONFIG_FILE="$tmp/isolated.conf" pip install ./python
"$root/scripts/install-deps.sh" --pip-config >/dev/null   # its pip block, into the overlay
echo "+ pip config list"; pip config list
echo "+ pip install ./python"
pip install ./python
echo "+ python3 -c \"import q4repack; print(q4repack.info())\""
python3 -c "import q4repack; print(q4repack.info())"
python3 -c "import q4repack, os
assert q4repack.__file__.startswith(\"/usr/local/lib/python3\"), q4repack.__file__
assert os.path.dirname(q4repack.library_path()) == os.path.dirname(q4repack.__file__), q4repack.library_path()"
echo "+ pip uninstall -y q4repack"
pip uninstall -y q4repack
if python3 -c "import q4repack" 2>/dev/null; then echo "still importable after uninstall"; exit 1; fi
left=$(find "$tmp/upper-usr" -name "q4repack*" | head -5)
[ -z "$left" ] || { echo "pip uninstall left: $left"; exit 1; }
echo "pip-system: ok"'

# A fresh Debian 12 machine's environment: no pyenv in PATH, no PIP_* settings.
env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME="$tmp/home" \
  XDG_CACHE_HOME="$tmp/cache" LANG=C.UTF-8 \
  unshare --mount --net --propagation private bash -c "$inner" inner "$root" "$tmp"
