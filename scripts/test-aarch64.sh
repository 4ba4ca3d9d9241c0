#!/usr/bin/env bash
# The suite on aarch64, from this x86-64 machine: installs Debian's cross compiler, qemu-user and the arm64
# libraries swirl links (multiarch), cross-builds the `aarch64` preset (the NEON copy of the CPU kernels, tests,
# no apps) with warnings as errors, and runs every test under qemu-aarch64. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  dpkg --add-architecture arm64
  apt-get update -q
fi
bash scripts/install-deps.sh g++-aarch64-linux-gnu qemu-user libfmt-dev:arm64 libgomp1:arm64
cmake --preset aarch64 -DSWIRL_WERROR=ON
cmake --build --preset aarch64
# qemu runs each OpenMP thread as a host thread; the suite takes a few minutes.
ctest --preset aarch64
