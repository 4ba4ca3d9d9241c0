#!/usr/bin/env bash
# The GPU check, for a machine with an NVIDIA GPU: configure with CUDA (arch 90 by default), build, run the CUDA
# tests, then swirl bench --device cuda against the seed's step in PyTorch (scripts/torch_reference.py) on the GPU at batch 64000 and 1,280,000
# (and one t per sample at 64000; and swirl with TF32 at 1,280,000), print a short table, train briefly with
# `swirl train --device cuda`, check that a resumed run on the GPU repeats an uninterrupted one byte for byte,
# run two ranks under mpirun against one process (sharing GPU 0, summing through the host; with two GPUs or more,
# also one GPU a rank, summing with NCCL), and last run the whole suite. Usage: scripts/gpu-check.sh [ARCH]
#
# The lent GPU machine reaches no package registry: first run `bash scripts/gpu-deps.sh` on a machine that does,
# which unpacks the Debian build dependencies into .gpu-deps/, and carry .gpu-deps along. Files go to $OUT when it is set (the device tool brings back at most 8 from there), else to
# build/gpu-logs: gpu-check.log (everything verbose), table.md, bench.jsonl and the training run's two figures.
#
# SWIRL_GPU_CHECK_DRY_RUN=1 runs the same script on the CPU with small batches (the CUDA tests report Skipped):
# how the script itself is tested on a machine without a GPU.
set -uo pipefail
cd "$(dirname "$0")/.."
arch=${1:-90}
dry_run=${SWIRL_GPU_CHECK_DRY_RUN:-0}
# A run: batch, t-sampling, and "tf32" to let swirl's float32 matmuls use TF32 tensor cores (no PyTorch run then).
device=cuda runs=("64000 batch" "64000 sample" "1280000 batch" "1280000 batch tf32") train_steps=2000
[ "$dry_run" = 1 ] && device=cpu runs=("2000 batch" "2000 sample" "20000 batch") train_steps=200
logs=${OUT:-build/gpu-logs}
mkdir -p "$logs"
log=$logs/gpu-check.log
: > "$log"
start=$SECONDS
phase() { echo "== $* ($((SECONDS - start)) s)" | tee -a "$log"; }
[ "$dry_run" = 1 ] || nvidia-smi -L || { echo "no GPU visible to nvidia-smi" >&2; exit 1; }

deps=$PWD/.gpu-deps
cmake_deps=()
if [ -d "$deps/root/usr" ]; then
  # Exported, not only passed: the install test configures a project of its own that must find them too.
  export CMAKE_PREFIX_PATH="$deps/root/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  export LD_LIBRARY_PATH="$deps/root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
else
  bash scripts/install-deps.sh >> "$log" 2>&1 || echo "install-deps failed: see $log"
fi

# nvcc from $CUDA_HOME or the usual place when it is not on the PATH; cuBLAS, cuRAND and NCCL wherever this image
# keeps them (a pip-installed toolkit keeps them outside its own lib folder), for CMake and for the loader.
command -v nvcc > /dev/null || [ -n "${CUDA_HOME:-}" ] || { [ -x /usr/local/cuda/bin/nvcc ] && export CUDA_HOME=/usr/local/cuda; }
[ -n "${CUDA_HOME:-}" ] && export CUDAToolkit_ROOT=$CUDA_HOME
cuda_libs=$(find /usr/local /usr/lib /opt -xdev \( -name 'libcublas.so.[0-9]*' -o -name 'libcurand.so.[0-9]*' \
            -o -name 'libnccl.so.[0-9]*' \) 2> /dev/null | xargs -r -n1 dirname | sort -u | paste -sd';' -)
[ -n "$cuda_libs" ] && cmake_deps+=(-DSWIRL_CUDA_LIBRARY_DIRS="$cuda_libs")

phase "configure and build (CUDA arch $arch)"
cmake -S . -B build/gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DSWIRL_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$arch" \
      -DSWIRL_WERROR=OFF ${cmake_deps[@]+"${cmake_deps[@]}"} >> "$log" 2>&1 || { tail -30 "$log"; exit 1; }
# Warnings do not stop this build (CI holds them to -Werror): another compiler version must not cost a GPU run.
cmake --build build/gpu -j "$(nproc)" >> "$log" 2>&1 || { grep -E "error|FAILED" "$log" | head -30; exit 1; }
echo "build: $(grep -c "warning:" "$log") warnings (in $log)"
grep -E "^-- +(CUDA|MPI|NCCL) " "$log"  # the configure summary's lines: NCCL needs CUDA, MPI and libnccl

phase "CUDA tests"
ctest --test-dir build/gpu -R "cuda_tests|^cuda: " --output-on-failure > "$logs/cuda-tests.tmp" 2>&1
grep -E "tests passed|tests failed|Failed|\*\*\*" "$logs/cuda-tests.tmp" | head -20
grep -B2 -A12 "ERROR" "$logs/cuda-tests.tmp" | head -60
cat "$logs/cuda-tests.tmp" >> "$log" && rm "$logs/cuda-tests.tmp"
echo "an index out of range on the device (its message, then the error swirl reports):"
build/gpu/tests/cuda_index_trap 2>&1 | tail -3 | cut -c1-200

phase "swirl bench --device $device and the PyTorch reference"
torch_reference=scripts/torch_reference.py
torch_ok=0; python3 -c "import torch" 2> /dev/null && torch_ok=1
table=$logs/bench.jsonl
: > "$table"
for run in "${runs[@]}"; do
  set -- $run
  batch=$1 mode=$2 tf32=$([ "${3:-}" = tf32 ] && echo --tf32 || true)
  steps=$([ "$batch" -ge 1000000 ] && echo 10 || echo 50)
  build/gpu/apps/swirl bench --device "$device" --batch "$batch" --steps "$steps" --warmup 3 --warmup-seconds 0.5 --t-sampling "$mode" $tf32 \
    --json >> "$table" 2>> "$log" || echo "swirl bench failed at $batch, $mode $tf32: $(tail -1 "$log")"
  [ "$torch_ok" = 1 ] && [ -z "$tf32" ] || continue
  per_sample=$([ "$mode" = sample ] && echo --per-sample-t || true)
  python3 "$torch_reference" --device "$device" --batch "$batch" --steps "$steps" $per_sample --json 2>> "$log" \
    >> "$table" || echo "torch failed at $batch, $mode"
  python3 "$torch_reference" --device "$device" --gpu-data --batch "$batch" --steps "$steps" $per_sample --json \
    2>> "$log" | sed -e 's/"impl": "pytorch/"impl": "pytorch-gpu-data/' >> "$table" || true
done
python3 - "$table" <<'PY' | tee "$logs/table.md"
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
def mode(r):
    return r.get("t_sampling", "batch")
seed = {(r["batch"], mode(r)): r for r in rows if r["impl"].startswith("pytorch-") and "gpu-data" not in r["impl"]}
def cell(r, key, fmt):
    return format(r[key], fmt) if key in r else "-"
print("\n| impl | device | batch | t | steps/s | samples/s | vs seed code | step ms | floor ms | % of floor | kernels/step | MB/step |")
print("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    ref = seed.get((r["batch"], mode(r)))
    ratio = f"{r['samples_per_s'] / ref['samples_per_s']:.2f}x" if ref else "-"
    share = f"{100 * r['floor_share']:.0f}%" if "floor_share" in r else "-"
    mb = f"{r['bytes_per_step'] / 1e6:,.0f}" if "bytes_per_step" in r else "-"
    impl = r["impl"] + (" (tf32)" if r.get("tf32") else "")
    print(f"| {impl} | {r['device']} | {r['batch']:,} | {mode(r)} | {r['steps_per_s']:.1f} | {r['samples_per_s']:,.0f} "
          f"| {ratio} | {1e3 / r['steps_per_s']:.3f} | {cell(r, 'floor_ms', '.3f')} | {share} "
          f"| {cell(r, 'kernels_per_step', '.0f')} | {mb} |")
for r in rows:
    if "fma_peak_gflops" in r and r["impl"] == "swirl" and not r.get("tf32"):
        print(f"\nswirl on {r['device']}: measured FMA peak {r['fma_peak_gflops']:,.0f} GFLOP/s, copy bandwidth "
              f"{r['bandwidth_gbs']:,.0f} GB/s; floor = max(FLOPs / peak, the ops' bytes / bandwidth); "
              f"device memory peak {r.get('device_peak_mb', 0):,.0f} MB at batch {r['batch']:,}.")
        break
PY

phase "swirl train --device $device (defaults, $train_steps steps), then eval"
run_dir=$(mktemp -d)
train_start=$SECONDS
build/gpu/apps/swirl train --device "$device" --steps "$train_steps" --out "$run_dir" > "$logs/train.tmp" 2>&1 ||
  echo "train failed: $(tail -3 "$logs/train.tmp")"
echo "train: $train_steps steps in $((SECONDS - train_start)) s (with start-up and figures)"
tail -2 "$logs/train.tmp"; cat "$logs/train.tmp" >> "$log"; rm -f "$logs/train.tmp"
build/gpu/apps/swirl eval --checkpoint "$run_dir/checkpoint.safetensors" --device "$device" --json 2>> "$log" |
  python3 -c 'import json, sys; r = json.load(sys.stdin); print("eval: " + ", ".join(f"{k} {r[k]:.4f}" for k in
    ("K_bits", "L_null_bits", "K_minus_L_null_bits", "energy_distance")))' || echo "eval failed"
cp "$(ls "$run_dir"/figures/step_*.png | tail -1)" "$run_dir"/figures/loss.png "$logs/" 2>/dev/null || true

phase "swirl train --device $device: 15 + 25 resumed steps against 40 (checkpoint bytes and losses)"
SWIRL_TEST_DEVICE=$device bash tests/cli_test.sh build/gpu/apps/swirl resume-is-bit-exact 2>&1 | tail -2

phase "mpirun -np 2 swirl train --device $device: two ranks on one GPU (local rank % count), against one process, --shards 2"
# One GPU, GPU 0 on any machine (CUDA_VISIBLE_DEVICES=0): both ranks share it, which tests the sums and the rank
# mapping, not the speed-up. NCCL refuses two ranks on one GPU, so these two sum through the host
# (tensor/README.md#data-parallel); NCCL runs only with a GPU a rank, in the next phase.
echo "two ranks on one GPU: the sum over ranks goes through the host; NCCL needs two GPUs or more"
if command -v mpirun > /dev/null; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  mpi_dir=$(mktemp -d)
  common=(train --device "$device" --steps 30 --batch 4096 --shards 2 --save-every 0 --figure-points 200)
  build/gpu/apps/swirl "${common[@]}" --out "$mpi_dir/one" > /dev/null 2>> "$log" || echo "one process failed"
  mpirun -np 2 --oversubscribe -x CUDA_VISIBLE_DEVICES=0 build/gpu/apps/swirl "${common[@]}" --out "$mpi_dir/two" \
    > /dev/null 2>> "$log" || echo "mpirun -np 2 failed: $(tail -2 "$log")"
  if cmp -s "$mpi_dir/one/checkpoint.safetensors" "$mpi_dir/two/checkpoint.safetensors"; then
    echo "2 ranks: the same checkpoint bytes as one process"
  else
    echo "2 ranks: the checkpoint differs from one process's (or a run failed)"
  fi
  mpirun -np 2 --oversubscribe -x CUDA_VISIBLE_DEVICES=0 build/gpu/apps/swirl bench --device "$device" --batch 64000 \
    --steps 20 --shards 2 --json > "$mpi_dir/bench.json" 2>> "$log" || echo "mpirun bench failed"
  python3 - "$mpi_dir/bench.json" <<'PY' || true
import json, sys
r = json.load(open(sys.argv[1]))
print(f"bench, 2 ranks: {r['samples_per_s']:,.0f} samples/s, the sum over ranks {r['allreduce_ms_per_step']:.3f} ms "
      f"and {r['allreduce_mb_per_step']:.2f} MB a step, through {r['allreduce_transport']}")
PY
else
  echo "no mpirun: skipped"
fi

phase "NCCL: mpirun -np 2 swirl train --device cuda on two GPUs, against one process, --shards 2"
# A GPU a rank: the sum over ranks runs through NCCL on the device (tensor/cuda/collective.h). The transport must not
# change the bits: the checkpoint must be one process's, byte for byte, as through the host. NCCL's warnings go to
# the log (NCCL_DEBUG=WARN).
gpu_count=0
[ "$dry_run" = 1 ] || gpu_count=$(nvidia-smi -L 2> /dev/null | wc -l)
if [ "$gpu_count" -ge 2 ] && command -v mpirun > /dev/null; then
  nccl_dir=$(mktemp -d)
  common=(train --device cuda --steps 30 --batch 4096 --shards 2 --save-every 0 --figure-points 200)
  build/gpu/apps/swirl "${common[@]}" --out "$nccl_dir/one" > /dev/null 2>> "$log" || echo "one process failed"
  mpirun -np 2 -x NCCL_DEBUG=WARN build/gpu/apps/swirl "${common[@]}" --out "$nccl_dir/two" > /dev/null 2>> "$log" ||
    echo "mpirun -np 2 on two GPUs failed: $(tail -2 "$log")"
  if cmp -s "$nccl_dir/one/checkpoint.safetensors" "$nccl_dir/two/checkpoint.safetensors"; then
    echo "2 ranks on 2 GPUs: the same checkpoint bytes as one process"
  else
    echo "2 ranks on 2 GPUs: the checkpoint differs from one process's (or a run failed)"
  fi
  mpirun -np 2 -x NCCL_DEBUG=WARN build/gpu/apps/swirl bench --device cuda --batch 64000 --steps 20 --shards 2 \
    --json > "$nccl_dir/bench.json" 2>> "$log" || echo "mpirun bench on two GPUs failed"
  python3 - "$nccl_dir/bench.json" 2>> "$log" <<'PY' || true
import json, sys
r = json.load(open(sys.argv[1]))
print(f"bench, 2 ranks on 2 GPUs: {r['samples_per_s']:,.0f} samples/s, the sum over ranks "
      f"{r['allreduce_ms_per_step']:.3f} ms and {r['allreduce_mb_per_step']:.2f} MB a step, through "
      f"{r['allreduce_transport']}" + ("" if r["allreduce_transport"] == "nccl" else " (expected nccl)"))
PY
else
  echo "skipped: NCCL needs two GPUs ($gpu_count here) and mpirun"
fi

phase "the whole suite on the GPU build"
ctest --test-dir build/gpu -j 8 > "$logs/suite.tmp" 2>&1
grep -E "tests passed|tests failed" "$logs/suite.tmp"
grep -E "\(Failed\)|\(Timeout\)|Exception" "$logs/suite.tmp" | head -20
cat "$logs/suite.tmp" >> "$log"; rm -f "$logs/suite.tmp"
phase "done"
