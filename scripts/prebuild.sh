#!/usr/bin/env bash
# The prebuild shipped in the npm package (prebuilds/linux-x64/), against the default LibTorch: prebuildify drives
# the build through build-native.js in node-gyp's place (node-gyp would want Node's headers from npm's nodedir), and
# the LibTorch version goes beside it for scripts/install.js to compare.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
CLASSWISE_PORTABLE_RPATH=1 PREBUILD_NODE_GYP="$PWD/scripts/build-native.js" npx prebuildify --napi --strip
platform=$(node -p 'process.platform + "-" + process.arch')
# The prebuild finds LibTorch through the libtorch link only (setup.sh made it).
node -p "require(\"./prebuilds/$platform/classwise-at.node\").runtimeInfo().torchVersion.split(\"+\")[0]" > "prebuilds/$platform/libtorch-version.txt"
echo "prebuild: prebuilds/$platform/ for LibTorch $(cat "prebuilds/$platform/libtorch-version.txt")"
ls -la "prebuilds/$platform"
# prebuildify cleans build/: the local build again, with its own rpath.
bash scripts/setup.sh
