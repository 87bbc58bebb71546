/**
 * Robust-fairness training end to end: every method trains 2 epochs on a 100-class random fixture; a CFA run
 * killed with SIGKILL and resumed ends bit for bit where an uninterrupted one ends (FAWA average included);
 * selection on validation; --init-from of another class count is refused.
 */
import { spawn } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';
import readline from 'readline';

import { ImageDataset, loadCheckpoint, Model, readMetrics, RECIPES, RunConfig, runTraining, train } from '../../src';
import { holdOutPerClass } from '../../src/data/subset';
import { FAIRNESS_KINDS, FairnessKind, FairnessState } from '../../src/train/fairness';

const root = path.resolve(__dirname, '..', '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'classwise-fairness-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const CLASSES = 100;

/** 4 random 1x16x16 images per class (2 train, 2 validation), deterministic. */
function randomFixture(): ImageDataset {
  const perClass = 4;
  const count = CLASSES * perClass;
  const images = new Uint8Array(count * 256);
  let state = 12345;
  for (let i = 0; i < images.length; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    images[i] = state >>> 24;
  }
  const labels = Int32Array.from({ length: count }, (_, i) => i % CLASSES);
  return { name: 'random', split: 'train', images, labels, shape: [1, 16, 16], classNames: Array.from({ length: CLASSES }, (_, k) => `c${k}`), count, source: 'test fixture' };
}

function fixtureModel(): Model {
  return Model.create({ architecture: 'smallcnn', inputShape: [1, 16, 16], classNames: randomFixture().classNames, mean: [0.5], std: [0.25], device: 'cpu', seed: 4 });
}

describe('every method trains 2 epochs on 100 classes', () => {
  const { kept, heldOut } = holdOutPerClass(randomFixture(), 2, 7);
  const attack = { kind: 'pgd' as const, eps: 0.05, steps: 2, stepSize: 0.03 };

  test.each(FAIRNESS_KINDS.map((kind) => [kind]))('%s', async (kind: FairnessKind) => {
    const method = kind === 'dafa' || kind === 'faal' ? 'pgd' : 'trades';
    const options = kind === 'cfa' ? { kind, begin: 1, delta: 0 } : kind === 'dafa' ? { kind, warmup: 0.5 } : { kind };
    const records = await train(fixtureModel(), kept, {
      method, epochs: 2, schedule: { kind: 'constant', lr: 0.02 }, attack, batchSize: 100, seed: 1, beta: 6,
      fairness: options, validation: { data: heldOut, attack },
    });
    expect(records).toHaveLength(2);
    for (const record of records) {
      expect(Number.isFinite(record.trainLoss)).toBe(true);
      expect(record.validation!.counts).toEqual(new Array(CLASSES).fill(2));
      expect(record.fairnessState!.kind).toBe(kind);
    }
    const state = records[1].fairnessState as FairnessState;
    const second = records[1].fairnessSettings!;
    if (kind.startsWith('frl')) {
      expect(state.frl!.natural).toHaveLength(CLASSES);
      // Multipliers kept within N's bound.
      expect(state.frl!.natural.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(0.5 + 1e-12);
      if (kind !== 'frl-rm') expect(second.naturalWeights!.reduce((a, b) => a + b, 0)).toBeCloseTo(CLASSES, 9);
      if (kind !== 'frl-rw') expect(second.classEps).toHaveLength(CLASSES);
    } else if (kind === 'cfa') {
      expect(records[0].fairnessSettings!.classEps).toBeUndefined();
      expect(second.classEps).toHaveLength(CLASSES);
      expect(second.naturalWeights).toHaveLength(CLASSES);
      // FAWA's gate at delta 0 lets both epochs in.
      expect(records.map((r) => r.fawaUpdated)).toEqual([true, true]);
      expect(state.cfa!.fawaUpdates).toBe(2);
      expect(Object.keys(records[1].fawa!).some((name) => name.startsWith('optimizer.'))).toBe(false);
    } else if (kind === 'wat') {
      expect(state.wat!.cumulativeLoss).toHaveLength(CLASSES + 1);
      expect(records[1].classWeights).toHaveLength(CLASSES);
    } else if (kind === 'dafa') {
      // Warm-up of 1 epoch: W from epoch 1's adversarial softmax, applied in epoch 2.
      expect(state.dafa!.weights).toHaveLength(CLASSES);
      expect(Math.min(...state.dafa!.weights!)).toBeGreaterThan(0);
      expect(second.classEps!.map((e, k) => e / 0.05 - state.dafa!.weights![k]).every((d) => Math.abs(d) < 1e-12)).toBe(true);
    } else {
      expect(second.faalRadius).toBe(0.5);
    }
  });

  test('FRL, CFA and WAT without a validation split are refused', async () => {
    await expect(train(fixtureModel(), kept, { method: 'trades', epochs: 1, schedule: { kind: 'constant', lr: 0.02 }, attack, fairness: { kind: 'wat' } }))
      .rejects.toThrow('fairness wat needs options.validation: a split held out from the training data, e.g. holdOutPerClass(train, 100, seed).heldOut');
  });
});

const runBase: RunConfig = {
  dataset: 'mnist', method: 'trades', epochs: 2, batchSize: 50, learningRate: 0.02, schedule: 'constant', momentum: 0.9, weightDecay: 5e-4,
  nesterov: false, seed: 5, eps: 0.1, trainSteps: 2, trainStepSize: 0.05, evalSteps: 2, evalStepSize: 0.05, evalRestarts: 1, trainPerClass: 20, evalPerClass: 5, beta: 6,
};

test('selection on validation: best.safetensors is the epoch with the best validation score, recorded in metrics.jsonl', async () => {
  const out = path.join(tmp, 'select');
  await runTraining({ ...runBase, trainPerClass: 10, selectOn: 'validation', selectRule: 'robust+worst', validationPerClass: 4 }, { out, device: 'cpu' });
  const lines = readMetrics(out) as (ReturnType<typeof readMetrics>[number] & { validation: { robustAccuracy: number[]; overallRobust: number; counts: number[] } })[];
  for (const line of lines) {
    expect(line.selectOn).toBe('validation');
    expect(line.selectRule).toBe('robust+worst');
    expect(line.validation.counts).toEqual(new Array(10).fill(4));
    expect(line.selectScore).toBeCloseTo(line.validation.overallRobust + Math.min(...line.validation.robustAccuracy), 12);
  }
  let best = lines[0];
  for (const line of lines) if (line.selectScore! > best.selectScore!) best = line;
  expect(lines[lines.length - 1].bestEpoch).toBe(best.epoch);
  expect(loadCheckpoint(path.join(out, 'best.safetensors')).meta.epoch).toBe(best.epoch);
});

test('--init-from a checkpoint of another class count is refused before training', async () => {
  const source = path.join(tmp, 'source.safetensors');
  await fixtureModel().save(source);
  await expect(runTraining({ ...runBase, initFrom: source }, { out: path.join(tmp, 'init'), device: 'cpu' }))
    .rejects.toThrow(`--init-from ${source} holds a smallcnn model of input [1,16,16], this run trains smallcnn of input [1,28,28]; pass a checkpoint of the same --arch and dataset`);
  const recipe = RECIPES.mnist;
  const other = Model.create({ architecture: 'smallcnn', inputShape: [1, 28, 28], classNames: ['a', 'b'], mean: recipe.mean, std: recipe.std, device: 'cpu' });
  await other.save(source);
  await expect(runTraining({ ...runBase, initFrom: source }, { out: path.join(tmp, 'init'), device: 'cpu' }))
    .rejects.toThrow(`--init-from ${source} was trained on 2 classes (a, b, ...), this run has 10 (0, 1, 2, ...); pass a checkpoint of the same classes`);
});

function cfaArgs(out: string, extra: string[] = []): string[] {
  return ['dist/cli/main.js', 'train', '--dataset', 'mnist', '--method', 'trades', '--fairness', 'cfa', '--fairness-options', 'delta=0', '--fairness-begin', '1',
    '--validation-per-class', '3', '--train-per-class', '10', '--eval-per-class', '5', '--epochs', '3', '--batch-size', '50', '--train-steps', '2',
    '--eval-steps', '2', '--threads', '1', '--out', out, ...extra];
}

function run(args: string[], untilLine?: RegExp): { exit: Promise<number | null>; output: () => string; line: Promise<void>; pid: number } {
  const child = spawn(process.execPath, args, { cwd: root });
  let output = '';
  let seen: () => void = () => undefined;
  const line = new Promise<void>((resolve) => (seen = resolve));
  readline.createInterface({ input: child.stdout }).on('line', (text) => {
    output += text + '\n';
    if (untilLine && untilLine.test(text)) seen();
  });
  child.stderr.on('data', (chunk) => (output += chunk));
  return { exit: new Promise((resolve) => child.once('exit', (code) => resolve(code))), output: () => output, line, pid: child.pid! };
}

test('a CFA run killed with SIGKILL and resumed ends bit for bit where an uninterrupted one ends, FAWA average included', async () => {
  const killed = path.join(tmp, 'killed');
  const first = run(cfaArgs(killed), /^epoch 1: train loss/);
  await Promise.race([first.line, first.exit]);
  process.kill(first.pid, 'SIGKILL');
  await first.exit;
  expect(loadCheckpoint(path.join(killed, 'checkpoint.safetensors')).meta.epoch).toBe(1);
  const resumed = run(cfaArgs(killed, ['--resume']));
  expect(await resumed.exit).toBe(0);
  expect(resumed.output()).toContain('resuming');
  const straight = path.join(tmp, 'straight');
  const uninterrupted = run(cfaArgs(straight));
  expect(await uninterrupted.exit).toBe(0);
  expect(uninterrupted.output()).toContain('fairness: cfa on trades: l1 0.3, l2 0.5, alpha 0.85, delta 0, begin 1, validationSteps 10; ours:');
  expect(uninterrupted.output()).toContain('checkpoint selection: best.safetensors by robust on the validation split (carved from the training data)');
  expect(uninterrupted.output()).toContain('best epoch so far by robust on the validation split: ');
  for (const file of ['checkpoint.safetensors', 'fawa.safetensors']) {
    const a = loadCheckpoint(path.join(killed, file));
    const b = loadCheckpoint(path.join(straight, file));
    expect(Object.keys(a.tensors).sort()).toEqual(Object.keys(b.tensors).sort());
    for (const name of Object.keys(b.tensors)) expect(Buffer.from(a.tensors[name].data).equals(Buffer.from(b.tensors[name].data))).toBe(true);
    expect(a.meta.config.fairnessState).toEqual(b.meta.config.fairnessState);
  }
  expect(Object.keys(loadCheckpoint(path.join(straight, 'checkpoint.safetensors')).tensors).some((name) => name.startsWith('fairness.fawa.'))).toBe(true);
  // The FAWA average opens as a model.
  const { model } = await Model.load(path.join(straight, 'fawa.safetensors'), { device: 'cpu' });
  expect(model.numClasses).toBe(10);
  const metrics = readMetrics(straight) as unknown as { fawaUpdated: boolean; fairness: { kind: string } }[];
  expect(metrics.map((m) => m.fawaUpdated)).toEqual([true, true, true]);
  expect(metrics[0].fairness.kind).toBe('cfa');
});
