#!/usr/bin/env node
// Builds the addon with cmake-js (CMakeLists.txt is the one build description) and copies the .node
// into the folder given as the first argument, where node-gyp-build and prebuildify look for it.
// binding.gyp calls this with <(PRODUCT_DIR); `npm run build:native` calls it with build/Release.
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const productDir = path.resolve(root, process.argv[2] || 'build/Release');
const cmakeOut = path.join(root, 'build-cmake');
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const parallel = String(Math.max(1, require('os').availableParallelism?.() ?? require('os').cpus().length));

execFileSync(process.execPath, [cmakeJs, 'compile', '--out', cmakeOut, '--parallel', parallel], {
  cwd: root,
  stdio: 'inherit',
});
fs.mkdirSync(productDir, { recursive: true });
const built = path.join(cmakeOut, 'Release', 'classwise_at.node');
fs.copyFileSync(built, path.join(productDir, 'classwise_at.node'));
console.log(`classwise-at: addon copied to ${path.relative(root, path.join(productDir, 'classwise_at.node'))}`);
