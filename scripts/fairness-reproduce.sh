#!/usr/bin/env bash
# The robust-fairness comparison on Fashion-MNIST: every base method and fairness method at one budget, several
# seeds, then `study fairness` over all runs. Resumable: rerun the same command after an interruption; finished
# runs are skipped (`train --resume` on a finished run does nothing), unfinished ones continue from their checkpoint.
#
#   bash scripts/fairness-reproduce.sh [OUT]            (default OUT: runs/fairness-fashion-mnist)
#
# The budget is set by the variables below (environment overrides). FAIRNESS lists BASE:KIND pairs; it needs
# `train --fairness KIND` (issue 25, item 1). FINETUNE lists the kinds that fine-tune a trained baseline
# (`--init-from`): FRL and FAAL, started from the same seed's run of their base method.
set -euo pipefail

OUT=${1:-runs/fairness-fashion-mnist}
CLI=${CLI:-"node dist/cli/main.js"}
DATASET=${DATASET:-fashion-mnist}
SEEDS=${SEEDS:-"0 1 2"}
BASES=${BASES:-"pgd trades"}
FAIRNESS=${FAIRNESS-"trades:frl-rwrm trades:cfa trades:wat trades:dafa trades:faal"}
FINETUNE=${FINETUNE:-"frl-rw frl-rm frl-rwrm faal"}
EPOCHS=${EPOCHS:-10}
FINETUNE_EPOCHS=${FINETUNE_EPOCHS:-2}
TRAIN_PER_CLASS=${TRAIN_PER_CLASS:-1000}
EVAL_PER_CLASS=${EVAL_PER_CLASS:-100}
TRAIN_STEPS=${TRAIN_STEPS:-10}
TEST_PER_CLASS=${TEST_PER_CLASS:-1000}
ATTACKS=${ATTACKS:-pgd@20,autoattack}
EXTRA=${EXTRA:-}

common=(--dataset "$DATASET" --train-per-class "$TRAIN_PER_CLASS" --eval-per-class "$EVAL_PER_CLASS" --train-steps "$TRAIN_STEPS")
runs=()

# train DIR ARGS...: a fresh run, or the continuation of an interrupted one.
train() {
  local dir=$1
  shift
  local resume=()
  [ -f "$dir/checkpoint.safetensors" ] && resume=(--resume)
  echo "[reproduce] $dir"
  # shellcheck disable=SC2086
  $CLI train "${common[@]}" "$@" --out "$dir" "${resume[@]}" $EXTRA
  runs+=("$dir")
}

started=$(date +%s)
for seed in $SEEDS; do
  for base in $BASES; do
    train "$OUT/$base-s$seed" --method "$base" --epochs "$EPOCHS" --seed "$seed"
  done
  for pair in $FAIRNESS; do
    base=${pair%%:*}
    kind=${pair##*:}
    if [[ " $FINETUNE " == *" $kind "* ]]; then
      train "$OUT/$base-$kind-s$seed" --method "$base" --fairness "$kind" --epochs "$FINETUNE_EPOCHS" --seed "$seed" --init-from "$OUT/$base-s$seed"
    else
      train "$OUT/$base-$kind-s$seed" --method "$base" --fairness "$kind" --epochs "$EPOCHS" --seed "$seed"
    fi
  done
done

baseline="$OUT/${BASES##* }-s${SEEDS%% *}"
list=$(IFS=,; echo "${runs[*]}")
$CLI study fairness --runs "$list" --baseline "$baseline" --attacks "$ATTACKS" --per-class "$TEST_PER_CLASS" --out "$OUT/report"
echo "[reproduce] wall time $(( $(date +%s) - started )) s"
