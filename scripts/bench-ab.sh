#!/usr/bin/env bash
# Usage: scripts/bench-ab.sh SWIRL_A SWIRL_B [--rounds 5] [--batches "64000 128"] [--steps N]
#                            [--a-args "FLAGS"] [--b-args "FLAGS"] [-- BENCH FLAGS...]
#
# Is B as fast as A? Runs `swirl bench --json` of two builds alternately (A B A B ...), so that the machine's load
# falls on both alike, and prints per batch the median samples/s of each and the ratio B / A with its range over
# the rounds. Use it to check that a change does not slow the step: build the previous commit elsewhere
# (git worktree add /tmp/prev HEAD~1 && cmake -S /tmp/prev -B /tmp/prev/build -G Ninja -DCMAKE_BUILD_TYPE=Release
# && cmake --build /tmp/prev/build --target swirl) and compare it with build/release/apps/swirl. --a-args and
# --b-args go to one side only, so that one build can be set against itself: SWIRL_A and SWIRL_B the same binary,
# --a-args "--t-sampling batch" --b-args "--t-sampling sample". --steps sets the steps a run (default 2000, 200
# or 20 by batch: a fifth of a second or more); the flags after -- go to both.
set -euo pipefail

[[ $# -ge 2 ]] || { sed -n '2,12p' "$0" >&2; exit 2; }
A=$1 B=$2
shift 2
ROUNDS=5
BATCHES="64000 128"
STEPS=
EXTRA=() A_ARGS=() B_ARGS=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --rounds) ROUNDS=$2; shift 2 ;;
        --batches) BATCHES=$2; shift 2 ;;
        --steps) STEPS=$2; shift 2 ;;
        --a-args) read -r -a A_ARGS <<< "$2"; shift 2 ;;
        --b-args) read -r -a B_ARGS <<< "$2"; shift 2 ;;
        --) shift; EXTRA=("$@"); break ;;
        *) echo "bench-ab.sh: unknown argument '$1' (expected --rounds N, --batches \"B ...\", --steps N, --a-args \"FLAGS\", --b-args \"FLAGS\" or -- BENCH FLAGS)" >&2; exit 2 ;;
    esac
done
for bin in "$A" "$B"; do
    [[ -x $bin ]] || { echo "bench-ab.sh: '$bin' is not an executable swirl binary" >&2; exit 1; }
done

# Enough steps for a fifth of a second or more at each size.
steps_for() { if (( $1 >= 32000 )); then echo 20; elif (( $1 >= 2048 )); then echo 200; else echo 2000; fi; }

printf '| batch | A samples/s | B samples/s | B / A (median) | B / A (min..max) |\n| ---: | ---: | ---: | ---: | ---: |\n'
for batch in $BATCHES; do
    steps=${STEPS:-$(steps_for "$batch")}
    a_runs=() b_runs=()
    for ((r = 0; r < ROUNDS; ++r)); do
        a_runs+=("$("$A" bench --batch "$batch" --steps "$steps" --json "${A_ARGS[@]}" "${EXTRA[@]}")")
        b_runs+=("$("$B" bench --batch "$batch" --steps "$steps" --json "${B_ARGS[@]}" "${EXTRA[@]}")")
    done
    printf '%s\n' "${a_runs[@]}" > /tmp/bench-ab.a.$$
    printf '%s\n' "${b_runs[@]}" > /tmp/bench-ab.b.$$
    python3 - "$batch" /tmp/bench-ab.a.$$ /tmp/bench-ab.b.$$ <<'EOF'
import json, statistics, sys
batch = sys.argv[1]
a = [json.loads(l)["samples_per_s"] for l in open(sys.argv[2])]
b = [json.loads(l)["samples_per_s"] for l in open(sys.argv[3])]
ratios = [y / x for x, y in zip(a, b)]  # each round's pair ran back to back
print(f"| {batch} | {statistics.median(a):,.0f} | {statistics.median(b):,.0f} | {statistics.median(ratios):.3f} "
      f"| {min(ratios):.3f}..{max(ratios):.3f} |")
EOF
    rm -f /tmp/bench-ab.a.$$ /tmp/bench-ab.b.$$
done
