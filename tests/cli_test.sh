#!/usr/bin/env bash
# End-to-end tests of the swirl command line. Usage: cli_test.sh SWIRL_BINARY SCENARIO
# Each scenario prints what it checks and exits non-zero on the first failure.
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
short_train() { "$swirl" train --batch 64 --threads 1 --figure-points 200 "$@" > /dev/null; }

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
    short_train --steps 40 --out "$work/straight"
    short_train --steps 15 --out "$work/resumed"
    short_train --steps 40 --resume "$work/resumed/checkpoint.safetensors" --out "$work/resumed"
    cmp "$work/straight/checkpoint.safetensors" "$work/resumed/checkpoint.safetensors" ||
      fail "resumed checkpoint differs from the uninterrupted run's"
    cmp "$work/straight/loss.csv" "$work/resumed/loss.csv" || fail "resumed loss.csv differs"
    echo "ok: 15 + 25 resumed steps give the same checkpoint bytes and losses as 40 steps" ;;
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
    if ! nvidia-smi -L > /dev/null 2>&1; then  # on a machine without a GPU, --device cuda is one clear line
      expect_exit 1 "CUDA" "$swirl" train --device cuda --steps 1 --out "$work/c"
      [ "$(wc -l < "$work/stderr")" -eq 1 ] || fail "--device cuda without a GPU printed more than one line"
    fi
    touch "$work/file"
    expect_exit 1 "output directory" "$swirl" train --steps 1 --out "$work/file/sub"
    short_train --steps 2 --out "$work/run"
    expect_exit 1 "nothing to write" "$swirl" sample --checkpoint "$work/run/checkpoint.safetensors"
    expect_exit 1 "past --steps" "$swirl" train --steps 1 --resume "$work/run/checkpoint.safetensors" --out "$work/run" ;;
  *) fail "unknown scenario $scenario" ;;
esac
