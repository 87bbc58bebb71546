#!/usr/bin/env bash
# One shot on the GPU machine (see ../shared/device/README.md): bring node, build the addon against the machine's
# CUDA torch (scripts/check-libtorch.sh cuda), run the CUDA and fast-path tests, then `npm run bench` on the GPU,
# writing every log and result under $OUT; about 8 minutes at most, each step under its own time limit.
#
# Prepare here, once (fills the git-ignored .device/ with node, npm and the node_modules the GPU machine needs;
# the TypeScript is built into dist/):
#   bash ../shared/device/prepare.sh && bash scripts/gpu-check.sh --pack && npx tsc -p tsconfig.json
# then on the GPU machine, carrying .device and dist:
#   bash scripts/gpu-check.sh
# `bash scripts/gpu-check.sh --dry-run` prints the steps and checks what can be checked without a GPU.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
mode=${1:-run}

# Packages the GPU run does not load: the report's browser test and ImageNet's decoder (sharp, loaded on demand).
pack_excludes=(--exclude=node_modules/playwright-core --exclude=node_modules/@img --exclude=node_modules/sharp
  --exclude=node_modules/prebuildify --exclude='node_modules/.cache')

if [ "$mode" = --pack ]; then
  mkdir -p .device
  tar cf - "${pack_excludes[@]}" node_modules | xz -T2 -6 > .device/node_modules.tar.xz
  du -sh .device/*
  exit 0
fi

OUT=${OUT:-$root/gpu-check-out}
mkdir -p "$OUT"
started=$(date +%s)
# Whole-run budget and each step's share (seconds); the bench gets what is left.
budget=${GPU_CHECK_BUDGET:-470}
build_limit=240
test_limit=120
summary=$OUT/summary.txt
: > "$summary"
say() { echo "gpu-check: $*" | tee -a "$summary"; }
left() { echo $((budget - ($(date +%s) - started))); }
# Runs a step under a time limit, its output in $OUT/NAME.log; records its status and duration.
step() {
  local name=$1 limit=$2
  shift 2
  if [ "$limit" -le 10 ]; then say "$name: skipped, no time left"; return 1; fi
  local t0=$(date +%s)
  if [ "$mode" = --dry-run ]; then say "$name (limit ${limit}s): $*"; return 0; fi
  timeout --kill-after=10 "$limit" "$@" > "$OUT/$name.log" 2>&1
  local status=$?
  say "$name: exit $status after $(( $(date +%s) - t0 ))s (log: $name.log)"
  return $status
}

if [ "$mode" = --dry-run ]; then
  say "dry run: no build, no tests, no bench; the steps as they would run:"
else
  # node and npm from .device/ (the machine has none); CMake finds the Python torch.
  if [ -f .device/bootstrap.sh ]; then
    # shellcheck disable=SC1091
    source .device/bootstrap.sh > "$OUT/bootstrap.log" 2>&1 || { say "bootstrap failed"; cat "$OUT/bootstrap.log"; exit 1; }
  fi
  command -v node >/dev/null || { say "no node: run scripts/gpu-check.sh --pack and ../shared/device/prepare.sh here, carry .device"; exit 1; }
  if [ ! -d node_modules ] && [ -f .device/node_modules.tar.xz ]; then
    python3 -c 'import lzma, sys, tarfile; tarfile.open(fileobj=lzma.open(sys.argv[1])).extractall(".")' .device/node_modules.tar.xz
  fi
  [ -f dist/index.js ] || { say "no dist/: build the TypeScript here (npx tsc -p tsconfig.json) and carry dist"; exit 1; }
  { nvidia-smi; nvidia-smi --query-gpu=name,compute_cap,memory.total,driver_version --format=csv; } > "$OUT/nvidia-smi.txt" 2>&1
  say "$(head -c 2000 "$OUT/bootstrap.log" 2>/dev/null | tail -1); $(tail -1 "$OUT/nvidia-smi.txt")"
fi

# The CUDA build (check-libtorch takes python3's torch when it is a CUDA build, and loads the addon), then the tests
# that exercise CUDA and the fast path; everything CPU-only ran on the CPU machines already.
export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0}
# check-libtorch looks for nvcc under CUDA_HOME (default /usr/local/cuda); else the one on PATH.
if [ -z "${CUDA_HOME:-}" ] && [ ! -x /usr/local/cuda/bin/nvcc ] && command -v nvcc >/dev/null; then
  export CUDA_HOME=$(dirname "$(dirname "$(command -v nvcc)")")
fi
addon=$root/build-cuda/classwise_at.node
step build $build_limit bash scripts/check-libtorch.sh cuda test/runtime.test.ts
built=$?
if [ "$mode" != --dry-run ]; then
  grep -E '^check-libtorch: (loaded|LibTorch)|Tests:' "$OUT/build.log" | tee -a "$summary"
  cp build-cuda/build.log "$OUT/cuda-build.log" 2>/dev/null
  if [ ! -f "$addon" ]; then say "no addon was built (exit $built); see build.log and cuda-build.log"; exit 1; fi
  CLASSWISE_ADDON=$addon node -e 'console.log(JSON.stringify(require(process.env.CLASSWISE_ADDON).runtimeInfo(), null, 1))' > "$OUT/runtime-info.json" 2>&1
fi
step tests $test_limit env CLASSWISE_ADDON="$addon" npx jest test/cuda.test.ts test/fast-path.test.ts
[ "$mode" != --dry-run ] && grep -E 'Tests:|✕|✓|skipped' "$OUT/tests.log" | tee -a "$summary"

# The bench on the GPU, one timed pass each: ours (precision and memory format auto) and references (a), (b), (c).
# PreActResNet-18 first (the issue's GPU goals are on it), then SmallCNN, then (c) with torch.compile, as time allows.
step bench-preact18 $(( $(left) - 30 )) env CLASSWISE_ADDON="$addon" node scripts/bench/run.js --device cuda --quick --no-compile --only preact18 --out "$OUT/bench-preact18.json"
# What the CUDA graphs bring on their own: the same eval workload with the PGD steps run eagerly.
step bench-no-graphs $(( $(left) - 30 )) env CLASSWISE_ADDON="$addon" CLASSWISE_CUDA_GRAPHS=0 node scripts/bench/run.js --device cuda --quick --refs none --only "preact18-32x32 pgd20-eval" --out "$OUT/bench-no-graphs.json"
step bench-smallcnn $(( $(left) - 30 )) env CLASSWISE_ADDON="$addon" node scripts/bench/run.js --device cuda --quick --no-compile --only smallcnn --out "$OUT/bench-smallcnn.json"
step bench-compiled $(( $(left) - 10 )) env CLASSWISE_ADDON="$addon" node scripts/bench/run.js --device cuda --quick --compile --refs c --only "preact18-32x32 pgd10-train" --out "$OUT/bench-compiled.json"
if [ "$mode" != --dry-run ]; then
  for name in bench-preact18 bench-no-graphs bench-smallcnn bench-compiled; do
    [ -f "$OUT/$name.log" ] && sed -n '/classwise-at bench/,$p' "$OUT/$name.log" | tee -a "$summary"
  done
fi
say "done in $(( $(date +%s) - started ))s; everything is under $OUT"
