#!/usr/bin/env bash
# The robust-fairness comparison on Fashion-MNIST: the base methods (PGD-AT, TRADES) and every fairness method at
# one budget, several seeds, then `study fairness` over all runs under PGD-20 and under AutoAttack. The default
# budget finished in about 2 hours on a 2-core CPU with LANES=2 (docs/fairness-fashion-mnist.md).
#
#   bash scripts/fairness-reproduce.sh [OUT]            (default OUT: runs/fairness-fashion-mnist)
#   LANES=2 bash scripts/fairness-reproduce.sh [OUT]    (two 1-thread processes: faster on 2 cores)
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
FAIRNESS=${FAIRNESS-"trades:frl-rw trades:frl-rm trades:frl-rwrm trades:cfa trades:wat trades:dafa trades:faal"}
FINETUNE=${FINETUNE:-"frl-rw frl-rm frl-rwrm faal"}
EPOCHS=${EPOCHS:-5}
BATCH_SIZE=${BATCH_SIZE:-128}
FINETUNE_EPOCHS=${FINETUNE_EPOCHS:-2}
# CFA: first epoch whose model may join the FAWA average (its default, 10, is past a short run's end).
CFA_BEGIN=${CFA_BEGIN:-$(( (EPOCHS + 1) / 2 ))}
# Training images per class (of 6,000), the per-epoch test subset (PGD-20) and the validation split per class.
TRAIN_PER_CLASS=${TRAIN_PER_CLASS:-1000}
EVAL_PER_CLASS=${EVAL_PER_CLASS:-50}
VALIDATION_PER_CLASS=${VALIDATION_PER_CLASS:-50}
TRAIN_STEPS=${TRAIN_STEPS:-5}
# The comparison: PGD_ATTACK on PGD_PER_CLASS test images per class at every checkpoint (best, last, FAWA);
# AutoAttack, the costly one, on AA_PER_CLASS images per class at each run's best checkpoint (its own report).
PGD_ATTACK=${PGD_ATTACK:-pgd@20}
PGD_PER_CLASS=${PGD_PER_CLASS:-50}
PGD_CHECKPOINTS=${PGD_CHECKPOINTS:-best,last,fawa}
AA_ATTACK=${AA_ATTACK:-autoattack}
AA_PER_CLASS=${AA_PER_CLASS:-3}
AA_CHECKPOINTS=${AA_CHECKPOINTS:-best}
EXTRA=${EXTRA:-}

common=(--dataset "$DATASET" --train-per-class "$TRAIN_PER_CLASS" --eval-per-class "$EVAL_PER_CLASS" --train-steps "$TRAIN_STEPS" --batch-size "$BATCH_SIZE")
# LANES=2 uses both cores of a 2-core CPU better than one process on 2 threads (a SmallCNN batch parallelises
# poorly): two processes of 1 thread each, lane 1 the base runs and the fine-tunes that start from them (in that
# order), lane 2 the other fairness runs; then the evaluations split in two halves the same way.
LANES=${LANES:-1}
case $LANES in 1 | 2) ;; *) echo "fairness-reproduce: LANES=$LANES: use 1 (one process) or 2 (two 1-thread processes)" >&2; exit 2 ;; esac
# LANE (set for the lane processes): train only that lane's runs; 0 trains every run, "none" none.
ONLY_LANE=${LANE:-0}
runs=()

# run LANE DIR ARGS...: DIR joins the comparison; it is trained (fresh, or continued after an interruption) when
# this process trains LANE's runs.
run() {
  local lane=$1 dir=$2
  shift 2
  runs+=("$dir")
  [ "$ONLY_LANE" = 0 ] || [ "$ONLY_LANE" = "$lane" ] || return 0
  local resume=()
  [ -f "$dir/checkpoint.safetensors" ] && resume=(--resume)
  echo "[reproduce] $dir"
  # shellcheck disable=SC2086
  $CLI train "${common[@]}" "$@" --out "$dir" "${resume[@]}" $EXTRA
}

started=$(date +%s)
if [ "$LANES" = 2 ] && [ "$ONLY_LANE" = 0 ]; then
  mkdir -p "$OUT"
  for lane in 1 2; do
    echo "[reproduce] lane $lane trains in the background on 1 thread: $OUT/lane-$lane.log"
    LANE=$lane TRAIN_ONLY=1 EXTRA="$EXTRA --threads 1" bash "$0" "$OUT" > "$OUT/lane-$lane.log" 2>&1 &
    pids+=($!)
  done
  for lane in 1 2; do
    wait "${pids[$((lane - 1))]}" || { echo "[reproduce] lane $lane failed: see $OUT/lane-$lane.log"; exit 1; }
  done
  ONLY_LANE=none
fi
for seed in $SEEDS; do
  for base in $BASES; do
    run 1 "$OUT/$base-s$seed" --method "$base" --epochs "$EPOCHS" --seed "$seed"
  done
  for pair in $FAIRNESS; do
    base=${pair%%:*}
    kind=${pair##*:}
    fair=(--method "$base" --fairness "$kind" --validation-per-class "$VALIDATION_PER_CLASS" --seed "$seed")
    [ "$kind" = cfa ] && fair+=(--fairness-begin "$CFA_BEGIN")
    if [[ " $FINETUNE " == *" $kind "* ]]; then
      run 1 "$OUT/$base-$kind-s$seed" "${fair[@]}" --epochs "$FINETUNE_EPOCHS" --init-from "$OUT/$base-s$seed"
    else
      run 2 "$OUT/$base-$kind-s$seed" "${fair[@]}" --epochs "$EPOCHS"
    fi
  done
done
echo "[reproduce] training done after $(( $(date +%s) - started )) s"
# A lane process stops here; its parent runs the studies.
[ "${TRAIN_ONLY:-0}" = 1 ] && exit 0

studies=("$PGD_ATTACK:$PGD_PER_CLASS:$PGD_CHECKPOINTS" "$AA_ATTACK:$AA_PER_CLASS:$AA_CHECKPOINTS")
if [ "$LANES" = 2 ]; then
  # Each half of the runs evaluated by its own 1-thread process into the shared cache; the reports below read it.
  halves=("" "")
  for i in "${!runs[@]}"; do halves[$((i % 2))]+="${halves[$((i % 2))]:+,}${runs[$i]}"; done
  pids=()
  for half in 0 1; do
    (
      for study in "${studies[@]}"; do
        IFS=: read -r attack per_class checkpoints <<< "$study"
        $CLI study fairness --runs "${halves[$half]}" --attacks "$attack" --per-class "$per_class" --checkpoints "$checkpoints" \
          --cache "$OUT/evaluations" --out "$OUT/lane-studies/$half-${attack//@/}" --threads 1 $EXTRA
      done
    ) > "$OUT/lane-study-$((half + 1)).log" 2>&1 &
    pids+=($!)
  done
  for half in 0 1; do
    wait "${pids[$half]}" || { echo "[reproduce] evaluations failed: see $OUT/lane-study-$((half + 1)).log"; exit 1; }
  done
  echo "[reproduce] evaluations done after $(( $(date +%s) - started )) s"
fi

baseline="$OUT/${BASES##* }-s${SEEDS%% *}"
list=$(IFS=,; echo "${runs[*]}")
for study in "${studies[@]}"; do
  IFS=: read -r attack per_class checkpoints <<< "$study"
  $CLI study fairness --runs "$list" --baseline "$baseline" --attacks "$attack" --per-class "$per_class" \
    --checkpoints "$checkpoints" --cache "$OUT/evaluations" --out "$OUT/report-${attack//@/}"
  echo "[reproduce] study $attack done after $(( $(date +%s) - started )) s"
done
echo "[reproduce] wall time $(( $(date +%s) - started )) s"
