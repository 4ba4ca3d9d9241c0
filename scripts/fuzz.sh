#!/usr/bin/env bash
# Fuzzes the safetensors reader: scripts/fuzz.sh SECONDS [extra libFuzzer args]. Installs clang if missing,
# builds build/fuzz (clang, ASan+UBSan+libFuzzer) and runs fuzz_safetensors for SECONDS on a copy of
# tests/fuzz/corpus in build/fuzz/corpus; crashes go to build/fuzz/crashes/. Exits non-zero if one was found.
# SWIRL_FUZZ_SOURCE=DIR configures that source tree instead of this one (build/fuzz stays here).
set -euo pipefail
if [[ $# -lt 1 || ! $1 =~ ^[0-9]+$ ]]; then
  echo "usage: scripts/fuzz.sh SECONDS [extra libFuzzer args]" >&2
  exit 2
fi
seconds=$1
shift
cd "$(dirname "$0")/.."
root=$PWD
source_dir=${SWIRL_FUZZ_SOURCE:-$root}
build=$root/build/fuzz
fuzzer=$build/tests/fuzz/fuzz_safetensors

bash scripts/install-deps.sh clang-14 libclang-rt-14-dev

# The libraries get ASan+UBSan and libFuzzer's coverage instrumentation; the reader needs no OpenMP or CUDA.
CC=clang-14 CXX=clang++-14 cmake -S "$source_dir" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSWIRL_FUZZ=ON -DSWIRL_SANITIZE=address,undefined,fuzzer-no-link -DSWIRL_CUDA=OFF -DSWIRL_OPENMP=OFF \
  -DSWIRL_BUILD_APPS=OFF -DSWIRL_BUILD_TESTS=OFF -DSWIRL_NATIVE=OFF -DSWIRL_CPU_DISPATCH=OFF >/dev/null
targets=$(ninja -C "$build" -t targets all)  # not piped into grep -q: with pipefail, ninja's SIGPIPE would fail it
if ! grep -q '^fuzz_safetensors:' <<<"$targets"; then
  echo "fuzz.sh: no fuzz_safetensors target; does $source_dir/CMakeLists.txt add tests/fuzz when SWIRL_FUZZ is ON?" >&2
  exit 1
fi
nice -n 10 cmake --build "$build" --target fuzz_safetensors -j1

# Fuzz a copy of the seeds (plus the regressions), so new inputs never land in the committed corpus.
mkdir -p "$build/corpus" "$build/crashes"
cp -n tests/fuzz/corpus/* "$build/corpus/"
if compgen -G "tests/fuzz/regressions/*" >/dev/null; then cp -n tests/fuzz/regressions/* "$build/corpus/"; fi
crashes_before=$(find "$build/crashes" -type f | wc -l)
log=$build/fuzz.log
# A 128 KiB stack: recursion that deepens with the input then overflows within -max_len=4096 (the default
# 8 MiB would need inputs of a hundred kilobytes or more, which the fuzzer never builds).
ulimit -s 128
set +e
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  nice -n 10 "$fuzzer" -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=2048 -timeout=10 \
  -dict=tests/fuzz/safetensors.dict -artifact_prefix="$build/crashes/" -print_final_stats=1 "$@" \
  "$build/corpus" 2>&1 | tee "$log" | grep --line-buffered -E 'INITED|pulse|DONE|ERROR|SUMMARY|runtime error'
status=${PIPESTATUS[0]}
set -e
crashes_after=$(find "$build/crashes" -type f | wc -l)

echo "--- final stats (full log: $log)"
grep -E '^#[0-9]+' "$log" | tail -n 1 || true
grep -E '^(stat::|Done )' "$log" || true
echo "corpus: $(find "$build/corpus" -type f | wc -l) files in $build/corpus"
if ((status != 0 || crashes_after > crashes_before)); then
  echo "fuzz.sh: the fuzzer failed (exit $status); new artifacts in $build/crashes:" >&2
  find "$build/crashes" -type f -newer "$fuzzer" >&2
  grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" >&2 || true
  exit 1
fi
