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
# LANES=2 runs two 1-thread processes side by side (faster on 2 cores, where a SmallCNN batch parallelises poorly):
# the PGD-AT and TRADES runs, then the PGD-AT run's confusion/removal/temperature studies beside the mitigation run
# and the other studies; each lane writes OUT/lane-*.log.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${1:-runs/fashion-mnist-full}
CLI=${CLI:-"node dist/cli/main.js"}
EPOCHS=${EPOCHS:-20}
TRAIN_STEPS=${TRAIN_STEPS:-40}
TRAIN_STEP_SIZE=${TRAIN_STEP_SIZE:-0.01}
LR=${LR:-0.01}
BATCH_SIZE=${BATCH_SIZE:-128}
TRAIN_PER_CLASS=${TRAIN_PER_CLASS:-all}
EVAL_PER_CLASS=${EVAL_PER_CLASS:-all}
STUDY_PER_CLASS=${STUDY_PER_CLASS:-all}
SEEDS=${SEEDS:-3}
EXTRA=${EXTRA:-}
LANES=${LANES:-1}
case $LANES in 1 | 2) ;; *) echo "reproduce-fashion-mnist: LANES=$LANES: use 1 (one process) or 2 (two 1-thread processes)" >&2; exit 2 ;; esac
[ "$LANES" = 2 ] && EXTRA="$EXTRA --threads 1"

recipe=(--dataset fashion-mnist --train-per-class "$TRAIN_PER_CLASS" --eval-per-class "$EVAL_PER_CLASS" --epochs "$EPOCHS"
  --train-steps "$TRAIN_STEPS" --train-step-size "$TRAIN_STEP_SIZE" --lr "$LR" --batch-size "$BATCH_SIZE" --schedule cyclic)
started=$(date +%s)
mkdir -p "$OUT"
echo "[reproduce] budget: ${recipe[*]} $EXTRA; study on $STUDY_PER_CLASS test images per class, $SEEDS seeds; $LANES lane(s)"

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
study() {
  local experiment=$1
  shift
  local dir="$OUT/study/$experiment"
  if [ -f "$dir/report.json" ]; then
    echo "[reproduce] study $experiment: kept ($dir/report.json)"
    return
  fi
  echo "[reproduce] study $experiment"
  # shellcheck disable=SC2086
  $CLI study "$experiment" --run "$OUT/pgd" --per-class "$STUDY_PER_CLASS" --seeds "$SEEDS" "$@" --out "$dir" $EXTRA
}

# side_by_side NAME LANE1 LANE2: the two functions one after the other, or (LANES=2) at once, each logging to a file.
side_by_side() {
  local name=$1
  if [ "$LANES" = 1 ]; then
    "$2"
    "$3"
  else
    echo "[reproduce] $name: $OUT/lane-$name-1.log and $OUT/lane-$name-2.log"
    "$2" > "$OUT/lane-$name-1.log" 2>&1 &
    local first=$!
    "$3" > "$OUT/lane-$name-2.log" 2>&1 &
    local second=$!
    wait "$first" || { echo "[reproduce] failed: see $OUT/lane-$name-1.log" >&2; exit 1; }
    wait "$second" || { echo "[reproduce] failed: see $OUT/lane-$name-2.log" >&2; exit 1; }
  fi
  echo "[reproduce] $name done after $(( $(date +%s) - started )) s"
}

train_pgd() { train "$OUT/pgd" --method pgd; }
train_trades() { train "$OUT/trades" --method trades; }
# Confusion before removal: removal selects its examples from the same attacks.
studies_of_confusion() {
  study confusion
  study removal
  study temperature
}
mitigated_and_rankings() {
  train "$OUT/mitigated" --method pgd --mitigate auto
  study attacks --compare "$OUT/trades"
  study weight-norm
  study epochs
}

side_by_side training train_pgd train_trades
side_by_side studies studies_of_confusion mitigated_and_rankings
study mitigation --after "$OUT/mitigated"

reports=()
for experiment in epochs confusion removal weight-norm attacks temperature mitigation; do
  reports+=("$OUT/study/$experiment/report.json")
done
list=$(IFS=,; echo "${reports[*]}")
$CLI study render --from "$list" --out "$OUT/report"
echo "[reproduce] wall time $(( $(date +%s) - started )) s (this invocation)"
