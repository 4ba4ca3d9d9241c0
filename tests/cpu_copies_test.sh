#!/usr/bin/env bash
# Usage: tests/cpu_copies_test.sh [--expect-leak] COPY OBJECT...
# A portable build links one copy of the CPU kernels per capability into one binary (tensor/cpu/capability.h). A
# function the copies share by name (an inline function or template outside the copy's namespace: the standard
# library's, the tensor core's) is kept once by the linker, from whichever object it meets first; if that one was
# compiled with AVX2 or AVX-512 instructions, a CPU without them crashes in it. So: every global or weak function
# defined in COPY's objects either lives in namespace swirl::cpu::COPY, or uses no instruction beyond x86-64's
# baseline (no VEX/EVEX-encoded instruction, no BMI, LZCNT or MOVBE, no mask register). Exits 1 naming each one that
# does. An OBJECT argument may hold several paths separated by ';' (CMake's $<TARGET_OBJECTS:...>).
# --expect-leak inverts the verdict: the check of the check, on tests/fixtures/leaky_copy.cpp.
set -euo pipefail
expect_leak=0
if [[ ${1:-} == --expect-leak ]]; then expect_leak=1; shift; fi
[[ $# -ge 2 ]] || { sed -n '2,11p' "$0" >&2; exit 2; }
copy=$1
shift
objects=()
for argument in "$@"; do
  IFS=';' read -r -a paths <<<"$argument"
  objects+=("${paths[@]}")
done
own="5swirl3cpu${#copy}${copy}"  # the copy's namespace, mangled
beyond_baseline='^[[:space:]]*[0-9a-f]+:[[:space:]]+(v[a-z0-9]+|andn|bextr|blsi|blsmsk|blsr|bzhi|mulx|pdep|pext|rorx|sarx|shlx|shrx|lzcnt|tzcnt|movbe|k[a-z]+[bwdq])[[:space:]]'
checked=0 leaks=0
for object in "${objects[@]}"; do
  while read -r symbol; do
    case $symbol in _ZN"$own"* | _ZNK"$own"* | _ZZN"$own"* | _ZZNK"$own"*) continue ;; esac
    checked=$((checked + 1))
    found=$(objdump -d --no-show-raw-insn --disassemble="$symbol" "$object" | grep -E -m 3 "$beyond_baseline" || true)
    if [[ -n $found ]]; then
      leaks=$((leaks + 1))
      echo "LEAK in $(basename "$object"): $(c++filt "$symbol") is shared by name, and uses instructions beyond the baseline:"
      echo "$found"
    fi
  done < <(nm --defined-only "$object" | awk '$2 ~ /^[TWVi]$/ {print $3}')
done
echo "${#objects[@]} objects of the $copy copy: $checked shared functions checked, $leaks compiled beyond the baseline"
if [[ $expect_leak -eq 1 ]]; then [[ $leaks -gt 0 ]]; else [[ $leaks -eq 0 ]]; fi
