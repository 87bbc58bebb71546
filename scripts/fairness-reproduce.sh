#!/usr/bin/env bash
# The robust-fairness comparison on Fashion-MNIST: the base methods (PGD-AT, TRADES) and every fairness method at
# one budget, several seeds, then `study fairness` over all runs under PGD-20 and under AutoAttack. The default
# budget is sized to finish in about 3 hours on an idle 2-core CPU (docs/fairness.md, "Reproducing the comparison").
#
#   bash scripts/fairness-reproduce.sh [OUT]            (default OUT: runs/fairness-fashion-mnist)
#
# Resumable: rerun the same command after an interruption. A finished run is skipped (`train --resume` on it
# does nothing), an unfinished one continues from its last checkpoint, and each study reads the evaluations it
# already finished from OUT/evaluations (`study fairness --cache`) and runs only the missing ones.
#
# The budget is set by the variables below (environment overrides). FAIRNESS lists BASE:KIND pairs. FINETUNE lists
# the kinds that fine-tune a trained baseline (`--init-from`): FRL and FAAL, started from the same seed's run of
# their base method, for FINETUNE_EPOCHS.
set -euo pipefail

OUT=${1:-runs/fairness-fashion-mnist}
CLI=${CLI:-"node dist/cli/main.js"}
DATASET=${DATASET:-fashion-mnist}
SEEDS=${SEEDS:-"0 1 2"}
BASES=${BASES:-"pgd trades"}
FAIRNESS=${FAIRNESS-"trades:frl-rwrm trades:cfa trades:wat trades:dafa trades:faal"}
FINETUNE=${FINETUNE:-"frl-rw frl-rm frl-rwrm faal"}
EPOCHS=${EPOCHS:-5}
FINETUNE_EPOCHS=${FINETUNE_EPOCHS:-2}
# CFA: first epoch whose model may join the FAWA average (its default, 10, is past a short run's end).
CFA_BEGIN=${CFA_BEGIN:-$(( (EPOCHS + 1) / 2 ))}
# Training images per class (of 6,000), the per-epoch test subset (PGD-20) and the validation split per class.
TRAIN_PER_CLASS=${TRAIN_PER_CLASS:-200}
EVAL_PER_CLASS=${EVAL_PER_CLASS:-50}
VALIDATION_PER_CLASS=${VALIDATION_PER_CLASS:-50}
TRAIN_STEPS=${TRAIN_STEPS:-10}
# The comparison: PGD_ATTACK on PGD_PER_CLASS test images per class at every checkpoint (best, last, FAWA);
# AutoAttack, the costly one, on AA_PER_CLASS images per class at each run's best checkpoint (its own report).
PGD_ATTACK=${PGD_ATTACK:-pgd@20}
PGD_PER_CLASS=${PGD_PER_CLASS:-50}
PGD_CHECKPOINTS=${PGD_CHECKPOINTS:-best,last,fawa}
AA_ATTACK=${AA_ATTACK:-autoattack}
AA_PER_CLASS=${AA_PER_CLASS:-2}
AA_CHECKPOINTS=${AA_CHECKPOINTS:-best}
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
    fair=(--method "$base" --fairness "$kind" --validation-per-class "$VALIDATION_PER_CLASS" --seed "$seed")
    [ "$kind" = cfa ] && fair+=(--fairness-begin "$CFA_BEGIN")
    if [[ " $FINETUNE " == *" $kind "* ]]; then
      train "$OUT/$base-$kind-s$seed" "${fair[@]}" --epochs "$FINETUNE_EPOCHS" --init-from "$OUT/$base-s$seed"
    else
      train "$OUT/$base-$kind-s$seed" "${fair[@]}" --epochs "$EPOCHS"
    fi
  done
done
echo "[reproduce] training done after $(( $(date +%s) - started )) s"
# TRAIN_ONLY=1 stops here: a lane of a comparison split over several processes (docs/fairness.md).
[ "${TRAIN_ONLY:-0}" = 1 ] && exit 0

baseline="$OUT/${BASES##* }-s${SEEDS%% *}"
list=$(IFS=,; echo "${runs[*]}")
for study in "$PGD_ATTACK:$PGD_PER_CLASS:$PGD_CHECKPOINTS" "$AA_ATTACK:$AA_PER_CLASS:$AA_CHECKPOINTS"; do
  IFS=: read -r attack per_class checkpoints <<< "$study"
  $CLI study fairness --runs "$list" --baseline "$baseline" --attacks "$attack" --per-class "$per_class" \
    --checkpoints "$checkpoints" --cache "$OUT/evaluations" --out "$OUT/report-${attack//@/}"
  echo "[reproduce] study $attack done after $(( $(date +%s) - started )) s"
done
echo "[reproduce] wall time $(( $(date +%s) - started )) s"
