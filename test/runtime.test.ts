/** What the addon reports about itself, and the CPU buffer cache it installs. */
import os from 'os';

import { runtimeInfo, setThreads } from '../src';

test('reports its LibTorch version, CUDA availability and a thread count using every core by default', () => {
  const info = runtimeInfo();
  expect(info.torchVersion).toMatch(/^\d+\.\d+\.\d+/);
  expect(typeof info.cudaAvailable).toBe('boolean');
  expect(info.threads).toBe(os.cpus().length);
});

test('setThreads changes the thread count of later native calls and rejects nonsense', () => {
  expect(setThreads(1)).toBe(1);
  expect(runtimeInfo().threads).toBe(1);
  expect(setThreads(os.cpus().length)).toBe(os.cpus().length);
  expect(() => setThreads(0)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: 'thread options.threads must be in [1, 1024], got 0' }));
});

test('the CPU caching allocator is installed on LibTorch 1.x unless CLASSWISE_CPU_CACHE=0', () => {
  const info = runtimeInfo();
  const major = Number(info.torchVersion.split('.')[0]);
  expect(info.cpuCachingAllocator).toBe(major < 2 && process.env.CLASSWISE_CPU_CACHE !== '0');
});
