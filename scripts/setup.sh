#!/usr/bin/env bash
# Brings a fresh Debian 12 machine to a built classwise-at, doing only what is missing:
# system packages (LibTorch, an optimized BLAS, Fashion-MNIST; python3-torch and Chromium for the tests), npm packages,
# the native addon and the TypeScript build. `setup.sh test` also wants the test-only packages.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-run}

packages=()
torch_found() {
  [ -n "${LIBTORCH:-}" ] || [ -n "${Torch_DIR:-}" ] && return 0
  python3 -c 'import torch' >/dev/null 2>&1 && return 0
  dpkg -s libtorch-dev >/dev/null 2>&1
}
torch_found || packages+=(libtorch-dev)
[ -d /usr/share/datasets/fashion-mnist ] || packages+=(dataset-fashion-mnist)
# Debian falls back to the netlib reference BLAS, which made LibTorch's linear layers 21% of PGD time;
# OpenBLAS (OpenMP build, nesting with LibTorch's OpenMP threads) cut CPU time by a quarter.
readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null | grep -q openblas || packages+=(libopenblas0-openmp)
command -v cmake >/dev/null || packages+=(cmake)
command -v g++ >/dev/null || packages+=(g++)
if [ "$mode" = test ]; then
  /usr/bin/python3 -c 'import torch' >/dev/null 2>&1 || packages+=(python3-torch)
  # The report's browser test opens it in headless Chromium.
  [ -x /usr/bin/chromium ] || packages+=(chromium)
fi

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

# npm packages: install when absent or older than the lockfile. Scripts are skipped: the addon is built below.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
fi

newer_than() { [ -n "$(find "${@:2}" -newer "$1" -print -quit 2>/dev/null)" ]; }
addon=build/Release/classwise_at.node
if [ ! -f "$addon" ] || newer_than "$addon" native CMakeLists.txt; then
  echo "setup: building the native addon (cmake-js, about a minute)"
  node scripts/build-native.js build/Release > build-native.log 2>&1 || { tail -40 build-native.log >&2; exit 1; }
fi
if [ ! -f dist/index.js ] || newer_than dist/index.js src tsconfig.json; then
  echo "setup: compiling TypeScript"
  npx tsc -p tsconfig.json
  chmod +x dist/cli/main.js
fi
