#!/usr/bin/env bash
# swirl bench against the seed's step in PyTorch (scripts/torch_reference.py), alternately (A B A B ...), same
# batch and threads, both --json; prints a table of medians and ratios. The tables of apps/doc/performance.md come
# from this script.
# Usage: scripts/bench-vs-torch.sh [--rounds 3] [--threads 2] [--batches "64000 4096 128"] [--t-sampling batch]
#                                  [--swirl PATH] [--torch-isa avx2]
# --swirl: the swirl binary to time (default build/release/apps/swirl, built if missing), e.g. an AVX2 build's
# build/x86-64-v3/apps/swirl; SWIRL_CPU_CAPABILITY in the environment picks a portable build's kernels. The table
# names the kernels that ran. --torch-isa avx2 holds PyTorch to AVX2 as well (ATEN_CPU_CAPABILITY=avx2, OpenBLAS's
# Haswell kernels), for the AVX2 case on an AVX-512 machine.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3 threads=2 batches="64000 4096 128" t_sampling=batch swirl= torch_env=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --batches) batches=$2; shift 2 ;;
    --t-sampling) t_sampling=$2; shift 2 ;;
    --swirl) swirl=$2; shift 2 ;;
    --torch-isa)
      [ "$2" = avx2 ] || { echo "bench-vs-torch.sh: --torch-isa takes avx2" >&2; exit 2; }
      torch_env=(ATEN_CPU_CAPABILITY=avx2 OPENBLAS_CORETYPE=Haswell); shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
torch_reference=scripts/torch_reference.py
bash scripts/install-deps.sh python3-torch libopenblas0-pthread time
if [ -z "$swirl" ]; then
  swirl=build/release/apps/swirl
  [ -x "$swirl" ] || { cmake --preset release && cmake --build --preset release; }
fi
[ -x "$swirl" ] || { echo "bench-vs-torch.sh: no swirl binary at $swirl" >&2; exit 2; }

results=$(mktemp)
steps_for() { if [ "$1" -ge 32000 ]; then echo 20; elif [ "$1" -ge 2048 ]; then echo 100; else echo 1000; fi; }
torch_flags=""; [ "$t_sampling" = sample ] && torch_flags="--per-sample-t"
for batch in $batches; do
  steps=$(steps_for "$batch")
  for round in $(seq "$rounds"); do
    # Peak RSS, the kernel's maximum resident set of the process (getrusage, as GNU time reports it): swirl's as its
    # JSON reports it when the timed steps end, before the FMA and bandwidth probes (whose buffers are not training's).
    "$swirl" bench --batch "$batch" --steps "$steps" --threads "$threads" \
        --t-sampling "$t_sampling" --json > "$results.out"
    python3 -c "import json,sys; r=json.load(open('$results.out')); r['rss_mb']=r['peak_rss_mb']; r['round']=$round; print(json.dumps(r))" >> "$results"
    # OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE work around old OpenBLAS bugs and slow a current one: unset for PyTorch.
    rss=$( { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "${torch_env[@]}" /usr/bin/time -f "%M" /usr/bin/python3 "$torch_reference" \
             --batch "$batch" --steps "$steps" --threads "$threads" $torch_flags --json > "$results.out"; } 2>&1 | tail -1)
    python3 -c "import json,sys; r=json.load(open('$results.out')); r['rss_mb']=$rss/1024; r['round']=$round; print(json.dumps(r))" >> "$results"
  done
done
python3 - "$results" "$threads" "$t_sampling" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
kernels = sorted({f"{r['cpu_capability']} ({r['vector_floats']} floats a vector)" for r in rows if r['impl'] == 'swirl'})
print(f"\n{len(rows)//2} pairs, {sys.argv[2]} threads, t-sampling {sys.argv[3]}, swirl's CPU kernels {', '.join(kernels)}; "
      "medians of the rounds:\n")
print("| batch | swirl samples/s | PyTorch samples/s | speed-up | swirl steps/s | PyTorch steps/s | swirl % FMA peak | swirl RSS MB | PyTorch RSS MB | RSS ratio |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for batch in sorted({r['batch'] for r in rows}, reverse=True):
    s = [r for r in rows if r['batch'] == batch and r['impl'] == 'swirl']
    t = [r for r in rows if r['batch'] == batch and r['impl'] != 'swirl']
    med = lambda rs, k: statistics.median(r[k] for r in rs)
    print(f"| {batch} | {med(s,'samples_per_s'):,.0f} | {med(t,'samples_per_s'):,.0f} | {med(s,'samples_per_s')/med(t,'samples_per_s'):.2f}x "
          f"| {med(s,'steps_per_s'):.1f} | {med(t,'steps_per_s'):.1f} | {100*med(s,'peak_share'):.0f}% "
          f"| {med(s,'rss_mb'):.0f} | {med(t,'rss_mb'):.0f} | {med(s,'rss_mb')/med(t,'rss_mb'):.2f} |")
print(f"\nPyTorch: {t[0]['impl']}")
PY
rm -f "$results" "$results.out"
