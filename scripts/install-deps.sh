#!/usr/bin/env bash
# Installs the Debian packages swirl builds with, plus any named on the command line, only those that are
# missing (needs root, as on CI). Usage: scripts/install-deps.sh [PACKAGE...]
set -euo pipefail
packages=(cmake g++ ninja-build libfmt-dev nlohmann-json3-dev libcli11-dev doctest-dev libstb-dev libopenmpi-dev openmpi-bin
  python3 strace "$@")  # the tests' tools
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "swirl: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q "${missing[@]}"
fi
