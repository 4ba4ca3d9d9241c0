#!/usr/bin/env bash
# End-to-end tests of the swirl command line. Usage: cli_test.sh SWIRL_BINARY SCENARIO
# Each scenario prints what it checks and exits non-zero on the first failure. SWIRL_TEST_DEVICE (default cpu)
# is the device of the short training runs (scripts/gpu-check.sh runs resume-is-bit-exact with cuda).
set -euo pipefail
swirl=$1
scenario=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
# expect_exit CODE MESSAGE-PATTERN COMMAND...: the command exits with CODE and prints one line matching PATTERN.
expect_exit() {
  local code=$1 pattern=$2; shift 2
  set +e; "$@" > "$work/stdout" 2> "$work/stderr"; local got=$?; set -e
  [ "$got" -eq "$code" ] || fail "exit $got, expected $code: $* ($(cat "$work/stderr"))"
  grep -q -- "$pattern" "$work/stderr" || fail "stderr of '$*' lacks '$pattern': $(cat "$work/stderr")"
  echo "ok: exit $code, '$pattern': $*"
}
short_train() {
  "$swirl" train --batch 64 --threads 1 --figure-points 200 --device "${SWIRL_TEST_DEVICE:-cpu}" "$@" > /dev/null
}
# paused_at DIR STEP: the run in DIR stopped after STEP: its checkpoint holds that step and loss.csv ends there (a
# resume test whose first piece ran to the end would compare a finished run with itself).
paused_at() {
  python3 - "$1/checkpoint.safetensors" "$1/loss.csv" "$2" <<'PY' || fail "$1 did not stop after step $2"
import json, struct, sys
data = open(sys.argv[1], "rb").read()
(length,) = struct.unpack("<Q", data[:8])
step = json.loads(data[8:8 + length])["__metadata__"]["step"]
rows = open(sys.argv[2]).read().splitlines()
assert step == sys.argv[3] and len(rows) == int(sys.argv[3]) + 1 and rows[-1].startswith(sys.argv[3] + ","), (step, len(rows))
PY
}

case "$scenario" in
  train-writes-outputs)
    short_train --steps 30 --save-every 10 --plot-every 10 --out "$work/run"
    for f in checkpoint.safetensors loss.csv figures/step_0000010.png figures/step_0000030.png figures/loss.png; do
      [ -s "$work/run/$f" ] || fail "missing $f"
    done
    [ "$(head -1 "$work/run/loss.csv")" = "step,loss" ] || fail "loss.csv header"
    [ "$(wc -l < "$work/run/loss.csv")" -eq 31 ] || fail "loss.csv should have 30 rows"
    ls "$work/run" | grep -q tmp && fail "a temporary file was left behind"
    echo "ok: checkpoint, loss.csv, figures written" ;;
  resume-is-bit-exact)
    # The default cosine lr: a run stopped at step 15 of 40 resumes to its own total (no --steps given).
    short_train --steps 40 --out "$work/straight"
    short_train --steps 40 --stop-at 15 --out "$work/resumed"
    paused_at "$work/resumed" 15
    short_train --resume "$work/resumed/checkpoint.safetensors" --out "$work/resumed"
    paused_at "$work/resumed" 40
    cmp "$work/straight/checkpoint.safetensors" "$work/resumed/checkpoint.safetensors" ||
      fail "resumed checkpoint differs from the uninterrupted run's"
    cmp "$work/straight/loss.csv" "$work/resumed/loss.csv" || fail "resumed loss.csv differs"
    echo "ok: 15 + 25 resumed steps (cosine lr) give the same checkpoint bytes and losses as 40 steps"
    # A constant lr: a finished 15-step run extended to 40 by --steps.
    short_train --lr-schedule constant --steps 40 --out "$work/straight_constant"
    short_train --lr-schedule constant --steps 15 --out "$work/extended"
    paused_at "$work/extended" 15
    short_train --steps 40 --resume "$work/extended/checkpoint.safetensors" --out "$work/extended"
    paused_at "$work/extended" 40
    cmp "$work/straight_constant/checkpoint.safetensors" "$work/extended/checkpoint.safetensors" ||
      fail "extended checkpoint differs from the uninterrupted run's"
    echo "ok: a 15-step constant-lr run extended to 40 gives the same checkpoint bytes as 40 steps"
    # Another --steps under the cosine would bend its curve: refused, naming both.
    expect_exit 1 "steps 60 differs from the checkpoint's --steps 40" \
      "$swirl" train --batch 64 --threads 1 --steps 60 --resume "$work/straight/checkpoint.safetensors" --out "$work/more" ;;
  sample-and-eval)
    short_train --steps 5 --out "$work/run"
    "$swirl" sample --checkpoint "$work/run/checkpoint.safetensors" --n 100 --csv "$work/s.csv" --png "$work/s.png" > /dev/null
    [ "$(wc -l < "$work/s.csv")" -eq 100 ] || fail "sample csv should have 100 lines"
    grep -Eqv '^-?[0-9.e+-]+,-?[0-9.e+-]+$' "$work/s.csv" && fail "sample csv lines must be x,y"
    [ -s "$work/s.png" ] || fail "sample png missing"
    "$swirl" eval --checkpoint "$work/run/checkpoint.safetensors" --n 300 --json > "$work/eval.json"
    python3 - "$work/eval.json" <<'PY'
import json, math, sys
report = json.load(open(sys.argv[1]))
for key in ('K_bits', 'K_unit_bits', 'L_null_bits', 'K_minus_L_null_bits', 'energy_distance'):
    assert key in report and math.isfinite(report[key]), key
assert len(report['kl_per_step_bits']) == 39
print('ok: eval --json has K_bits, K_unit_bits, L_null_bits, K_minus_L_null_bits, energy_distance')
PY
    ;;
  sample-memory-is-flat)
    # swirl sample streams its CSV a chunk of samples at a time: 10x the points may not take more than 1.2x the
    # peak memory (holding them all took ~480 bytes a point). The peak is the process's maximum resident set.
    short_train --steps 5 --out "$work/run"
    peak_kb() {
      python3 - "$@" <<'PY'
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
PY
    }
    # Under AddressSanitizer freed memory waits in a quarantine before reuse: without one the peak is the program's.
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0"
    small=$(peak_kb "$swirl" sample --checkpoint "$work/run/checkpoint.safetensors" --n 20000 --csv "$work/small.csv")
    large=$(peak_kb "$swirl" sample --checkpoint "$work/run/checkpoint.safetensors" --n 200000 --csv "$work/large.csv")
    [ "$(wc -l < "$work/large.csv")" -eq 200000 ] || fail "the CSV of 200000 samples has $(wc -l < "$work/large.csv") lines"
    python3 -c "import sys; sys.exit(0 if $large <= 1.2 * $small else 1)" ||
      fail "200000 samples peaked at $large KB, 20000 at $small KB: more than 1.2x"
    echo "ok: swirl sample peaks at $small KB for 20000 points and $large KB for 200000" ;;
  checkpoint-readable-by-python)
    short_train --steps 3 --out "$work/run"
    python3 "$here/golden/check_swirl_checkpoint.py" "$work/run/checkpoint.safetensors" ;;
  bad-input-is-refused)
    expect_exit 2 "steps" "$swirl" train --steps -3
    expect_exit 2 "t-sampling" "$swirl" train --t-sampling often
    expect_exit 2 "lr" "$swirl" train --lr abc
    expect_exit 2 "checkpoint" "$swirl" sample --checkpoint "$work/missing.safetensors" --csv "$work/x.csv"
    printf 'garbage' > "$work/bad.safetensors"
    expect_exit 1 "bad.safetensors" "$swirl" eval --checkpoint "$work/bad.safetensors"
    expect_exit 1 "unknown device" "$swirl" train --device tpu --out "$work/d"
    expect_exit 1 "--tf32 needs --device cuda" "$swirl" train --tf32 --steps 1 --out "$work/d"
    expect_exit 1 "--tf32 needs --device cuda" "$swirl" bench --tf32 --batch 10 --steps 1
    # A batch past any machine's memory: one line, exit 1 (its first tensor, 364 TiB, is past any 47-bit address
    # space, whatever the overcommit policy).
    expect_exit 1 "out of host memory" "$swirl" bench --batch 100000000000000 --steps 1 --warmup 0
    expect_exit 1 "out of host memory" "$swirl" train --batch 100000000000000 --steps 1 --out "$work/d"
    if ! nvidia-smi -L > /dev/null 2>&1; then  # on a machine without a GPU, --device cuda is one clear line
      expect_exit 1 "CUDA" "$swirl" train --device cuda --steps 1 --out "$work/c"
      [ "$(wc -l < "$work/stderr")" -eq 1 ] || fail "--device cuda without a GPU printed more than one line"
    fi
    touch "$work/file"
    expect_exit 1 "output directory" "$swirl" train --steps 1 --out "$work/file/sub"
    short_train --steps 2 --out "$work/run"
    expect_exit 1 "nothing to write" "$swirl" sample --checkpoint "$work/run/checkpoint.safetensors"
    expect_exit 1 "past --steps" "$swirl" train --steps 1 --lr-schedule constant --resume "$work/run/checkpoint.safetensors" --out "$work/run" ;;
  signal-stops-cleanly)
    "$swirl" train --steps 1000000 --batch 64 --threads 1 --save-every 0 --out "$work/run" > /dev/null 2> "$work/stderr" &
    pid=$!
    sleep 1.5
    kill -TERM "$pid"
    set +e; wait "$pid"; code=$?; set -e
    [ "$code" -eq 143 ] || fail "SIGTERM: exit $code, expected 143"
    grep -q "stopped by SIGTERM" "$work/stderr" || fail "SIGTERM: no message: $(cat "$work/stderr")"
    "$swirl" sample --checkpoint "$work/run/checkpoint.safetensors" --n 10 --csv "$work/s.csv" > /dev/null
    [ -s "$work/run/loss.csv" ] || fail "SIGTERM: loss.csv not written"
    echo "ok: SIGTERM finishes the step, writes a readable checkpoint and loss.csv, exits 143" ;;
  sigkill-and-resume-is-bit-exact)
    args=(--steps 400 --batch 64 --threads 1 --save-every 9 --figure-points 100)
    interrupted=0
    "$swirl" train "${args[@]}" --out "$work/straight" > /dev/null
    for kill_round in 1 2 3; do
      resume=(); [ -f "$work/killed/checkpoint.safetensors" ] && resume=(--resume "$work/killed/checkpoint.safetensors")
      "$swirl" train "${args[@]}" "${resume[@]}" --out "$work/killed" > /dev/null 2>&1 &
      pid=$!
      sleep "0.$(( (RANDOM % 6) + 2 ))"
      kill -KILL "$pid" 2> /dev/null || true
      set +e; wait "$pid" 2> /dev/null; code=$?; set -e
      [ "$code" -eq 137 ] && interrupted=$((interrupted + 1))
      if [ -f "$work/killed/checkpoint.safetensors" ]; then
        "$swirl" sample --checkpoint "$work/killed/checkpoint.safetensors" --n 5 --csv "$work/probe.csv" > /dev/null ||
          fail "round $kill_round: the checkpoint left by SIGKILL does not load"
      fi
      echo "ok: round $kill_round killed; checkpoint intact"
    done
    # A round that finished before its kill proves nothing: at least one must have been killed mid-run.
    [ "$interrupted" -ge 1 ] || fail "no round was killed before it finished: the runs are too fast for the sleeps"
    resume=(); [ -f "$work/killed/checkpoint.safetensors" ] && resume=(--resume "$work/killed/checkpoint.safetensors")
    "$swirl" train "${args[@]}" "${resume[@]}" --out "$work/killed" > /dev/null
    cmp "$work/straight/checkpoint.safetensors" "$work/killed/checkpoint.safetensors" ||
      fail "after three SIGKILLs and resumes the final checkpoint differs from the uninterrupted run's"
    echo "ok: killed three times at random moments ($interrupted mid-run), resumed, final checkpoint identical byte for byte" ;;
  divergence-keeps-last-checkpoint)
    short_train --steps 10 --out "$work/run"
    expect_exit 1 "training diverged: the loss is" "$swirl" train --steps 300 --lr 1e30 --lr-schedule constant --save-every 1 --threads 1 \
      --resume "$work/run/checkpoint.safetensors" --out "$work/run"
    python3 "$here/golden/check_swirl_checkpoint.py" "$work/run/checkpoint.safetensors" > /dev/null ||
      fail "the kept checkpoint is not a valid checkpoint with finite weights"
    expect_exit 1 "detect-anomaly: the" "$swirl" train --steps 300 --lr 1e30 --threads 1 --detect-anomaly \
      --resume "$work/run/checkpoint.safetensors" --out "$work/run2"
    # The last step's update is not finite while its loss was: the final save refuses and keeps step 10's file.
    short_train --steps 10 --out "$work/last"
    cp "$work/last/checkpoint.safetensors" "$work/last-good.st"
    expect_exit 1 "parameter .* is not finite after step 11" "$swirl" train --steps 11 --lr 1e39 --lr-schedule constant \
      --threads 1 --resume "$work/last/checkpoint.safetensors" --out "$work/last"
    cmp "$work/last-good.st" "$work/last/checkpoint.safetensors" || fail "a non-finite last step overwrote the checkpoint"
    echo "ok: divergence names its step and keeps a finite checkpoint, also at the last step; --detect-anomaly names the op" ;;
  damaged-checkpoints-are-refused)
    short_train --steps 2 --out "$work/run"
    good="$work/run/checkpoint.safetensors"
    size=$(stat -c %s "$good")
    refuse() {  # refuse NAME PATTERN: eval on $work/NAME exits 1 with one line naming the file and PATTERN
      expect_exit 1 "$1.*$2" "$swirl" eval --checkpoint "$work/$1" --n 10
      [ "$(wc -l < "$work/stderr")" -eq 1 ] || fail "$1: more than one line"
    }
    : > "$work/empty.st"; refuse empty.st "too short"
    for cut in 4 100 $((size / 2)) $((size - 1)); do head -c "$cut" "$good" > "$work/cut$cut.st"; refuse "cut$cut.st" "."; done
    python3 - "$good" "$work" <<'PY'
import struct, sys
data = bytearray(open(sys.argv[1], 'rb').read())
(n,) = struct.unpack('<Q', data[:8])
def save(name, blob): open(f"{sys.argv[2]}/{name}", 'wb').write(blob)
save('absurd.st', struct.pack('<Q', 1 << 62) + data[8:])
save('garbage.st', struct.pack('<Q', 16) + b'{"a": [1, 2, 3' + b' ' * 2 + data[24:])
flipped = bytearray(data); flipped[-3] ^= 0x10; save('data_flip.st', flipped)
flipped = bytearray(data); flipped[8 + n // 2] ^= 0x01; save('header_flip.st', flipped)
head = data[8:8 + n].replace(b'"hidden":"64"', b'"hidden":"65"'); save('arch.st', data[:8] + head + data[8 + n:])
PY
    refuse absurd.st "header length"
    refuse garbage.st "not valid JSON"
    refuse data_flip.st "data section's CRC-32"
    refuse header_flip.st "."
    refuse arch.st "header's CRC-32"
    expect_exit 2 "missing.st" "$swirl" eval --checkpoint "$work/missing.st"
    echo "ok: empty, truncated, absurd length, garbage JSON, flipped data, flipped header, edited header, missing" ;;
  threads-do-not-change-results)
    # Batches large enough for every parallel path: row tiles, split sums (K = 20000 > 16384), blocked reductions.
    for t_sampling in batch sample; do
      for threads in 1 2; do
        "$swirl" train --steps 4 --batch 20000 --threads "$threads" --t-sampling "$t_sampling" --figure-points 100 \
          --out "$work/$t_sampling-$threads" > /dev/null
      done
      cmp "$work/$t_sampling-1/checkpoint.safetensors" "$work/$t_sampling-2/checkpoint.safetensors" ||
        fail "--t-sampling $t_sampling: --threads 1 and --threads 2 give different checkpoints"
      cmp "$work/$t_sampling-1/loss.csv" "$work/$t_sampling-2/loss.csv" || fail "losses differ with the thread count"
    done
    for threads in 1 2; do
      "$swirl" train --steps 4 --batch 20000 --threads "$threads" --schedule learned --figure-points 100 \
        --out "$work/learned-$threads" > /dev/null
    done
    cmp "$work/learned-1/checkpoint.safetensors" "$work/learned-2/checkpoint.safetensors" ||
      fail "--schedule learned: --threads 1 and --threads 2 give different checkpoints"
    echo "ok: --threads 1 and --threads 2 give identical checkpoints and losses (both t-samplings, and a learned schedule)" ;;
  omp-binding-keeps-every-cpu)
    # swirl runs itself again to set libgomp's spin; under OMP_PROC_BIND, OMP_PLACES or GOMP_CPU_AFFINITY libgomp
    # has bound the first run's thread to one place by then, and the second run must not inherit that one CPU.
    cpus=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)
    if [ "$cpus" -lt 2 ]; then echo "skipped: one CPU, so a run bound to one place has all of them"; exit 0; fi
    threads_under() {  # threads_under VAR=VALUE [taskset -c L]: the threads swirl bench starts
      env -u OMP_NUM_THREADS -u GOMP_SPINCOUNT -u OMP_WAIT_POLICY -u GLIBC_TUNABLES "$@" \
        "$swirl" bench --batch 64 --steps 2 --warmup 1 --warmup-seconds 0 --json |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["threads"])'
    }
    for binding in OMP_PROC_BIND=true OMP_PLACES=cores "GOMP_CPU_AFFINITY=0-$((cpus - 1))"; do
      got=$(threads_under "$binding")
      [ "$got" -eq "$cpus" ] || fail "$binding: swirl bench started $got threads on $cpus CPUs"
      echo "ok: $binding: $got threads on $cpus CPUs"
    done
    got=$(threads_under OMP_PROC_BIND=true taskset -c 0)  # and a narrower affinity the user chose stays narrow
    [ "$got" -eq 1 ] || fail "taskset -c 0 with OMP_PROC_BIND=true: $got threads, expected 1"
    echo "ok: taskset -c 0 with OMP_PROC_BIND=true: 1 thread" ;;
  bench-reports-speed-and-floor)
    for t_sampling in batch sample; do
      # Up to three runs: the floor comes from a peak and a bandwidth measured on the spot, which another process on
      # a shared machine can depress for one probe; a wrong probe or timer fails every run.
      for attempt in 1 2 3; do
        begin=$(date +%s%N)
        "$swirl" bench --batch 2000 --steps 4 --warmup 1 --threads 1 --t-sampling "$t_sampling" --json > "$work/bench.json"
        wall=$(python3 -c "print(($(date +%s%N) - $begin) / 1e9)")
        if python3 -c "import json, sys; sys.exit(json.load(open('$work/bench.json'))['floor_share'] >= 1.25)"; then break; fi
        echo "note: attempt $attempt: the step ran faster than its floor by a quarter or more; measuring again"
      done
      python3 - "$work/bench.json" "$t_sampling" "$wall" <<'PY'
import json, math, sys
r = json.load(open(sys.argv[1]))
assert r["impl"] == "swirl" and r["device"] == "cpu" and r["batch"] == 2000 and r["t_sampling"] == sys.argv[2], r
assert r["tf32"] is False, r
assert r["ranks"] == 1 and r["allreduce_transport"] == "none", r  # one process sums over no ranks
for key in ("steps_per_s", "samples_per_s", "gflops", "fma_peak_gflops", "bandwidth_gbs", "flops_per_step",
            "bytes_per_step", "kernels_per_step", "step_ms", "compute_floor_ms", "memory_floor_ms", "floor_ms",
            "floor_share", "peak_rss_mb", "loss_mean"):
    assert key in r and math.isfinite(r[key]) and r[key] > 0, (key, r.get(key))
assert abs(r["flops_per_step"] - 51200 * 2000) < 1e-6, r["flops_per_step"]
# The floor is a lower bound of the step: a step faster than it by a quarter means a probe or the timer is wrong.
assert 0 < r["floor_share"] < 1.25, r["floor_share"]
# The timed steps lie inside the command's run, as this script's clock saw it.
wall = float(sys.argv[3])
assert r["seconds"] < wall and r["steps"] * r["step_ms"] / 1e3 < wall, (r["seconds"], r["step_ms"], wall)
# The data alone ([2000, 2] f32 read and written by several ops) is more than 16 kB a step.
assert r["bytes_per_step"] > 16000 and r["kernels_per_step"] >= 10, (r["bytes_per_step"], r["kernels_per_step"])
print(f"ok: bench --json ({sys.argv[2]}): {r['kernels_per_step']:.0f} kernels, {r['bytes_per_step'] / 1e6:.2f} MB, "
      f"floor {r['floor_ms']:.3f} ms of {r['step_ms']:.3f} ms")
PY
    done
    # The warm-up: --warmup steps at least, and more until --warmup-seconds have passed.
    "$swirl" bench --batch 500 --steps 2 --warmup 2 --warmup-seconds 0 --threads 1 --json > "$work/fixed.json"
    begin=$(date +%s%N)
    "$swirl" bench --batch 500 --steps 2 --warmup 1 --warmup-seconds 0.2 --threads 1 --json > "$work/timed.json"
    wall=$(python3 -c "print(($(date +%s%N) - $begin) / 1e9)")
    python3 - "$work/fixed.json" "$work/timed.json" "$wall" <<'PY'
import json, sys
fixed, timed = (json.load(open(path)) for path in sys.argv[1:3])
assert fixed["warmup_steps"] == 2, fixed["warmup_steps"]
# A step at batch 500 takes well under 0.1 s even under the sanitizers, so 0.2 s needs more than the one step, and
# the command, by this script's clock, ran at least that long.
assert timed["warmup_steps"] > 1, timed["warmup_steps"]
assert float(sys.argv[3]) >= 0.2, sys.argv[3]
print(f"ok: bench warms up --warmup steps ({fixed['warmup_steps']}), or for --warmup-seconds 0.2 ({timed['warmup_steps']} steps)")
PY
    expect_exit 2 "--warmup-seconds: must be a number >= 0" "$swirl" bench --batch 500 --steps 2 --warmup-seconds -1
    "$swirl" bench --batch 500 --steps 2 --warmup 0 --threads 1 > "$work/bench.txt"
    grep -q "floor .* ms = max(FLOPs at the FMA peak" "$work/bench.txt" || fail "bench's text lacks the floor line"
    grep -q "kernels, .* MB through its ops' operands" "$work/bench.txt" || fail "bench's text lacks the traffic line"
    echo "ok: bench's text report has the traffic and floor lines" ;;
  bench-ab-sets-two-runs-side-by-side)
    # scripts/bench-ab.sh against two stand-ins for swirl that log their arguments and report known samples/s:
    # A 1000 every run, B 1500, 2500, 2000 in turn. The table must say B / A has median 2.000 over 1.500..2.500,
    # and --a-args and --b-args must reach one side each.
    for side in a b; do
      cat > "$work/stub_$side" <<STUB
#!/usr/bin/env bash
echo "\$*" >> "$work/args_$side"
runs=\$(wc -l < "$work/args_$side")
if [ $side = a ]; then rate=1000; else rates=(2000 1500 2500); rate=\${rates[\$((runs % 3))]}; fi
echo "{\"samples_per_s\": \$rate}"
STUB
      chmod +x "$work/stub_$side"
    done
    bash "$here/../scripts/bench-ab.sh" "$work/stub_a" "$work/stub_b" --rounds 3 --batches "256 300" --steps 5 \
      --a-args "--t-sampling batch" --b-args "--t-sampling sample" -- --threads 1 > "$work/ab.txt"
    python3 - "$work/ab.txt" "$work/args_a" "$work/args_b" <<'PY'
import re, sys
rows = [line for line in open(sys.argv[1]) if re.match(r"\| \d", line)]
assert [r.split("|")[1].strip() for r in rows] == ["256", "300"], rows
for r in rows:
    a, b, median, span = (c.strip() for c in r.split("|")[2:6])
    assert (a, b, median, span) == ("1,000", "2,000", "2.000", "1.500..2.500"), r
a_args, b_args = (open(path).read().splitlines() for path in sys.argv[2:])
assert len(a_args) == len(b_args) == 6, (a_args, b_args)
for line in a_args:
    assert "--t-sampling batch" in line and "sample" not in line and "--threads 1" in line, line
for line in b_args:
    assert "--t-sampling sample" in line and "--t-sampling batch" not in line and "--threads 1" in line, line
print("ok: bench-ab.sh prints a row per batch with the medians and the ratio's range; --a-args and --b-args reach one side each")
PY
    set +e
    bash "$here/../scripts/bench-ab.sh" "$swirl" "$swirl" --rounds 1 --batches 256 --steps 2 \
      --b-args "--t-sampling nonsense" > /dev/null 2> "$work/ab.err"
    code=$?
    set -e
    [ "$code" -ne 0 ] && grep -q "nonsense not in" "$work/ab.err" || fail "bench-ab.sh with a bad --b-args: exit $code"
    expect_exit 2 "unknown argument '--bogus'" bash "$here/../scripts/bench-ab.sh" "$swirl" "$swirl" --bogus
    echo "ok: bench-ab.sh fails on a flag its B refuses" ;;
  bench-profile-adds-up)
    # --profile's phases, timed each on its own clock, cover the profiled step: they add up to it within 10%. Fused,
    # model, KL and backward are one op; plain (--no-fuse), each its own phase.
    for t_sampling in batch sample; do
      for path in fused plain; do
        flags=()
        [[ $path == plain ]] && flags=(--no-fuse)
        "$swirl" bench --batch 4096 --steps 20 --warmup 2 --threads 1 --t-sampling "$t_sampling" --param eps \
          --variance full --profile --json "${flags[@]}" > "$work/profile.json"
        python3 - "$work/profile.json" "$t_sampling" "$path" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
p = r["profile"]
phases = p["phases_ms"]
if sys.argv[3] == "fused":
    expected = ["data", "forward process", "model, KL, backward", "backward", "Adam"]
else:
    expected = ["data", "forward process", "model forward", "reverse step and KL", "backward", "Adam"]
assert list(phases) == expected, list(phases)
assert all(ms > 0 for ms in phases.values()), phases
total = sum(phases.values())
assert 0.9 * p["step_ms"] <= total <= 1.0 * p["step_ms"], (total, p["step_ms"])
assert (r["param"], r["variance"]) == ("eps", "full"), r
print(f"ok: bench --profile ({sys.argv[2]}, {sys.argv[3]}): phases {total:.3f} ms of a {p['step_ms']:.3f} ms step, "
      + ", ".join(f"{k} {v:.3f}" for k, v in phases.items()))
PY
      done
    done
    # A learned schedule: the betas train too (a phase's worth of backward through the schedule's table).
    "$swirl" bench --batch 512 --steps 5 --warmup 1 --threads 1 --schedule learned --param eps --variance full \
      --profile --json > "$work/learned.json"
    python3 - "$work/learned.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
p = r["profile"]
assert r["schedule"] == "learned", r
assert list(p["phases_ms"]) == ["data", "schedule", "forward process", "model, KL, backward", "backward", "Adam"], p
total = sum(p["phases_ms"].values())
assert 0.9 * p["step_ms"] <= total <= 1.0 * p["step_ms"], (total, p["step_ms"])
print(f"ok: bench --schedule learned --profile: phases {total:.3f} ms of a {p['step_ms']:.3f} ms step")
PY
    "$swirl" bench --batch 500 --steps 2 --warmup 0 --threads 1 --profile > "$work/profile.txt"
    grep -q "profile (2 more steps" "$work/profile.txt" && grep -q "^    backward " "$work/profile.txt" &&
      grep -q "^    rest " "$work/profile.txt" || fail "bench --profile's text lacks the phase table"
    echo "ok: bench --profile's text report lists the phases and the rest" ;;
  plain-path-matches-fused)
    for t_sampling in batch sample; do
      "$swirl" train --batch 64 --threads 1 --figure-points 200 --steps 20 --t-sampling "$t_sampling" \
        --out "$work/fused_$t_sampling" > "$work/fused.txt"
      "$swirl" train --batch 64 --threads 1 --figure-points 200 --steps 20 --t-sampling "$t_sampling" --no-fuse \
        --out "$work/plain_$t_sampling" > "$work/plain.txt"
      # The library's switch as training ran (nn::fusion_enabled), not the flag: equal losses alone would pass a
      # train that ignored --no-fuse.
      grep -q "^swirl train: .* path=fused " "$work/fused.txt" && grep -q "^swirl train: .* path=plain " "$work/plain.txt" ||
        fail "train's first line does not name the path: $(head -1 "$work/fused.txt") / $(head -1 "$work/plain.txt")"
      python3 - "$work/fused_$t_sampling/loss.csv" "$work/plain_$t_sampling/loss.csv" <<'PY'
import sys
fused, plain = ([float(line.split(',')[1]) for line in open(path).readlines()[1:]] for path in sys.argv[1:])
assert len(fused) == len(plain) == 20
worst = max(abs(a - b) / abs(a) for a, b in zip(fused, plain))
assert worst < 1e-4, worst  # float32, the same maths in another order of sums
print(f"ok: 20 steps fused and plain (--no-fuse): losses within {worst:.1e} relative")
PY
    done
    "$swirl" bench --batch 1000 --steps 2 --warmup 1 --threads 1 --t-sampling sample --json > "$work/fused.json"
    "$swirl" bench --batch 1000 --steps 2 --warmup 1 --threads 1 --t-sampling sample --no-fuse --json > "$work/plain.json"
    python3 - "$work/fused.json" "$work/plain.json" <<'PY'
import json, sys
fused, plain = (json.load(open(path)) for path in sys.argv[1:])
assert fused["fused"] is True and plain["fused"] is False, (fused["fused"], plain["fused"])
assert plain["kernels_per_step"] > fused["kernels_per_step"], (plain["kernels_per_step"], fused["kernels_per_step"])
print(f"ok: bench --no-fuse runs the plain path: {plain['kernels_per_step']:.0f} kernels a step, fused {fused['kernels_per_step']:.0f}")
PY
    ;;
  reference-kernels-match-fast)
    # The plain path on the reference kernels (every op in plain loops) trains to the fast path's losses within
    # rounding, in both t-sampling modes; the header names the kernels that ran, so a train that ignored
    # --kernels would fail here even with equal losses.
    for t_sampling in batch sample; do
      "$swirl" train --batch 256 --steps 60 --figure-points 100 --save-every 0 --t-sampling "$t_sampling" --no-fuse \
        --out "$work/fast_$t_sampling" > "$work/fast.txt"
      "$swirl" train --batch 256 --steps 60 --figure-points 100 --save-every 0 --t-sampling "$t_sampling" --no-fuse \
        --kernels reference --out "$work/reference_$t_sampling" > "$work/reference.txt"
      grep -q "^swirl train: .* path=plain kernels=reference " "$work/reference.txt" ||
        fail "train's first line does not name the reference kernels: $(head -1 "$work/reference.txt")"
      if grep -q " kernels=reference " "$work/fast.txt"; then fail "the default run names the reference kernels"; fi
      python3 - "$work/fast_$t_sampling/loss.csv" "$work/reference_$t_sampling/loss.csv" "$t_sampling" <<'PY'
import sys
fast, reference = ([float(line.split(',')[1]) for line in open(path).readlines()[1:]] for path in sys.argv[1:3])
assert len(fast) == len(reference) == 60
gap = [abs(a - b) / abs(a) for a, b in zip(fast, reference)]
# float32 sums in another order (the reference sums in double): rounding, 1e-6 at first. Adam divides each
# gradient by its own running size, so parameters whose gradients are near zero turn rounding into visible steps and
# the gap grows over the run; a wrong kernel shows in the first steps, by far more.
assert max(gap[:20]) < 1e-5, max(gap[:20])
assert max(gap) < 1e-3, max(gap)
print(f"ok: 60 steps --no-fuse, fast and reference kernels ({sys.argv[3]}): losses within {max(gap[:20]):.1e} "
      f"relative over 20 steps, {max(gap):.1e} over 60")
PY
    done
    # Every command takes the flag; the reference runs on the CPU only.
    "$swirl" sample --checkpoint "$work/fast_batch/checkpoint.safetensors" --n 300 --kernels reference \
      --csv "$work/reference.csv"
    "$swirl" sample --checkpoint "$work/fast_batch/checkpoint.safetensors" --n 300 --csv "$work/fast.csv"
    python3 - "$work/fast.csv" "$work/reference.csv" <<'PY'
import sys
fast, reference = ([[float(v) for v in line.split(',')] for line in open(path)] for path in sys.argv[1:])
assert len(fast) == len(reference) == 300
worst = max(abs(a - b) for p, q in zip(fast, reference) for a, b in zip(p, q))
assert worst < 1e-3, worst  # 40 steps of float32 sampling from the same noise
print(f"ok: sample --kernels reference draws the fast kernels' points within {worst:.1e}")
PY
    "$swirl" eval --checkpoint "$work/fast_batch/checkpoint.safetensors" --n 500 --kernels reference --json > "$work/eval.json"
    "$swirl" bench --batch 300 --steps 1 --warmup 0 --warmup-seconds 0 --kernels reference --json > "$work/bench.json"
    python3 - "$work/eval.json" "$work/bench.json" <<'PY'
import json, math, sys
ev, bench = (json.load(open(path)) for path in sys.argv[1:])
assert math.isfinite(ev["K_bits"]), ev
assert bench["cpu_capability"] == "reference" and bench["vector_floats"] == 1, bench
print("ok: eval and bench run on the reference kernels")
PY
    expect_exit 1 "reference runs on the CPU only" "$swirl" train --steps 1 --kernels reference --device cuda --out "$work/x"
    expect_exit 2 "kernels" "$swirl" train --steps 1 --kernels naive --out "$work/x"
    ;;
  recipes-resume-and-refuse)
    for variance in bounded full; do
      recipe=(--param eps --variance $variance --schedule learned --data unit --lr-schedule cosine)
      short_train --steps 40 "${recipe[@]}" --out "$work/straight"
      # The cosine runs over --steps, so the first piece stops early (--stop-at) instead of training 15 steps.
      short_train --steps 40 --stop-at 15 "${recipe[@]}" --out "$work/resumed"
      paused_at "$work/resumed" 15
      short_train --steps 40 --resume "$work/resumed/checkpoint.safetensors" --out "$work/resumed"
      cmp "$work/straight/checkpoint.safetensors" "$work/resumed/checkpoint.safetensors" ||
        fail "a resumed eps / $variance / learned / unit / cosine run differs from the uninterrupted one"
      cmp "$work/straight/loss.csv" "$work/resumed/loss.csv" || fail "resumed loss.csv differs"
      echo "ok: eps, $variance variance, learned schedule, unit data, cosine lr: 15 + 25 resumed steps = 40 steps, byte for byte"
    done
    ckpt="$work/straight/checkpoint.safetensors"  # the full covariance's
    expect_exit 1 "--variance bounded differs from the checkpoint's --variance full" \
      "$swirl" train --steps 50 --variance bounded --resume "$ckpt" --out "$work/straight"
    expect_exit 1 "--param mean differs from the checkpoint's --param eps" \
      "$swirl" train --steps 50 --param mean --resume "$ckpt" --out "$work/straight"
    expect_exit 1 "--schedule seed differs from the checkpoint's --schedule learned" \
      "$swirl" train --steps 50 --schedule seed --resume "$ckpt" --out "$work/straight"
    expect_exit 1 "--hidden 32 differs from the checkpoint's --hidden 64" \
      "$swirl" train --steps 50 --hidden 32 --resume "$ckpt" --out "$work/straight"
    [ "$(wc -l < "$work/stderr")" -eq 1 ] || fail "the resume refusal is more than one line"
    expect_exit 2 "param" "$swirl" train --param noise
    expect_exit 2 "schedule" "$swirl" train --schedule cosine
    expect_exit 2 "variance" "$swirl" train --variance fixed
    "$swirl" eval --checkpoint "$ckpt" --n 300 --png "$work/bound.png" --json > "$work/eval.json"
    [ -s "$work/bound.png" ] || fail "eval --png wrote no figure"
    python3 - "$work/eval.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert (r['param'], r['variance'], r['schedule']) == ('eps', 'full', 'learned'), r
assert abs(r['data_scale'] - 1 / 0.678909) < 1e-5, r['data_scale']
print('ok: eval --json names param, variance, schedule and data_scale; --png drew the KL of each step')
PY
    # A learned beta outside (0, 1), with both CRC-32s made right again: refused in one line by eval.
    python3 - "$ckpt" "$work/bad_betas.st" <<'PY'
import json, struct, sys, zlib
data = bytearray(open(sys.argv[1], 'rb').read())
(n,) = struct.unpack('<Q', data[:8])
header = json.loads(data[8:8 + n])
begin = 8 + n + header['schedule.betas']['data_offsets'][0]
data[begin + 8 * 5:begin + 8 * 6] = struct.pack('<d', 1.5)  # beta_6
meta = header['__metadata__']
meta['swirl.data_crc32'] = f"{zlib.crc32(bytes(data[8 + n:])):08x}"
meta['swirl.header_crc32'] = '00000000'
text = json.dumps(header, separators=(',', ':')).encode()
text += b' ' * ((8 - len(text) % 8) % 8)
token = b'"swirl.header_crc32":"'
at = text.index(token) + len(token)
text = text[:at] + f'{zlib.crc32(text):08x}'.encode() + text[at + 8:]
open(sys.argv[2], 'wb').write(struct.pack('<Q', len(text)) + text + bytes(data[8 + n:]))
PY
    expect_exit 1 "beta_6 = 1.5, outside (0, 1)" "$swirl" eval --checkpoint "$work/bad_betas.st" --n 10
    [ "$(wc -l < "$work/stderr")" -eq 1 ] || fail "the bad schedule's refusal is more than one line" ;;
  heartbeat-trains-evaluates-samples)
    # Binomial diffusion end to end, on a short run: outputs, the header, eval's report (K's parts add up,
    # L_null the heartbeat's), sampled sequences of 0/1, an exact resume, and the flags that belong to the other data.
    hb_train() { "$swirl" train --data heartbeat --batch 64 --threads 1 "$@" > "$work/hb_stdout"; }
    hb_train --steps 30 --save-every 10 --out "$work/hb"
    grep -q "data=heartbeat kernel=binomial T=2000 H=50 rate=x0" "$work/hb_stdout" || fail "header: $(head -1 "$work/hb_stdout")"
    for f in checkpoint.safetensors loss.csv figures/step_0000030.png figures/loss.png; do
      [ -s "$work/hb/$f" ] || fail "missing $f"
    done
    [ "$(wc -l < "$work/hb/loss.csv")" -eq 31 ] || fail "loss.csv should have 30 rows"
    "$swirl" eval --checkpoint "$work/hb/checkpoint.safetensors" --n 16 --json --png "$work/hb_bound.png" > "$work/hb_eval.json"
    [ -s "$work/hb_bound.png" ] || fail "eval --png wrote no figure"
    bumps=$(grep -o "bumps=[0-9]*" "$work/hb_stdout" | head -1 | cut -d= -f2)
    python3 - "$work/hb_eval.json" "$bumps" <<'PY'
import json, math, sys
r = json.load(open(sys.argv[1]))
assert (r['kernel'], r['data'], r['rate'], r['input'], r['activation'], r['bumps'], r['n']) == \
    ('binomial', 'heartbeat', 'x0', 'evidence', 'tanh', int(sys.argv[2]), 16), r
assert abs(r['L_null_bits'] + 14.4385) < 1e-3, r['L_null_bits']
assert abs(r['K_minus_L_null_bits'] - (r['K_bits'] - r['L_null_bits'])) < 1e-9
entropy = (r['H_q_T_nats'] - r['H_q_1_nats'] - r['H_p_T_nats']) / math.log(2)
assert abs(r['K_bits'] - (entropy - sum(r['kl_per_step_bits']))) < 1e-6 * abs(r['K_bits']), r['K_bits']
assert len(r['kl_per_step_bits']) == 1999 and len(r['kl_se_per_step_bits']) == 1999
assert r['K_se_bits'] > 0 and 0 <= r['samples_exact_share'] <= 1
print(f"ok: heartbeat eval: K {r['K_bits']:.3f} +- {r['K_se_bits']:.3f} = its entropy terms minus its KLs")
PY
    "$swirl" sample --checkpoint "$work/hb/checkpoint.safetensors" --n 7 --csv "$work/hb.csv" --png "$work/hb.png" > /dev/null
    [ -s "$work/hb.png" ] || fail "sample --png wrote no figure"
    [ "$(wc -l < "$work/hb.csv")" -eq 7 ] || fail "7 sequences expected"
    grep -qvE '^[01](,[01]){19}$' "$work/hb.csv" && fail "a line is not 20 bits: $(head -2 "$work/hb.csv")"
    echo "ok: heartbeat sample writes 7 lines of 20 bits and the raster figure"
    hb_train --steps 30 --stop-at 12 --out "$work/hb_resumed"
    hb_train --resume "$work/hb_resumed/checkpoint.safetensors" --out "$work/hb_resumed"
    cmp "$work/hb/checkpoint.safetensors" "$work/hb_resumed/checkpoint.safetensors" || fail "resumed heartbeat run differs"
    cmp "$work/hb/loss.csv" "$work/hb_resumed/loss.csv" || fail "resumed heartbeat loss.csv differs"
    echo "ok: a heartbeat run stopped at 12 of 30 resumes to the same checkpoint bytes and losses"
    expect_exit 1 "--variance is the swiss roll's" "$swirl" train --data heartbeat --variance full --out "$work/x"
    expect_exit 1 "--rate is binomial diffusion's" "$swirl" train --rate sigmoid --out "$work/x"
    expect_exit 1 "--input is binomial diffusion's" "$swirl" train --input bits --out "$work/x"
    expect_exit 1 "--activation is binomial diffusion's" "$swirl" train --activation sigmoid --out "$work/x"
    expect_exit 1 "--bumps is binomial diffusion's" "$swirl" train --bumps 3 --out "$work/x"
    expect_exit 1 "--bumps must be in .0, 2000." "$swirl" train --data heartbeat --bumps 2001 --out "$work/x"
    expect_exit 1 "differs from the checkpoint's --bumps $bumps" "$swirl" train --bumps $((bumps + 1)) \
      --data heartbeat --resume "$work/hb/checkpoint.safetensors" --steps 40 --out "$work/x"
    expect_exit 1 "differs from the checkpoint's --activation tanh" "$swirl" train --activation sigmoid \
      --data heartbeat --resume "$work/hb/checkpoint.safetensors" --steps 40 --out "$work/x"
    expect_exit 1 "differs from the checkpoint's --input evidence" "$swirl" train --input bits --data heartbeat \
      --resume "$work/hb/checkpoint.safetensors" --steps 40 --out "$work/x"
    expect_exit 1 "differs from the checkpoint's --rate x0" "$swirl" train --rate sigmoid --data heartbeat \
      --resume "$work/hb/checkpoint.safetensors" --steps 40 --out "$work/x"
    expect_exit 1 "differs from the checkpoint's --data heartbeat" "$swirl" train --data unit \
      --resume "$work/hb/checkpoint.safetensors" --out "$work/x" ;;
  *) fail "unknown scenario $scenario" ;;
esac
