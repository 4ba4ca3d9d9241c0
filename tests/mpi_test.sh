#!/usr/bin/env bash
# Data-parallel runs under mpirun (tensor/distributed/distributed.h). Usage: mpi_test.sh SWIRL_BINARY MPIEXEC SCENARIO
# Each scenario prints what it checks and exits non-zero on the first failure. Open MPI refuses root without the
# two variables below, and needs --oversubscribe for more ranks than cores.
set -euo pipefail
swirl=$1
mpiexec=$2
scenario=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
fail() { echo "FAIL: $*" >&2; exit 1; }
# mpirun. Under AddressSanitizer (.ci/run) its ranks run without leak checking: Open MPI's plugins keep
# allocations to the end and are unloaded before LeakSanitizer reports, so their frames cannot be symbolised or
# suppressed. Memory errors and UBSan stay on; the one-process runs here keep leak checking.
mpi() {
  if [ -n "${ASAN_OPTIONS:-}" ]; then
    ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=0" "$mpiexec" "$@"
  else
    "$mpiexec" "$@"
  fi
}
# on N FLAGS...: swirl train on N ranks, one thread each.
on() {
  local n=$1; shift
  mpi --oversubscribe -np "$n" "$swirl" train --threads 1 --figure-points 200 --save-every 0 "$@" > "$work/last.log" 2>&1 ||
    fail "mpirun -np $n swirl train $*: $(tail -5 "$work/last.log")"
}

# start_training N OUT [-x VAR=VALUE | --mca NAME VALUE]... FLAGS...: swirl train FLAGS on N ranks in the
# background (mpirun passes the -x variables to every rank), stdout and stderr in $work/out and $work/err, mpirun's
# pid in $pid (env execs it); returns once rank 0 has printed its first line.
start_training() {
  local n=$1 out=$2; shift 2
  local launcher=()
  while [ $# -gt 0 ]; do
    case $1 in
      -x) launcher+=("$1" "$2"); shift 2 ;;
      --mca) launcher+=("$1" "$2" "$3"); shift 3 ;;
      *) break ;;
    esac
  done
  env ${ASAN_OPTIONS:+ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=0"} "$mpiexec" --oversubscribe -np "$n" "${launcher[@]}" \
    "$swirl" train --threads 1 --figure-points 200 --steps 100000000 --out "$out" "$@" > "$work/out" 2> "$work/err" &
  pid=$!
  trap 'kill -KILL "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT  # no run left behind if a check fails
  for _ in $(seq 600); do grep -q "step" "$work/out" 2>/dev/null && return 0; sleep 0.1; done
  fail "mpirun -np $n swirl train printed nothing in 60 s: $(cat "$work/err")"
}
# await_end SECONDS WHAT: waits at most SECONDS for mpirun ($pid) to end, else lists the processes left and fails
# naming WHAT; sets $code to mpirun's exit status and $ms to the milliseconds from the call to its end.
await_end() {
  local begin; begin=$(date +%s%N)
  for _ in $(seq $(($1 * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    ps -eo pid,ppid,stat,etime,args | grep -E "mpirun|swirl|orted" | grep -v grep >&2 || true
    fail "mpirun still runs $1 s after $2"
  fi
  set +e; wait "$pid"; code=$?; set -e
  ms=$(( ($(date +%s%N) - begin) / 1000000 ))
}
# The step a checkpoint holds (its safetensors header's metadata).
checkpoint_step() {
  python3 - "$1" <<'PY'
import json, struct, sys
data = open(sys.argv[1], "rb").read()
(length,) = struct.unpack("<Q", data[:8])
print(json.loads(data[8:8 + length])["__metadata__"]["step"])
PY
}

case "$scenario" in
  ranks-give-the-same-bytes)
    for t_sampling in batch sample; do
      flags=(--batch 512 --shards 4 --steps 25 --t-sampling "$t_sampling")
      "$swirl" train --threads 2 --figure-points 200 --save-every 0 "${flags[@]}" --out "$work/one_$t_sampling" > /dev/null
      for n in 1 2 4; do
        on "$n" "${flags[@]}" --out "$work/np${n}_$t_sampling"
        cmp "$work/one_$t_sampling/checkpoint.safetensors" "$work/np${n}_$t_sampling/checkpoint.safetensors" ||
          fail "-np $n differs from one process (t-sampling $t_sampling)"
        cmp "$work/one_$t_sampling/loss.csv" "$work/np${n}_$t_sampling/loss.csv" || fail "-np $n: loss.csv differs"
      done
      echo "ok: t-sampling $t_sampling: one process, -np 1, -np 2 and -np 4 write byte-identical checkpoints and losses"
    done
    # A learned schedule: its gradient flows through every shard, and the final entropy term is added once.
    flags=(--batch 512 --shards 2 --steps 20 --schedule learned)
    "$swirl" train --threads 2 --figure-points 200 --save-every 0 "${flags[@]}" --out "$work/one_learned" > /dev/null
    on 2 "${flags[@]}" --out "$work/np2_learned"
    cmp "$work/one_learned/checkpoint.safetensors" "$work/np2_learned/checkpoint.safetensors" ||
      fail "-np 2 with a learned schedule differs from one process"
    echo "ok: a learned schedule on -np 2 is byte-identical to one process"
    # Only rank 0 writes: each rank's file system calls, traced, and those that create, write, rename or remove
    # anything under --out counted a rank (a count of the files would not see ranks writing the same names).
    command -v strace > /dev/null || fail "strace is missing (scripts/install-deps.sh installs it)"
    mpi --oversubscribe -np 4 bash -c 'exec strace -f -qq -o "$0.$OMPI_COMM_WORLD_RANK" \
        -e trace=open,openat,creat,rename,renameat,renameat2,mkdir,mkdirat,unlink,unlinkat "$@"' "$work/trace" \
      "$swirl" train --threads 1 --figure-points 200 --save-every 10 --plot-every 10 --batch 512 --shards 4 --steps 20 \
      --out "$work/traced" > /dev/null
    for rank in 0 1 2 3; do
      writes=$(grep -F "$work/traced" "$work/trace.$rank" | grep -cE 'O_WRONLY|O_RDWR|O_CREAT|rename|mkdir|unlink' || true)
      if [ "$rank" -eq 0 ]; then
        # checkpoint and loss.csv at steps 10 and 20, figures at 10 and 20 and the loss curve: each a temporary
        # file and its rename
        [ "$writes" -ge 14 ] || fail "rank 0 made $writes writes under --out: the trace does not see them"
      else
        [ "$writes" -eq 0 ] || fail "rank $rank wrote under --out: $(grep -F "$work/traced" "$work/trace.$rank" | head -3)"
      fi
    done
    echo "ok: one writer: traced, rank 0 made $(grep -F "$work/traced" "$work/trace.0" | grep -cE 'O_WRONLY|O_RDWR|O_CREAT|rename|mkdir|unlink') writes under --out, ranks 1-3 none" ;;
  resume-with-other-ranks)
    flags=(--batch 512 --shards 4 --steps 30 --lr-schedule cosine)
    on 1 "${flags[@]}" --out "$work/straight"
    on 2 "${flags[@]}" --stop-at 12 --out "$work/pieces"
    [ "$(checkpoint_step "$work/pieces/checkpoint.safetensors")" = 12 ] && [ "$(grep -c . "$work/pieces/loss.csv")" -eq 13 ] ||
      fail "the first piece did not stop after step 12"
    on 4 --resume "$work/pieces/checkpoint.safetensors" --out "$work/pieces"
    cmp "$work/straight/checkpoint.safetensors" "$work/pieces/checkpoint.safetensors" ||
      fail "2 ranks to step 12, then 4 ranks to 30, differs from 1 rank to 30"
    echo "ok: trained on 2 ranks, resumed on 4: byte-identical to one uninterrupted rank" ;;
  bad-input-names-the-rank)
    on 2 --batch 512 --steps 5 --out "$work/run"
    cp "$work/run/checkpoint.safetensors" "$work/kept.safetensors"
    # Rank 1 alone gets a bad flag (mpirun's MPMD form): the job ends, naming rank 1; the checkpoint is intact.
    set +e
    mpi --oversubscribe -np 1 "$swirl" train --threads 1 --steps 10 --resume "$work/run/checkpoint.safetensors" \
      --out "$work/run" : -np 1 "$swirl" train --threads 1 --steps 10 --resume "$work/run/checkpoint.safetensors" \
      --out "$work/run" --lr -1 > "$work/out" 2> "$work/err"
    code=$?
    set -e
    [ "$code" -ne 0 ] || fail "a bad flag on rank 1 exited 0"
    grep -q "swirl: rank 1: error:" "$work/err" || fail "no error line naming rank 1: $(cat "$work/err")"
    cmp "$work/kept.safetensors" "$work/run/checkpoint.safetensors" || fail "the checkpoint changed"
    echo "ok: a bad flag on rank 1 ends the job (exit $code) with '$(grep -m1 'rank 1: error' "$work/err" | cut -c1-80)...'; the checkpoint is intact"
    # Ranks that cannot share the shards: refused before any work, on every rank.
    set +e
    mpi --oversubscribe -np 2 "$swirl" train --threads 1 --batch 512 --shards 1 --steps 5 --out "$work/x" \
      > "$work/out" 2> "$work/err"
    code=$?
    set -e
    [ "$code" -ne 0 ] && grep -q "rank 0: error: 2 ranks cannot share the batch's 1 shard" "$work/err" ||
      fail "-np 2 --shards 1 not refused: $(cat "$work/err")"
    [ ! -e "$work/x/checkpoint.safetensors" ] || fail "a refused run wrote a checkpoint"
    echo "ok: -np 2 with --shards 1 is refused in one line a rank"
    set +e
    mpi --oversubscribe -np 2 "$swirl" eval --checkpoint "$work/run/checkpoint.safetensors" > "$work/out" 2> "$work/err"
    code=$?
    set -e
    [ "$code" -ne 0 ] && grep -q "swirl eval runs in one process" "$work/err" || fail "eval under mpirun: $(cat "$work/err")"
    echo "ok: eval under mpirun is refused" ;;
  sigterm-stops-every-rank)
    # SIGTERM to mpirun at 10 random moments. Every rank stops after the same step; rank 0 writes that step's
    # checkpoint and loss.csv before any rank ends (a slow save, so that an early end would lose them); swirl's
    # line is all that is printed (no MPI_Abort banner: a requested stop is not a crash).
    flags=(--batch 512 --shards 2 --lr-schedule constant)
    for run in $(seq 10); do
      rm -rf "$work/run"
      # mpirun forwards the SIGTERM, sleeps odls_base_sigkill_timeout (1 s by default), then kills what is left; the
      # ranks' MPI_Finalize waits for it, so a run ends about twice that after the signal. On a loaded machine the
      # step and the slow save can outlast 1 s, so the scenario gives 4: it checks swirl's stop, not Open MPI's grace.
      start_training 2 "$work/run" -x SWIRL_TEST_SLOW_SAVE_MS=300 --mca odls_base_sigkill_timeout 4 --save-every 0 \
        "${flags[@]}"
      sleep "0.$((RANDOM % 10))$((RANDOM % 10))"
      kill -TERM "$pid"
      await_end 60 "run $run's SIGTERM"
      [ "$code" -ne 0 ] || fail "run $run: mpirun exited 0 after SIGTERM"
      grep -q "stopped by SIGTERM after step" "$work/err" || fail "run $run: no stop message: $(cat "$work/err")"
      [ "$(grep -vc '^swirl: stopped by SIGTERM after step' "$work/err")" -eq 0 ] ||
        fail "run $run: more than swirl's line on stderr: $(cat "$work/err")"
      stopped=$(sed -n 's/.*stopped by SIGTERM after step \([0-9]*\);.*/\1/p' "$work/err")
      [ "$(checkpoint_step "$work/run/checkpoint.safetensors")" = "$stopped" ] ||
        fail "run $run: stopped after step $stopped, the checkpoint holds step $(checkpoint_step "$work/run/checkpoint.safetensors")"
      [ "$(tail -1 "$work/run/loss.csv" | cut -d, -f1)" = "$stopped" ] || fail "run $run: loss.csv does not end at step $stopped"
      echo "ok: run $run: SIGTERM to mpirun; both ranks stopped after step $stopped, its checkpoint and loss.csv written, one line printed; mpirun ended ${ms} ms after the signal"
    done
    # Resumed on one process for 10 more steps: the same bytes as an uninterrupted run of that length.
    total=$((stopped + 10))
    "$swirl" train --threads 2 --figure-points 200 --save-every 0 --resume "$work/run/checkpoint.safetensors" \
      --steps "$total" --out "$work/run" > /dev/null
    "$swirl" train --threads 2 --figure-points 200 --save-every 0 "${flags[@]}" --steps "$total" --out "$work/straight" > /dev/null
    cmp "$work/run/checkpoint.safetensors" "$work/straight/checkpoint.safetensors" ||
      fail "stopped at $stopped on 2 ranks and resumed on 1 differs from $total steps straight"
    echo "ok: stopped at $stopped on 2 ranks, resumed on 1: byte-identical to $total steps straight" ;;
  a-dead-rank-ends-the-job)
    # SIGKILL to rank 1 at 3 random moments (as the out-of-memory killer would; rank 0 saves slowly every 25 steps,
    # so some kills land while it writes). The job ends within seconds with a message naming rank 1; the last
    # periodic checkpoint is intact; resumed on 1 or 4 ranks it continues to the bytes of an uninterrupted run.
    flags=(--batch 512 --shards 4 --lr-schedule constant)
    for run in 1 2 3; do
      rm -rf "$work/run" "$work/straight"
      start_training 2 "$work/run" -x SWIRL_TEST_SLOW_SAVE_MS=100 --save-every 25 "${flags[@]}"
      for _ in $(seq 200); do [ -e "$work/run/checkpoint.safetensors" ] && break; sleep 0.05; done
      sleep "0.$((RANDOM % 10))$((RANDOM % 10))"
      rank1=""
      for child in $(pgrep -P "$pid"); do
        if tr '\0' '\n' < "/proc/$child/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1'; then rank1=$child; fi
      done
      [ -n "$rank1" ] || fail "run $run: no process of rank 1 among mpirun's children"
      kill -KILL "$rank1"
      await_end 30 "run $run's rank 1 died"
      seconds=$((ms / 1000))
      [ "$code" -ne 0 ] || fail "run $run: mpirun exited 0 after rank 1 was killed"
      [ "$seconds" -le 10 ] || fail "run $run: the job took $seconds s to end after rank 1 died"
      grep -q "rank 1 .*exited on signal 9" "$work/err" || fail "run $run: no message naming rank 1: $(cat "$work/err")"
      step=$(checkpoint_step "$work/run/checkpoint.safetensors")  # the reader checks both checksums
      [ $((step % 25)) -eq 0 ] && [ "$step" -gt 0 ] || fail "run $run: the checkpoint holds step $step"
      ranks=$([ "$run" -eq 2 ] && echo 1 || echo 4)
      total=$((step + 10))
      on "$ranks" --resume "$work/run/checkpoint.safetensors" --steps "$total" --out "$work/run"
      [ "$(tail -1 "$work/run/loss.csv" | cut -d, -f1)" = "$total" ] || fail "run $run: loss.csv does not end at $total"
      [ "$(grep -c . "$work/run/loss.csv")" -eq $((total + 1)) ] || fail "run $run: loss.csv lacks rows"
      on 1 "${flags[@]}" --steps "$total" --out "$work/straight"
      cmp "$work/run/checkpoint.safetensors" "$work/straight/checkpoint.safetensors" ||
        fail "run $run: killed after the checkpoint of step $step, resumed on $ranks ranks, differs from $total steps straight"
      cmp "$work/run/loss.csv" "$work/straight/loss.csv" || fail "run $run: loss.csv differs from the straight run's"
      echo "ok: run $run: rank 1 killed; the job ended in ${seconds} s naming rank 1; the checkpoint of step $step, resumed on $ranks rank(s), is byte-identical to $total steps straight"
    done ;;
  bench-reports-ranks)
    # The throughput against this script's own clock: two runs that differ by 40 timed steps (the same warm-up,
    # probes and start-up), so 40 batches over the difference of their wall times is the samples/s the ranks
    # achieved. bench's samples/s, and twice its per-rank samples/s, must agree with it within noise (a rank
    # counted twice, or not at all, is a factor of 2).
    timed_bench() {  # timed_bench STEPS OUT: wall nanoseconds on stdout, the JSON in OUT
      local begin; begin=$(date +%s%N)
      mpi --oversubscribe -np 2 "$swirl" bench --batch 65536 --steps "$1" --warmup 1 --warmup-seconds 0 --threads 1 \
        --json > "$2"
      echo $(( $(date +%s%N) - begin ))
    }
    short_ns=$(timed_bench 3 "$work/short.json")
    long_ns=$(timed_bench 43 "$work/bench.json")
    python3 - "$work/bench.json" "$short_ns" "$long_ns" <<'PY'
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
assert len(lines) == 1, f"{len(lines)} reports, expected rank 0's only"
r = json.loads(lines[0])
assert r["ranks"] == 2 and r["shards"] == 2, r
assert r["allreduce_ms_per_step"] > 0 and r["allreduce_mb_per_step"] > 0, r
assert r["allreduce_transport"] == "mpi", r  # CPU tensors: MPI, whatever the build
clock = 65536 * 40 / ((int(sys.argv[3]) - int(sys.argv[2])) * 1e-9)
total, per_rank = r["samples_per_s"] / clock, 2 * r["samples_per_s_per_rank"] / clock
assert 0.6 < total < 1.6, f"bench says {r['samples_per_s']:.0f} samples/s, the script's clock {clock:.0f}"
assert 0.6 < per_rank < 1.6, f"bench says {r['samples_per_s_per_rank']:.0f} samples/s a rank, the clock {clock / 2:.0f}"
print(f"ok: bench on 2 ranks: {r['samples_per_s']:.0f} samples/s ({r['samples_per_s_per_rank']:.0f} a rank); the "
      f"script's clock says {clock:.0f}; {r['allreduce_ms_per_step']:.3f} ms and {r['allreduce_mb_per_step']:.2f} MB "
      f"a step in the sum over ranks ({r['allreduce_transport']})")
PY
    mpi --oversubscribe -np 2 "$swirl" bench --batch 2048 --steps 2 --warmup 0 --threads 1 > "$work/bench.txt"
    grep -q "the sum over ranks (mpi) " "$work/bench.txt" || fail "bench's text does not name the transport: $(cat "$work/bench.txt")"
    echo "ok: bench's text names the transport of the sum over ranks" ;;
  a-bound-rank-is-told)
    # Open MPI binds a rank to one core by default: `mpirun -np 1 swirl train` would run one thread on a machine of
    # more. Rank 0 says so in one line, with the flags that give a rank more cores; no line when it has them.
    cpus=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)
    if [ "$cpus" -lt 2 ]; then echo "skipped: one CPU, so no rank can have fewer than the machine"; exit 0; fi
    bench=(bench --batch 64 --steps 2 --warmup 1 --warmup-seconds 0)
    mpi -np 1 --bind-to core "$swirl" "${bench[@]}" > /dev/null 2> "$work/bound.txt"
    grep -q "^swirl: note: mpirun left each rank 1 of the $cpus CPUs here .*--map-by slot:PE=N" "$work/bound.txt" ||
      fail "-np 1 bound to a core: no note on stderr: $(cat "$work/bound.txt")"
    [ "$(wc -l < "$work/bound.txt")" -eq 1 ] || fail "more than one line on stderr: $(cat "$work/bound.txt")"
    echo "ok: -np 1 bound to one core of $cpus: $(cat "$work/bound.txt")"
    for flags in "--bind-to none" "--map-by slot:PE=$cpus"; do
      # shellcheck disable=SC2086 # the flags are words
      mpi -np 1 $flags "$swirl" "${bench[@]}" --json > "$work/free.json" 2> "$work/free.txt"
      [ ! -s "$work/free.txt" ] || fail "-np 1 $flags: unexpected stderr: $(cat "$work/free.txt")"
      threads=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["threads"])' "$work/free.json")
      [ "$threads" -eq "$cpus" ] || fail "-np 1 $flags: $threads threads on $cpus CPUs"
      echo "ok: -np 1 $flags: $threads threads, no note"
    done
    # The CPUs here are the launcher's: under taskset -c 0 one rank on one core has all of them.
    env ${ASAN_OPTIONS:+ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=0"} taskset -c 0 "$mpiexec" -np 1 --bind-to core \
      "$swirl" "${bench[@]}" > /dev/null 2> "$work/narrow.txt"  # as mpi() does under AddressSanitizer
    [ ! -s "$work/narrow.txt" ] || fail "taskset -c 0 mpirun -np 1: unexpected stderr: $(cat "$work/narrow.txt")"
    echo "ok: taskset -c 0 mpirun -np 1: the rank has the launcher's one CPU, no note"
    mpi -np 1 --bind-to core "$swirl" "${bench[@]}" --threads 1 > /dev/null 2> "$work/chosen.txt"
    [ ! -s "$work/chosen.txt" ] || fail "--threads 1 chosen: unexpected stderr: $(cat "$work/chosen.txt")"
    echo "ok: no note when --threads is given" ;;
  *) fail "unknown scenario $scenario" ;;
esac
