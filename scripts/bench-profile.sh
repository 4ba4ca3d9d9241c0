#!/usr/bin/env bash
# Usage: scripts/bench-profile.sh [SWIRL] [--batches "128 4096 64000"] [--modes "batch sample"] [-- BENCH FLAGS...]
#
# Where a training step's time goes: runs `swirl bench --profile --json` for each batch and t-sampling mode (2000,
# 300 and 20 steps at batches 128, 4096 and 64000; 20 past 20000) and prints one markdown table, milliseconds a step
# and each phase's share of the profiled step, with the timed step beside it. SWIRL defaults to
# build/release/apps/swirl.
set -euo pipefail
SWIRL=build/release/apps/swirl
if [[ $# -gt 0 && $1 != --* ]]; then SWIRL=$1; shift; fi
BATCHES="128 4096 64000"
MODES="batch sample"
EXTRA=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --batches) BATCHES=$2; shift 2 ;;
        --modes) MODES=$2; shift 2 ;;
        --) shift; EXTRA=("$@"); break ;;
        *) sed -n '2,7p' "$0" >&2; exit 2 ;;
    esac
done
[[ -x $SWIRL ]] || { echo "bench-profile.sh: no swirl at $SWIRL (build it: bash scripts/test.sh, or cmake --build --preset release)" >&2; exit 2; }
runs=$(mktemp)
trap 'rm -f "$runs"' EXIT
for batch in $BATCHES; do
    steps=20
    if (( batch <= 256 )); then steps=2000; elif (( batch <= 20000 )); then steps=300; fi
    for mode in $MODES; do
        "$SWIRL" bench --batch "$batch" --steps "$steps" --t-sampling "$mode" --profile --json "${EXTRA[@]}" >> "$runs"
        echo >> "$runs"
    done
done
python3 - "$runs" <<'PY'
import json, sys
runs = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
names = []
for r in runs:
    for name in r["profile"]["phases_ms"]:
        if name not in names: names.append(name)
print("| batch | t-sampling | step (ms) | " + " | ".join(names) + " | rest | timed step (ms) |")
print("| ---: | --- | ---: | " + " | ".join("---:" for _ in names) + " | ---: | ---: |")
for r in runs:
    p = r["profile"]
    step = p["step_ms"]
    cell = lambda ms: f"{ms:.3f} ({100 * ms / step:.0f}%)"
    cells = [cell(p["phases_ms"][n]) if n in p["phases_ms"] else "-" for n in names]
    print(f"| {r['batch']} | {r['t_sampling']} | {step:.3f} | " + " | ".join(cells) + f" | {cell(p['rest_ms'])} | {1e3 / r['steps_per_s']:.3f} |")
PY
