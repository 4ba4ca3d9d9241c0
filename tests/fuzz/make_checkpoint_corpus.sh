#!/usr/bin/env bash
# Writes the seed corpus of tests/fuzz/fuzz_checkpoint.cpp into tests/fuzz/corpus_checkpoint/: a checkpoint of
# every recipe (param x variance x schedule; data, t-sampling and lr schedule alternate among them) from 3 steps of
# swirl train with H = 1 or 2, about 60 KiB each (the 40 tails' and Adam's names are most of it).
# bash tests/fuzz/make_checkpoint_corpus.sh [SWIRL_BINARY]   (default: build/release/apps/swirl)
set -euo pipefail
cd "$(dirname "$0")/../.."
swirl=${1:-build/release/apps/swirl}
out=tests/fuzz/corpus_checkpoint
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

rm -rf "$out"
mkdir -p "$out"
n=0
for param in mean eps; do
  for variance in free bounded full; do
    for schedule in seed learned; do
      data=(seed unit) t_sampling=(batch sample) lr_schedule=(constant cosine)
      "$swirl" train --steps 3 --batch 64 --hidden $((1 + (n + 1) / 2 % 2)) --figure-points 50 --save-every 0 \
        --threads 1 --param "$param" --variance "$variance" --schedule "$schedule" --data "${data[n / 2 % 2]}" \
        --t-sampling "${t_sampling[n / 3 % 2]}" --lr-schedule "${lr_schedule[n / 4 % 2]}" --out "$work/$n" >/dev/null
      cp "$work/$n/checkpoint.safetensors" "$out/valid_${param}_${variance}_${schedule}"
      n=$((n + 1))
    done
  done
done
du -ch "$out"/* | tail -n 1
