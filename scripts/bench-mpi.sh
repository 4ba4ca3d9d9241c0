#!/usr/bin/env bash
# Usage: scripts/bench-mpi.sh [--rounds 3] [--batches "4096 64000"] [--t-sampling "batch sample"]
#
# Data parallel against threads on this machine: `swirl bench` as one process with 2 threads (unsharded, and with
# the 2 shards a 2-rank run computes) and as `mpirun -np 2` with 1 thread a rank, alternately, round after round.
# Prints medians of samples/s, the time and bytes of the sum over ranks a step, and the ratio to one process.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=3 BATCHES="4096 64000" MODES="batch sample"
while [[ $# -gt 0 ]]; do
    case $1 in
        --rounds) ROUNDS=$2; shift 2 ;;
        --batches) BATCHES=$2; shift 2 ;;
        --t-sampling) MODES=$2; shift 2 ;;
        *) echo "bench-mpi.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
swirl=build/release/apps/swirl
[[ -x $swirl ]] || { echo "bench-mpi.sh: build first (cmake --preset release && cmake --build --preset release)" >&2; exit 1; }
command -v mpirun > /dev/null || { echo "bench-mpi.sh: no mpirun (apt-get install openmpi-bin libopenmpi-dev)" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
results=$(mktemp)
trap 'rm -f "$results"' EXIT
steps_for() { if (( $1 >= 32000 )); then echo 20; else echo 200; fi; }
for mode in $MODES; do
    for batch in $BATCHES; do
        steps=$(steps_for "$batch")
        common=(bench --batch "$batch" --steps "$steps" --t-sampling "$mode" --json)
        for ((r = 0; r < ROUNDS; ++r)); do
            echo "{\"run\": \"1 x 2 threads, 1 shard\", $("$swirl" "${common[@]}" --threads 2 --shards 1 | cut -c2-)" >> "$results"
            echo "{\"run\": \"1 x 2 threads, 2 shards\", $("$swirl" "${common[@]}" --threads 2 --shards 2 | cut -c2-)" >> "$results"
            echo "{\"run\": \"2 ranks x 1 thread, 2 shards\", $(mpirun --oversubscribe -np 2 "$swirl" "${common[@]}" --threads 1 --shards 2 | cut -c2-)" >> "$results"
        done
    done
done
python3 - "$results" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("| t-sampling | batch | run | samples/s | vs 1 process, 1 shard | sum over ranks ms/step | MB sent/step a rank |")
print("| --- | ---: | --- | ---: | ---: | ---: | ---: |")
keys = []
for r in rows:
    k = (r["t_sampling"], r["batch"], r["run"])
    if k not in keys: keys.append(k)
def med(k, field):
    return statistics.median(r[field] for r in rows if (r["t_sampling"], r["batch"], r["run"]) == k)
for k in keys:
    base = med((k[0], k[1], "1 x 2 threads, 1 shard"), "samples_per_s")
    s = med(k, "samples_per_s")
    print(f"| {k[0]} | {k[1]} | {k[2]} | {s:,.0f} | {s / base:.2f}x | {med(k, 'allreduce_ms_per_step'):.3f} | "
          f"{med(k, 'allreduce_mb_per_step'):.3f} |")
EOF
