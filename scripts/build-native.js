#!/usr/bin/env node
// Builds the addon with cmake-js (CMakeLists.txt is the one build description) and copies the .node
// into the folder given as the first argument, where node-gyp-build and prebuildify look for it.
// binding.gyp calls this with <(PRODUCT_DIR); `npm run build:native` calls it with build/Release; the package's
// install script (scripts/install.js) when no prebuild fits.
// CLASSWISE_CMAKE_OUT names another CMake folder (the CUDA build check keeps its own); arguments after the
// first go to cmake-js as they are (e.g. --CDCUDA_TOOLKIT_ROOT_DIR=/usr/local/cuda).
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
// prebuildify calls this in node-gyp's place (PREBUILD_NODE_GYP, scripts/prebuild.sh) with node-gyp's arguments.
const calledAsNodeGyp = process.argv[2] === 'rebuild';
const productDir = path.resolve(root, calledAsNodeGyp ? 'build/Release' : process.argv[2] || 'build/Release');
const cmakeOut = path.resolve(root, process.env.CLASSWISE_CMAKE_OUT || 'build-cmake');
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const parallel = String(Math.max(1, require('os').availableParallelism?.() ?? require('os').cpus().length));

// Configured every time (a few seconds), so that options reach CMake's cache: `cmake-js compile` alone would keep
// the first configuration's. The rpath option is always passed, so a build after a prebuild relinks with the local
// rpath again.
const portableRpath = `--CDCLASSWISE_PORTABLE_RPATH=${process.env.CLASSWISE_PORTABLE_RPATH === '1' ? 'ON' : 'OFF'}`;
const defines = [portableRpath, ...(calledAsNodeGyp ? [] : process.argv.slice(3))];
for (const command of ['configure', 'build']) {
  execFileSync(process.execPath, [cmakeJs, command, '--out', cmakeOut, '--parallel', parallel, ...defines], { cwd: root, stdio: 'inherit' });
}
fs.mkdirSync(productDir, { recursive: true });
const built = path.join(cmakeOut, 'Release', 'classwise_at.node');
// Copied beside, then renamed over: a process that has the old addon loaded keeps its mapping intact.
const target = path.join(productDir, 'classwise_at.node');
fs.copyFileSync(built, `${target}.tmp-${process.pid}`);
fs.renameSync(`${target}.tmp-${process.pid}`, target);
console.log(`classwise-at: addon copied to ${path.relative(root, path.join(productDir, 'classwise_at.node'))}`);
