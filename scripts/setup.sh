#!/usr/bin/env bash
# Brings a fresh Debian 12 machine to a built classwise-at, doing only what is missing: LibTorch, system packages
# (Fashion-MNIST, a compiler, Chromium for the tests), npm packages, the native addon and the TypeScript build.
# `setup.sh test` also installs what the tests need (the PyTorch reference's packages, Chromium).
#
# LibTorch, in this order:
#   LIBTORCH=/path or Torch_DIR=/path  a LibTorch you name (Torch_DIR=/usr/lib/x86_64-linux-gnu/cmake/Torch is
#                                      Debian's libtorch-dev 1.13, installed here when missing);
#   CLASSWISE_PYTHON=/path/to/python   the torch of that Python (pip, conda, your own venv);
#   otherwise                          the project's .venv, created with torch==$CLASSWISE_TORCH_VERSION (2.13.0).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-run}
torch_version=${CLASSWISE_TORCH_VERSION:-2.13.0}
debian_torch_dir=/usr/lib/x86_64-linux-gnu/cmake/Torch

packages=()
uses_debian_torch=false
if [ "${Torch_DIR:-}" = "$debian_torch_dir" ] || [ "${LIBTORCH:-}" = /usr ]; then
  uses_debian_torch=true
  dpkg -s libtorch-dev >/dev/null 2>&1 || packages+=(libtorch-dev)
  # Debian falls back to the netlib reference BLAS, which made LibTorch's linear layers 21% of PGD time;
  # OpenBLAS (OpenMP build, nesting with LibTorch's OpenMP threads) cut CPU time by a quarter.
  readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null | grep -q openblas || packages+=(libopenblas0-openmp)
  # The reference tests run Debian's python3-torch, the same 1.13 as the addon.
  [ "$mode" = test ] && ! /usr/bin/python3 -c 'import torch' >/dev/null 2>&1 && packages+=(python3-torch)
fi
# c10d's ProcessGroupGloo.hpp (data parallelism) includes Gloo's headers, which neither libtorch-dev nor the pip
# wheels provide (docs/distributed.md); GLOO_INCLUDE_DIR names other ones.
[ -n "${GLOO_INCLUDE_DIR:-}" ] || [ -f /usr/include/gloo/algorithm.h ] || packages+=(libgloo-dev)
# Native JPEG decoding for ImageNet (native/jpeg_decoder.cc); without it the build falls back to sharp.
[ -n "${TURBOJPEG_DIR:-}" ] || [ -f /usr/include/turbojpeg.h ] || packages+=(libturbojpeg0-dev)
[ -n "${TURBOJPEG_DIR:-}" ] || [ -f /usr/include/jpeglib.h ] || packages+=(libjpeg62-turbo-dev)
[ -d /usr/share/datasets/fashion-mnist ] || packages+=(dataset-fashion-mnist)
command -v cmake >/dev/null || packages+=(cmake)
command -v g++ >/dev/null || packages+=(g++)
# The report's browser test opens it in headless Chromium.
[ "$mode" = test ] && [ ! -x /usr/bin/chromium ] && packages+=(chromium)

if [ ${#packages[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing ${packages[*]} (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
  else
    echo "setup: missing system packages. Run:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${packages[*]}" >&2
    exit 1
  fi
fi

# The Python torch: the user's (CLASSWISE_PYTHON), or the project's own .venv. Its torch is the LibTorch the addon
# links and the PyTorch the reference tests and the bench run.
torch_python=""
if [ -z "${LIBTORCH:-}" ] && [ -z "${Torch_DIR:-}" ]; then
  if [ -n "${CLASSWISE_PYTHON:-}" ]; then
    "$CLASSWISE_PYTHON" -c 'import torch' 2>/dev/null || {
      echo "setup: CLASSWISE_PYTHON=$CLASSWISE_PYTHON cannot import torch; install torch there or unset it" >&2
      exit 1
    }
    torch_python=$CLASSWISE_PYTHON
  else
    torch_python=$PWD/.venv/bin/python
    if ! "$torch_python" -c 'import torch' >/dev/null 2>&1; then
      echo "setup: creating .venv with torch==$torch_version (pip; set PIP_INDEX_URL to choose a CPU-only or CUDA build)"
      python3 -m venv .venv
      # numpy too: without it torch warns on every import.
      .venv/bin/pip install --quiet --disable-pip-version-check "torch==$torch_version" numpy
    fi
  fi
fi
if [ "$mode" = test ]; then
  # The peers the tests compare against, into the Python whose torch the addon links.
  reference_python=$torch_python
  if $uses_debian_torch; then
    # Debian's python3 is externally managed: a venv that sees its torch takes the extra packages.
    [ -x .venv-debian/bin/python ] || /usr/bin/python3 -m venv --system-site-packages .venv-debian
    reference_python=$PWD/.venv-debian/bin/python
  fi
  if [ -n "$reference_python" ] && [ -s scripts/reference/requirements.txt ] &&
     ! "$reference_python" scripts/reference/check_requirements.py scripts/reference/requirements.txt 2>/dev/null; then
    echo "setup: installing the PyTorch reference's packages (scripts/reference/requirements.txt)"
    # --no-deps: the peers must not replace the torch the addon links.
    "$reference_python" -m pip install --quiet --disable-pip-version-check --no-deps -r scripts/reference/requirements.txt
  fi
fi

# npm packages: install when absent or older than the lockfile. Scripts are skipped: the addon is built below.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
fi

# The addon is rebuilt from scratch when the LibTorch choice changes (CMake caches what it found).
torch_choice="LIBTORCH=${LIBTORCH:-} Torch_DIR=${Torch_DIR:-} python=$torch_python"
[ -n "$torch_python" ] && torch_choice+=" torch=$("$torch_python" -c 'import torch; print(torch.__version__)')"
addon=build/Release/classwise_at.node
if [ "$(cat build/torch-choice 2>/dev/null)" != "$torch_choice" ]; then
  rm -rf build-cmake "$addon"
fi
newer_than() { [ -n "$(find "${@:2}" -newer "$1" -print -quit 2>/dev/null)" ]; }
if [ ! -f "$addon" ] || newer_than "$addon" native CMakeLists.txt; then
  echo "setup: building the native addon (cmake-js, about a minute on 2 cores)"
  CLASSWISE_PYTHON=$torch_python node scripts/build-native.js build/Release > build-native.log 2>&1 ||
    { tail -40 build-native.log >&2; exit 1; }
  echo "$torch_choice" > build/torch-choice
  grep -m1 'classwise-at: LibTorch' build-native.log | sed 's/^-- /setup: /'
fi
# The link the addon's rpath also looks in (the only one for a prebuild, scripts/prebuild.sh).
torch_lib=$(node -p 'require("./build/Release/classwise_at.node").runtimeInfo().torchLibDir' 2>/dev/null || true)
[ -n "$torch_lib" ] && ln -sfn "$torch_lib" libtorch
if [ ! -f dist/index.js ] || newer_than dist/index.js src tsconfig.json; then
  echo "setup: compiling TypeScript"
  npx tsc -p tsconfig.json
  chmod +x dist/cli/main.js
fi
