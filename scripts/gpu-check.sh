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
print("\n| impl | device | batch | steps/s | samples/s |")
print("|---|---|---:|---:|---:|")
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(f"| {r['impl']} | {r['device']} | {r['batch']} | {r['steps_per_s']:.1f} | {r['samples_per_s']:,.0f} |")
PY
