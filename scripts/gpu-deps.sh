#!/usr/bin/env bash
# Prepares, on this machine, what scripts/gpu-check.sh needs on a GPU machine that reaches no package registry:
# swirl's Debian build dependencies unpacked under .gpu-deps/root (a prefix that gpu-check.sh hands to CMake and
# the loader). The PyTorch reference (scripts/torch_reference.py) travels with the working tree.
# Then run `bash scripts/gpu-check.sh` there with .gpu-deps carried along (.gitignore keeps it out of git).
set -euo pipefail
cd "$(dirname "$0")/.."
out=.gpu-deps
packages=(libfmt-dev libfmt9 nlohmann-json3-dev libcli11-dev doctest-dev libstb-dev libstb0)
rm -rf "$out"
mkdir -p "$out/debs" "$out/root"
(cd "$out/debs" && apt-get download -q "${packages[@]}")
for deb in "$out"/debs/*.deb; do dpkg -x "$deb" "$out/root"; done
rm -rf "$out/debs" "$out/root/usr/share/doc"
echo "gpu-deps: $(du -sh "$out" | cut -f1) in $out: ${packages[*]}"
