#!/usr/bin/env node
// `npm install classwise-at`: gives the addon a LibTorch and builds it from source only when no prebuild fits.
// LibTorch, in this order: LIBTORCH (a LibTorch folder), the torch of CLASSWISE_PYTHON, the package's own .venv,
// python3's torch when it is the version of the prebuild; otherwise the package's .venv gets torch==2.13.0 from
// pip. The package's `libtorch` link points at that LibTorch's lib/ folder: the addon's rpath looks there.
'use strict';
const { execFileSync, spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const DEFAULT_TORCH = '2.13.0';
const say = (message) => console.log(`classwise-at: ${message}`);

function fail(message) {
  console.error(`classwise-at: ${message}`);
  process.exit(1);
}

/** { libDir, version, python } of a Python's torch, or null when it has none. */
function pythonTorch(python) {
  const probe = spawnSync(python, ['-c', 'import os, torch; print(torch.__version__); print(os.path.join(os.path.dirname(torch.__file__), "lib"))'], { encoding: 'utf8' });
  if (probe.status !== 0) return null;
  const [version, libDir] = probe.stdout.trim().split('\n');
  return { libDir, version: version.split('+')[0], python };
}

const majorMinor = (version) => version.split('.').slice(0, 2).join('.');

function prebuildTorchVersion() {
  const file = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'libtorch-version.txt');
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() : null;
}

function findTorch() {
  if (process.env.LIBTORCH) {
    const libDir = path.join(process.env.LIBTORCH, 'lib');
    if (!fs.existsSync(libDir)) fail(`LIBTORCH=${process.env.LIBTORCH} has no lib/ folder; point it at an unpacked LibTorch`);
    const versionFile = path.join(process.env.LIBTORCH, 'build-version');
    return { libDir, version: fs.existsSync(versionFile) ? fs.readFileSync(versionFile, 'utf8').trim().split('+')[0] : 'unknown', python: '' };
  }
  if (process.env.CLASSWISE_PYTHON) {
    return pythonTorch(process.env.CLASSWISE_PYTHON) ?? fail(`CLASSWISE_PYTHON=${process.env.CLASSWISE_PYTHON} cannot import torch; install torch there or unset it`);
  }
  const venvPython = path.join(root, '.venv', 'bin', 'python');
  const own = fs.existsSync(venvPython) && pythonTorch(venvPython);
  if (own) return own;
  const wanted = prebuildTorchVersion() ?? DEFAULT_TORCH;
  const system = pythonTorch('python3');
  if (system && majorMinor(system.version) === majorMinor(wanted)) return system;
  say(`creating ${path.join(root, '.venv')} with torch==${wanted} (pip; set PIP_INDEX_URL to choose a CPU-only or CUDA build, or CLASSWISE_PYTHON to use your own torch)`);
  try {
    execFileSync('python3', ['-m', 'venv', path.join(root, '.venv')], { stdio: 'inherit' });
    execFileSync(venvPython, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', `torch==${wanted}`], { stdio: 'inherit' });
  } catch (error) {
    fail(`could not install torch==${wanted} with pip (${error.message}). Install PyTorch yourself and set CLASSWISE_PYTHON to that Python, or LIBTORCH to a LibTorch folder`);
  }
  return pythonTorch(venvPython) ?? fail(`torch==${wanted} was installed into .venv but does not import`);
}

/** Loads the addon in a child process (a failed dlopen must not take this one down); its torch version or null. */
function loadedTorchVersion() {
  const script = `console.log(require(require('node-gyp-build').resolve(${JSON.stringify(root)})).runtimeInfo().torchVersion)`;
  const run = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8' });
  return run.status === 0 ? run.stdout.trim() : null;
}

if (fs.existsSync(path.join(root, '.git'))) {
  say('a git checkout: `npm run setup` (or `npm test`, `npm start`) builds the addon here');
  process.exit(0);
}

const torch = findTorch();
const link = path.join(root, 'libtorch');
fs.rmSync(link, { force: true });
fs.symlinkSync(torch.libDir, link);
say(`LibTorch ${torch.version} from ${torch.libDir}`);

const prebuilt = prebuildTorchVersion();
if (prebuilt && majorMinor(prebuilt) === majorMinor(torch.version) && loadedTorchVersion()) {
  say(`using the prebuilt addon (LibTorch ${prebuilt})`);
  process.exit(0);
}

say(prebuilt ? `the prebuilt addon is for LibTorch ${prebuilt}: building from source (CMake and a C++ compiler; a few minutes)` : 'building the addon from source (CMake and a C++ compiler; a few minutes)');
const env = { ...process.env };
if (torch.python) env.CLASSWISE_PYTHON = torch.python;
const build = spawnSync(process.execPath, [path.join(__dirname, 'build-native.js'), 'build/Release'], { cwd: root, env, stdio: 'inherit' });
if (build.status !== 0) fail('the build failed (see above); it needs cmake >= 3.18 and g++ (apt-get install cmake g++)');
const version = loadedTorchVersion();
if (!version) fail('the addon was built but does not load; run node -e "require(\'classwise-at\')" to see why');
say(`built the addon against LibTorch ${version}`);
