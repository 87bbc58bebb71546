/** A run folder as train leaves it: best checkpoint, leftover temp files, data handed to the addon once, divergence. */
import fs from 'fs';
import os from 'os';
import path from 'path';

import { evaluate, loadCheckpoint, Model, readMetrics } from '../../src';
import { nativeAddon, NativeAddon } from '../../src/native';
import { BEST_CHECKPOINT_FILE, checkpointPath, RunConfig, runTraining } from '../../src/run';

const config: RunConfig = {
  dataset: 'mnist', method: 'pgd', epochs: 3, batchSize: 64, learningRate: 0.05, schedule: 'cyclic', momentum: 0.9, weightDecay: 5e-4,
  nesterov: false, seed: 2, eps: 0.1, trainSteps: 2, trainStepSize: 0.05, evalSteps: 3, evalStepSize: 0.05, evalRestarts: 1, trainPerClass: 40, evalPerClass: 10,
};

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'classwise-run-'));
}

/** Records the bytes of every typed array handed to NativeModel calls and NativeDataset while `body` runs. */
async function recordNativeCalls(body: () => Promise<unknown>): Promise<{ method: string; bytes: number }[]> {
  const addon = nativeAddon() as NativeAddon & Record<string, unknown>;
  const calls: { method: string; bytes: number }[] = [];
  const bytes = (value: unknown): number =>
    ArrayBuffer.isView(value) ? value.byteLength : value && typeof value === 'object' ? Object.values(value).reduce((sum: number, v) => sum + bytes(v), 0) : 0;
  const { NativeModel, NativeDataset } = addon;
  addon.NativeModel = function (spec: never) {
    const model = new NativeModel(spec);
    return new Proxy(model, {
      get: (target, key: string) => {
        const value = (target as unknown as Record<string, unknown>)[key];
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (['train', 'evaluate', 'attack'].includes(key)) calls.push({ method: key, bytes: bytes(args[0]) });
          return value.apply(target, args);
        };
      },
    });
  } as unknown as NativeAddon['NativeModel'];
  addon.NativeDataset = function (data: never) {
    calls.push({ method: 'NativeDataset', bytes: bytes(data) });
    return new NativeDataset(data);
  } as unknown as NativeAddon['NativeDataset'];
  try {
    await body();
  } finally {
    addon.NativeModel = NativeModel;
    addon.NativeDataset = NativeDataset;
  }
  return calls;
}

describe('a three-epoch MNIST run', () => {
  const out = tempDir();
  let calls: { method: string; bytes: number }[];
  const leftover = path.join(out, 'checkpoint.safetensors.tmp-2147483646-0123456789ab');

  beforeAll(async () => {
    // A write killed in an earlier process left its temp file behind.
    fs.writeFileSync(leftover, 'half a checkpoint');
    calls = await recordNativeCalls(() => runTraining(config, { out, device: 'cpu' }));
  });

  test('images go into the addon once per run: no epoch copies the training or test images again', () => {
    const datasets = calls.filter((call) => call.method === 'NativeDataset');
    // The training set (400 images) and the evaluation subset (100 images), each with their labels.
    expect(datasets.map((call) => call.bytes)).toEqual([400 * 784 + 400 * 4, 100 * 784 + 100 * 4]);
    const epochCalls = calls.filter((call) => call.method !== 'NativeDataset');
    expect(epochCalls.map((call) => call.method)).toEqual(['train', 'evaluate', 'train', 'evaluate', 'train', 'evaluate']);
    // What is left per epoch: the shuffled order (int32 per example) and one learning rate per step.
    const trainSteps = Math.ceil(400 / 64);
    expect(epochCalls.filter((call) => call.method === 'train').map((call) => call.bytes)).toEqual(Array(3).fill(400 * 4 + trainSteps * 8));
    expect(epochCalls.filter((call) => call.method === 'evaluate').map((call) => call.bytes)).toEqual([0, 0, 0]);
  });

  test('best.safetensors holds the epoch of highest mean robust accuracy over classes, marked in metrics.jsonl', async () => {
    const metrics = readMetrics(out);
    // The mean the per-class table prints, not the example-weighted overall share.
    const robust = metrics.map((line) => line.meanRobust!);
    metrics.forEach((line) => expect(line.meanRobust).toBeCloseTo(line.robustAccuracy.reduce((a, b) => a + b, 0) / line.robustAccuracy.length, 12));
    let best = 0;
    robust.forEach((value, k) => (value > robust[best] ? (best = k) : undefined));
    expect(metrics.map((line) => line.isBestEpoch)).toEqual(robust.map((value, k) => robust.slice(0, k).every((earlier) => value > earlier)));
    expect(metrics[2].bestEpoch).toBe(best + 1);
    const bestFile = checkpointPath(out, 'best');
    expect(bestFile).toBe(path.join(out, BEST_CHECKPOINT_FILE));
    expect(loadCheckpoint(bestFile).meta.epoch).toBe(best + 1);
    // Its weights give the robust accuracy the metrics line recorded for that epoch.
    const { model } = await Model.load(bestFile, { device: 'cpu' });
    const { loadRunTestSet } = await import('../../src/run');
    const test = await loadRunTestSet(config, config.evalPerClass, config.seed + 1);
    const evaluation = await evaluate(model, test, { attack: { kind: 'pgd', eps: 0.1, steps: 3, stepSize: 0.05, restarts: 1 }, seed: config.seed });
    expect(evaluation.overall.robust).toBe(metrics[best].overallRobust);
  });

  test('the temp file of a killed write is removed at the next start', () => {
    expect(fs.existsSync(leftover)).toBe(false);
    expect(fs.readdirSync(out).filter((name) => name.includes('.tmp-'))).toEqual([]);
  });
});

test('a run whose loss turns non-finite stops naming epoch, step and learning rate, and writes no checkpoint for it', async () => {
  const out = tempDir();
  const run = runTraining({ ...config, epochs: 1, learningRate: 1e30, schedule: 'constant', method: 'standard' }, { out, device: 'cpu' });
  await expect(run).rejects.toMatchObject({ code: 'ERR_NON_FINITE' });
  await expect(run).rejects.toThrow(/^epoch 1, step \d+ of 7: the training loss is NaN or infinite at learning rate 1e\+30; training diverged \(lower the learning rate\); the run stopped: no checkpoint was written$/);
  expect(fs.existsSync(path.join(out, 'checkpoint.safetensors'))).toBe(false);
});
