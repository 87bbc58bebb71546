#!/usr/bin/env bash
# Builds the addon against another LibTorch line into its own folder, loads it, and runs the test suite on it,
# leaving the default build (build/Release, PyTorch 2.13 from the project's .venv) alone.
#
#   scripts/check-libtorch.sh debian [jest args]  Debian's libtorch-dev 1.13 (CPU), reference: python3-torch 1.13
#   scripts/check-libtorch.sh cuda [jest args]    a CUDA LibTorch: the Python torch of CLASSWISE_CUDA_PYTHON, or
#                                                 python3's when it is a CUDA build (the GPU machine), or a
#                                                 .venv-cuda with torch==2.14.1 (CUDA 13). Without a GPU it checks
#                                                 that the addon compiled and linked with CUDA and runs the CPU tests.
# Needs the default setup first (node_modules, dist/): `npm test` or `bash scripts/setup.sh test` does it.
set -euo pipefail
cd "$(dirname "$0")/.."
line=${1:?usage: scripts/check-libtorch.sh debian|cuda [jest args]}
shift

as_root_install() {
  [ $# -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "check-libtorch: missing system packages. Run: sudo apt-get install -y $*" >&2
    exit 1
  fi
  echo "check-libtorch: installing $* (apt-get)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# Installs the reference's pinned packages (the peers) into a Python, without touching its torch. Debian's torch
# is built against Debian's numpy and scipy (apt), so that line takes only the pure-Python peers from pip.
reference_packages() {
  local requirements=scripts/reference/requirements.txt
  if [ "$line" = debian ]; then
    requirements=$(mktemp)
    grep -vE '^(numpy|scipy)==' scripts/reference/requirements.txt > "$requirements"
  fi
  "$1" scripts/reference/check_requirements.py "$requirements" >/dev/null 2>&1 ||
    "$1" -m pip install --quiet --disable-pip-version-check --no-deps -r "$requirements"
}

build_args=()
# Both lines compile c10d's ProcessGroupGloo.hpp, which needs Gloo's headers (docs/distributed.md).
[ -n "${GLOO_INCLUDE_DIR:-}" ] || [ -f /usr/include/gloo/algorithm.h ] || as_root_install libgloo-dev
# Both lines build the native JPEG decoder (ImageNet), which links libjpeg-turbo.
[ -n "${TURBOJPEG_DIR:-}" ] || [ -f /usr/include/turbojpeg.h ] || as_root_install libturbojpeg0-dev
[ -n "${TURBOJPEG_DIR:-}" ] || [ -f /usr/include/jpeglib.h ] || as_root_install libjpeg62-turbo-dev
case "$line" in
  debian)
    missing=()
    dpkg -s libtorch-dev >/dev/null 2>&1 || missing+=(libtorch-dev)
    /usr/bin/python3 -c 'import torch' >/dev/null 2>&1 || missing+=(python3-torch)
    /usr/bin/python3 -c 'import scipy' >/dev/null 2>&1 || missing+=(python3-scipy)
    /usr/bin/python3 -c 'import ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
    readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null | grep -q openblas || missing+=(libopenblas0-openmp)
    as_root_install "${missing[@]}"
    # Debian's python3 is externally managed: a venv that sees its torch takes the reference's packages.
    [ -x .venv-debian/bin/python ] || /usr/bin/python3 -m venv --system-site-packages .venv-debian
    reference_packages .venv-debian/bin/python
    export Torch_DIR=/usr/lib/x86_64-linux-gnu/cmake/Torch
    unset LIBTORCH CLASSWISE_PYTHON
    ;;
  cuda)
    python=${CLASSWISE_CUDA_PYTHON:-}
    if [ -z "$python" ] && python3 -c 'import torch, sys; sys.exit(0 if torch.version.cuda else 1)' 2>/dev/null; then
      python=$(command -v python3)
    fi
    if [ -z "$python" ]; then
      python=$PWD/.venv-cuda/bin/python
      if ! "$python" -c 'import torch' >/dev/null 2>&1; then
        echo "check-libtorch: creating .venv-cuda with torch==${CLASSWISE_CUDA_TORCH_VERSION:-2.14.1} (pip, several GB)"
        python3 -m venv .venv-cuda
        .venv-cuda/bin/pip install --quiet --disable-pip-version-check "torch==${CLASSWISE_CUDA_TORCH_VERSION:-2.14.1}"
      fi
    fi
    # The peer comparisons are not part of this line; only numpy, without which torch warns on every import (and
    # the reference tests read the Python's stderr). A machine without PyPI (the GPU machine) goes on without it.
    "$python" -c 'import numpy' 2>/dev/null ||
      "$python" -m pip install --quiet --disable-pip-version-check "$(grep -m1 '^numpy==' scripts/reference/requirements.txt)" ||
      echo "check-libtorch: numpy could not be installed into $python; going on without it"
    cuda_root=${CUDA_HOME:-/usr/local/cuda}
    [ -x "$cuda_root/bin/nvcc" ] || { echo "check-libtorch: no nvcc under $cuda_root (set CUDA_HOME)" >&2; exit 1; }
    # The CUDA libraries' headers and link stubs come with torch's NVIDIA wheels (site-packages/nvidia/*).
    nvidia=$("$python" -c 'import os, torch; print(os.path.join(os.path.dirname(os.path.dirname(torch.__file__)), "nvidia"))')
    export CLASSWISE_PYTHON=$python CUDA_HOME=$cuda_root CLASSWISE_NVIDIA_WHEELS=$nvidia
    export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0}
    build_args=(--CDCUDA_TOOLKIT_ROOT_DIR="$cuda_root" --CDCMAKE_CUDA_COMPILER="$cuda_root/bin/nvcc")
    unset LIBTORCH Torch_DIR
    ;;
  *)
    echo "check-libtorch: unknown line '$line'; use debian or cuda" >&2
    exit 2
    ;;
esac

out=build-$line
addon=$PWD/$out/classwise_at.node
echo "check-libtorch: building the addon for '$line' into $out/ (about a minute on 2 cores; log: $out/build.log)"
mkdir -p "$out"
CLASSWISE_CMAKE_OUT=build-cmake-$line node scripts/build-native.js "$out" "${build_args[@]}" > "$out/build.log" 2>&1 ||
  { tail -40 "$out/build.log" >&2; exit 1; }
grep -m1 'classwise-at: LibTorch' "$out/build.log" | sed 's/^-- /check-libtorch: /'

# Loads it in a fresh process and checks what it says about itself.
CLASSWISE_ADDON=$addon CHECK_LINE=$line node -e '
  const addon = require(process.env.CLASSWISE_ADDON);
  const info = addon.runtimeInfo();
  const backends = addon.distributedBackends();
  const line = process.env.CHECK_LINE;
  console.log(`check-libtorch: loaded ${line} build: LibTorch ${info.torchVersion}, C++${info.cxxStandard % 100}, ` +
    `built with CUDA: ${info.builtWithCuda ? "yes" : "no"}, CUDA available: ${info.cudaAvailable ? "yes" : "no"} ` +
    `(${info.cudaDeviceCount} devices), CPU ${info.cpuCapability}, reference Python ${info.torchPython || "none"}, ` +
    `process groups: ${backends.join(", ")}`);
  const problems = [];
  if (line === "cuda" && !info.builtWithCuda) problems.push("the CUDA build does not report builtWithCuda");
  if (line === "cuda" && !backends.includes("nccl")) problems.push("the CUDA build has no NCCL process group (nccl.h not found?)");
  if (!backends.includes("gloo")) problems.push("no Gloo process group");
  if (line === "debian" && !info.torchVersion.startsWith("1.13")) problems.push(`expected LibTorch 1.13, got ${info.torchVersion}`);
  if (!info.torchPython) problems.push("no reference Python was found for this LibTorch");
  if (problems.length) { console.error("check-libtorch: " + problems.join("; ")); process.exit(1); }
'

# Each line runs the files that exercise the addon's native surface against that LibTorch: Debian's 1.13 the whole of
# it (loading, errors, async workers, every architecture, TorchScript and PyTorch weights, each training method,
# checkpoints, two Gloo ranks, and the attacks through their agreement with that line's PyTorch); the CUDA build, which shares the CPU kernels of the default line,
# what its build changes (loading, device errors, async workers, every architecture, agreement with its PyTorch).
# The TypeScript-only files (readers, reports, the study's statistics, the CLI) and the longest end-to-end files ran
# on the default line already and would push CI past its time. Jest arguments that name files (anything not
# starting with "-") replace this list; CLASSWISE_LINE_TESTS=all runs everything.
line_tests=(test/runtime.test.ts test/api-errors.test.ts test/async.test.ts test/cuda.test.ts test/models.test.ts
            test/pytorch-weights.test.ts test/reference.test.ts)
if [ "$line" = debian ]; then
  line_tests+=(test/torchscript.test.ts test/train-methods.test.ts test/checkpoint/
              test/distributed/data-parallel.test.ts)
fi
scope=("${line_tests[@]}")
for arg in "$@"; do
  [[ $arg == -* ]] || scope=()
done
if [ "${CLASSWISE_LINE_TESTS:-}" = all ]; then
  scope=(--testPathIgnorePatterns /test/peers/)
fi
echo "check-libtorch: the tests on the '$line' build: ${scope[*]:-the files given}"
# The ignore pattern goes last: jest would read any argument after it as one more pattern.
CLASSWISE_ADDON=$addon npx jest "$@" "${scope[@]}"
