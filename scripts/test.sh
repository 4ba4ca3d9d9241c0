#!/usr/bin/env bash
# The test command: install what is missing, build a preset (default: release, -march=native) with warnings as
# errors, run every test. Usage: scripts/test.sh [release|portable|x86-64-v3]
#   portable:  one binary with baseline, AVX2 and AVX-512 kernels; the suite runs once under each capability this
#              CPU has (SWIRL_CPU_CAPABILITY forces each).
#   x86-64-v3: an AVX2 CPU's build (-march=x86-64-v3); built everywhere, its suite run where the CPU has AVX2.
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-release}
case $preset in
  release | portable | x86-64-v3) ;;
  *) echo "usage: scripts/test.sh [release|portable|x86-64-v3] (got '$preset')" >&2; exit 2 ;;
esac
bash scripts/install-deps.sh
cmake --preset "$preset" -DSWIRL_WERROR=ON
cmake --build --preset "$preset"
swirl=build/$preset/apps/swirl
case $preset in
  release) ctest --preset release ;;
  portable)
    read -r -a capabilities <<<"$("$swirl" --cpu-capabilities | sed -n 's/^this CPU runs: //p')"
    for capability in "${capabilities[@]}"; do
      echo "== the suite with SWIRL_CPU_CAPABILITY=$capability =="
      SWIRL_CPU_CAPABILITY=$capability ctest --preset portable
    done ;;
  x86-64-v3)
    if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo && grep -qw bmi2 /proc/cpuinfo; then
      ctest --preset x86-64-v3
    else
      echo "scripts/test.sh: built x86-64-v3; this CPU has no AVX2, so its tests do not run here"
    fi ;;
esac
