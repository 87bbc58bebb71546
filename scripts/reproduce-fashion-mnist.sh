#!/usr/bin/env bash
# The class-wise study at the community recipe on the whole of Fashion-MNIST (docs/results-fashion-mnist.md):
# PGD-AT with PGD-40 (step 0.01, eps 0.1) on all 60,000 training images for 20 epochs, every epoch evaluated on all
# 10,000 test images, a TRADES run for the cross-defense ranking (claim 5) and a mitigation run (claim 7, automatic
# class re-weighting), then each of the seven experiments on the whole test set and one report.
#
#   npm run reproduce:fashion-mnist [-- OUT]        (default OUT: runs/fashion-mnist-full)
#
# Resumable: rerun the same command after an interruption. A run with a checkpoint continues with `train --resume`
# (a finished run does nothing); an experiment whose report.json exists is kept; class removal resumes its stages.
# The budget is set by the variables below (environment overrides); a reduced one is stated in the output.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${1:-runs/fashion-mnist-full}
CLI=${CLI:-"node dist/cli/main.js"}
EPOCHS=${EPOCHS:-20}
TRAIN_STEPS=${TRAIN_STEPS:-40}
TRAIN_STEP_SIZE=${TRAIN_STEP_SIZE:-0.01}
TRAIN_PER_CLASS=${TRAIN_PER_CLASS:-all}
EVAL_PER_CLASS=${EVAL_PER_CLASS:-all}
STUDY_PER_CLASS=${STUDY_PER_CLASS:-all}
SEEDS=${SEEDS:-3}
EXTRA=${EXTRA:-}

recipe=(--dataset fashion-mnist --train-per-class "$TRAIN_PER_CLASS" --eval-per-class "$EVAL_PER_CLASS" --epochs "$EPOCHS"
  --train-steps "$TRAIN_STEPS" --train-step-size "$TRAIN_STEP_SIZE" --lr 0.01 --schedule cyclic)
started=$(date +%s)
echo "[reproduce] budget: ${recipe[*]} $EXTRA; study on $STUDY_PER_CLASS test images per class, $SEEDS seeds"

# train DIR ARGS...: a fresh run, or the continuation of an interrupted one.
train() {
  local dir=$1
  shift
  local resume=()
  [ -f "$dir/checkpoint.safetensors" ] && resume=(--resume)
  echo "[reproduce] train $dir"
  # shellcheck disable=SC2086
  $CLI train "${recipe[@]}" "$@" --out "$dir" "${resume[@]}" $EXTRA
}

# study EXPERIMENT ARGS...: one experiment into its own folder, kept once its report.json exists.
reports=()
study() {
  local experiment=$1
  shift
  local dir="$OUT/study/$experiment"
  reports+=("$dir/report.json")
  if [ -f "$dir/report.json" ]; then
    echo "[reproduce] study $experiment: kept ($dir/report.json)"
    return
  fi
  echo "[reproduce] study $experiment"
  $CLI study "$experiment" --run "$OUT/pgd" --per-class "$STUDY_PER_CLASS" --seeds "$SEEDS" "$@" --out "$dir"
}

train "$OUT/pgd" --method pgd
train "$OUT/trades" --method trades
train "$OUT/mitigated" --method pgd --mitigate auto

study epochs
study confusion
study removal
study weight-norm
study attacks --compare "$OUT/trades"
study temperature
study mitigation --after "$OUT/mitigated"

list=$(IFS=,; echo "${reports[*]}")
$CLI study render --from "$list" --out "$OUT/report"
echo "[reproduce] wall time $(( $(date +%s) - started )) s (this invocation)"
