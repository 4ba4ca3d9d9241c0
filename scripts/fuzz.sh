#!/usr/bin/env bash
# Fuzzes the safetensors reader and the checkpoint layer behind it: scripts/fuzz.sh SECONDS [extra libFuzzer args].
# Installs clang if missing, builds build/fuzz (clang, ASan+UBSan+libFuzzer) and runs each target for SECONDS:
# fuzz_safetensors on a copy of tests/fuzz/corpus in build/fuzz/corpus, crashes to build/fuzz/crashes/;
# fuzz_checkpoint on a copy of tests/fuzz/corpus_checkpoint in build/fuzz/corpus_checkpoint, crashes to
# build/fuzz/crashes_checkpoint/. Exits non-zero if either found one.
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
targets=(fuzz_safetensors fuzz_checkpoint)

bash scripts/install-deps.sh clang-14 libclang-rt-14-dev

# The libraries get ASan+UBSan and libFuzzer's coverage instrumentation; neither target needs OpenMP or CUDA.
CC=clang-14 CXX=clang++-14 cmake -S "$source_dir" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSWIRL_FUZZ=ON -DSWIRL_SANITIZE=address,undefined,fuzzer-no-link -DSWIRL_CUDA=OFF -DSWIRL_OPENMP=OFF \
  -DSWIRL_BUILD_APPS=OFF -DSWIRL_BUILD_TESTS=OFF -DSWIRL_NATIVE=OFF -DSWIRL_CPU_DISPATCH=OFF >/dev/null
ninja_targets=$(ninja -C "$build" -t targets all)  # not piped into grep -q: with pipefail, ninja's SIGPIPE would fail it
for target in "${targets[@]}"; do
  if ! grep -q "^$target:" <<<"$ninja_targets"; then
    echo "fuzz.sh: no $target target; does $source_dir/CMakeLists.txt add tests/fuzz when SWIRL_FUZZ is ON?" >&2
    exit 1
  fi
done
nice -n 10 cmake --build "$build" --target "${targets[@]}" -j1

# fuzz TARGET SEEDS REGRESSIONS DICT MAX_LEN SUFFIX [libFuzzer args]: runs TARGET for $seconds on a copy of the
# seeds (plus the regressions) in build/fuzz/corpus$SUFFIX, so new inputs never land in the committed corpus;
# crashes go to build/fuzz/crashes$SUFFIX/. Prints the final stats; fails if the fuzzer failed or left a crash.
fuzz() {
  local target=$1 seeds=$2 regressions=$3 dict=$4 max_len=$5 suffix=$6
  shift 6
  local fuzzer=$build/tests/fuzz/$target corpus=$build/corpus$suffix crashes=$build/crashes$suffix
  local log=$build/$target.log status crashes_before crashes_after
  mkdir -p "$corpus" "$crashes"
  cp -n "$seeds"/* "$corpus/"
  if compgen -G "$regressions/*" >/dev/null; then cp -n "$regressions"/* "$corpus/"; fi
  crashes_before=$(find "$crashes" -type f | wc -l)
  echo "== $target for $seconds s =="
  set +e
  # A 128 KiB stack, in a subshell of its own: recursion that deepens with the input then overflows within
  # -max_len (the default 8 MiB would need inputs far larger than the fuzzer builds).
  (
    ulimit -s 128
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      nice -n 10 "$fuzzer" -max_total_time="$seconds" -max_len="$max_len" -rss_limit_mb=2048 -timeout=10 \
      -dict="$dict" -artifact_prefix="$crashes/" -print_final_stats=1 "$@" "$corpus" 2>&1
  ) | tee "$log" | grep --line-buffered -E 'INITED|pulse|DONE|ERROR|SUMMARY|runtime error'
  status=${PIPESTATUS[0]}
  set -e
  crashes_after=$(find "$crashes" -type f | wc -l)

  echo "--- $target: final stats (full log: $log)"
  grep -E '^#[0-9]+' "$log" | tail -n 1 || true
  grep -E '^(stat::|Done )' "$log" || true
  echo "corpus: $(find "$corpus" -type f | wc -l) files in $corpus"
  if ((status != 0 || crashes_after > crashes_before)); then
    echo "fuzz.sh: $target failed (exit $status); new artifacts in $crashes:" >&2
    find "$crashes" -type f -newer "$fuzzer" >&2
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" >&2 || true
    return 1
  fi
}

failed=0
# The reader's inputs are small; a checkpoint seed (T = 40 tails, Adam's state) has a header of about 50 KiB.
fuzz fuzz_safetensors tests/fuzz/corpus tests/fuzz/regressions tests/fuzz/safetensors.dict 4096 "" "$@" || failed=1
fuzz fuzz_checkpoint tests/fuzz/corpus_checkpoint tests/fuzz/regressions_checkpoint tests/fuzz/checkpoint.dict 131072 \
  _checkpoint "$@" || failed=1
exit "$failed"
