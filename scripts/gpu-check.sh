#!/usr/bin/env bash
# The GPU check, for a machine with an NVIDIA GPU: configure with CUDA (arch 90 by default), build, run the
# CUDA tests and the rest of the suite, then swirl bench --device cuda against the seed's PyTorch code on the
# GPU at batch 64000 and 1,280,000, and print a short table. Usage: scripts/gpu-check.sh [ARCH]
set -uo pipefail
cd "$(dirname "$0")/.."
arch=${1:-90}
nvidia-smi -L || { echo "no GPU visible to nvidia-smi" >&2; exit 1; }
bash scripts/install-deps.sh > /dev/null || true
cmake -S . -B build/gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DSWIRL_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$arch" \
      -DSWIRL_WERROR=ON > build-gpu-configure.log 2>&1 || { tail -30 build-gpu-configure.log; exit 1; }
cmake --build build/gpu -j "$(nproc)" 2>&1 | tail -3
echo "== CUDA tests =="
ctest --test-dir build/gpu -R cuda_tests --output-on-failure 2>&1 | tail -15
echo "== whole suite on the GPU build =="
ctest --test-dir build/gpu -j 8 2>&1 | tail -4
seed_torch=../shared/bench/seed_torch.py
table=$(mktemp)
for batch in 64000 1280000; do
  steps=$([ "$batch" -ge 1000000 ] && echo 10 || echo 50)
  build/gpu/apps/swirl bench --device cuda --batch "$batch" --steps "$steps" --warmup 3 --json >> "$table" || echo "swirl bench failed at $batch"
  if [ -f "$seed_torch" ]; then
    python3 "$seed_torch" --device cuda --batch "$batch" --steps "$steps" --json >> "$table" || echo "torch failed at $batch"
    python3 "$seed_torch" --device cuda --gpu-data --batch "$batch" --steps "$steps" --json | sed 's/"impl": "pytorch/"impl": "pytorch-gpu-data/' >> "$table" || true
  fi
done
python3 - "$table" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
seed = {r["batch"]: r for r in rows if r["impl"].startswith("pytorch-") and "gpu-data" not in r["impl"]}
def cell(r, key, fmt):
    return format(r[key], fmt) if key in r else "-"
print("\n| impl | device | batch | steps/s | samples/s | vs seed code | step ms | floor ms | % of floor | kernels/step | MB/step |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    ref = seed.get(r["batch"])
    ratio = f"{r['samples_per_s'] / ref['samples_per_s']:.2f}x" if ref else "-"
    share = f"{100 * r['floor_share']:.0f}%" if "floor_share" in r else "-"
    mb = f"{r['bytes_per_step'] / 1e6:,.0f}" if "bytes_per_step" in r else "-"
    print(f"| {r['impl']} | {r['device']} | {r['batch']:,} | {r['steps_per_s']:.1f} | {r['samples_per_s']:,.0f} | {ratio} "
          f"| {1e3 / r['steps_per_s']:.3f} | {cell(r, 'floor_ms', '.3f')} | {share} | {cell(r, 'kernels_per_step', '.0f')} | {mb} |")
for r in rows:
    if "fma_peak_gflops" in r and r["impl"] == "swirl":
        print(f"\nswirl on {r['device']}: measured FMA peak {r['fma_peak_gflops']:,.0f} GFLOP/s, copy bandwidth "
              f"{r['bandwidth_gbs']:,.0f} GB/s; floor = max(FLOPs / peak, the ops' bytes / bandwidth).")
        break
PY
