/** What the addon reports about itself and how it was built, and the CPU buffer cache it installs. */
import { spawnSync } from 'child_process';
import os from 'os';
import path from 'path';

import { runtimeInfo, setThreads } from '../src';

/** runtimeInfo() of a fresh process: other test files share this process's addon and may have set threads. */
function freshRuntimeInfo(env: NodeJS.ProcessEnv = {}): ReturnType<typeof runtimeInfo> {
  const root = JSON.stringify(path.join(__dirname, '..'));
  const script = `const addon = process.env.CLASSWISE_ADDON || require('node-gyp-build').resolve(${root});
    console.log(JSON.stringify(require(addon).runtimeInfo()))`;
  const run = spawnSync(process.execPath, ['-e', script], { cwd: path.join(__dirname, '..'), encoding: 'utf8', env: { ...process.env, ...env } });
  if (run.status !== 0) throw new Error(run.stderr);
  return JSON.parse(run.stdout);
}

test('a fresh process uses every core by default', () => {
  expect(freshRuntimeInfo().threads).toBe(os.cpus().length);
});

test('reports its LibTorch version, how it was built, and what LibTorch detects on this CPU', () => {
  const info = runtimeInfo();
  expect(info.torchVersion).toMatch(/^\d+\.\d+\.\d+/);
  expect(typeof info.cudaAvailable).toBe('boolean');
  // A CPU-only build never sees a GPU; a CUDA build may run where there is none.
  if (!info.builtWithCuda) expect(info.cudaAvailable).toBe(false);
  const [major, minor] = info.torchVersion.split('.').map(Number);
  expect(info.cxxStandard).toBe(major > 2 || (major === 2 && minor >= 14) ? 2020 : 2017);
  expect(info.cpuCapability).toMatch(/^(DEFAULT|AVX2|AVX512|VSX|ZVECTOR|SVE\d*|NEON)$/);
  if (os.arch() === 'x64') {
    expect(Object.keys(info.cpuFeatures).sort()).toEqual(['amxBf16', 'avx2', 'avx512', 'avx512Bf16', 'detectedBy']);
    // LibTorch dispatches AVX512 kernels only where the CPU has AVX512.
    if (info.cpuCapability === 'AVX512') expect(info.cpuFeatures.avx512).toBe(true);
    if (info.cpuCapability === 'AVX2') expect(info.cpuFeatures.avx2).toBe(true);
  }
  expect(info.torchLibDir).not.toBe('');
});

test('setThreads changes the thread count of later native calls and rejects nonsense', () => {
  const before = runtimeInfo().threads;
  expect(setThreads(1)).toBe(1);
  expect(runtimeInfo().threads).toBe(1);
  expect(setThreads(before)).toBe(before);
  expect(() => setThreads(0)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: 'thread options.threads must be in [1, 1024], got 0' }));
});

test('the CPU caching allocator is installed unless CLASSWISE_CPU_CACHE=0', () => {
  expect(freshRuntimeInfo({ CLASSWISE_CPU_CACHE: '1' }).cpuCachingAllocator).toBe(true);
  expect(freshRuntimeInfo({ CLASSWISE_CPU_CACHE: '0' }).cpuCachingAllocator).toBe(false);
});
