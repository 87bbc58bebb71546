/**
 * Robust-fairness training end to end: every method trains 2 epochs on a 100-class random fixture; a CFA, FRL,
 * WAT and DAFA run killed with SIGKILL after epoch 1 and resumed ends bit for bit where an uninterrupted one ends
 * (FAWA average and the method's state included); selection on validation; `train --init-from` starts from the
 * baseline run's weights and refuses a checkpoint of another architecture or class count.
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

/** A 3-epoch CLI run of `kind` on 10 training images per class, small enough for seconds. */
function fairnessArgs(kind: string, out: string, extra: string[] = []): string[] {
  const options: Record<string, string[]> = {
    cfa: ['--fairness-options', 'delta=0', '--fairness-begin', '1'],
    'frl-rwrm': ['--fairness-options', 'validationSteps=2'],
    wat: ['--fairness-options', 'eta=0.5'],
    // The warm-up ends after epoch 1: W is computed from epoch 1 and carried across the kill.
    dafa: ['--fairness-options', 'warmup=0.5'],
  };
  return ['dist/cli/main.js', 'train', '--dataset', 'mnist', '--method', 'trades', '--fairness', kind, ...options[kind],
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

/** Kills a run with SIGKILL once epoch 1 is reported, resumes it, and runs it uninterrupted beside it. */
async function killResumeAndStraight(kind: string): Promise<{ killed: string; straight: string; output: string }> {
  const killed = path.join(tmp, `killed-${kind}`);
  const first = run(fairnessArgs(kind, killed), /^epoch 1: train loss/);
  await Promise.race([first.line, first.exit]);
  process.kill(first.pid, 'SIGKILL');
  await first.exit;
  expect(loadCheckpoint(path.join(killed, 'checkpoint.safetensors')).meta.epoch).toBe(1);
  const resumed = run(fairnessArgs(kind, killed, ['--resume']));
  expect(await resumed.exit).toBe(0);
  expect(resumed.output()).toContain('resuming');
  const straight = path.join(tmp, `straight-${kind}`);
  const uninterrupted = run(fairnessArgs(kind, straight));
  expect(await uninterrupted.exit).toBe(0);
  return { killed, straight, output: uninterrupted.output() };
}

/** Every tensor of the two checkpoints bit for bit, and the method's state. */
function expectSameCheckpoint(a: string, b: string): void {
  const left = loadCheckpoint(a);
  const right = loadCheckpoint(b);
  expect(Object.keys(left.tensors).sort()).toEqual(Object.keys(right.tensors).sort());
  for (const name of Object.keys(right.tensors)) expect(Buffer.from(left.tensors[name].data).equals(Buffer.from(right.tensors[name].data))).toBe(true);
  expect(left.meta.config.fairnessState).toEqual(right.meta.config.fairnessState);
}

test('a CFA run killed with SIGKILL and resumed ends bit for bit where an uninterrupted one ends, FAWA average included', async () => {
  const { killed, straight, output } = await killResumeAndStraight('cfa');
  expect(output).toContain('fairness: cfa on trades: l1 0.3, l2 0.5, alpha 0.85, delta 0, begin 1, validationSteps 10; ours:');
  expect(output).toContain('checkpoint selection: best.safetensors by robust on the validation split (carved from the training data)');
  expect(output).toContain('best epoch so far by robust on the validation split: ');
  for (const file of ['checkpoint.safetensors', 'fawa.safetensors']) expectSameCheckpoint(path.join(killed, file), path.join(straight, file));
  expect(Object.keys(loadCheckpoint(path.join(straight, 'checkpoint.safetensors')).tensors).some((name) => name.startsWith('fairness.fawa.'))).toBe(true);
  // The FAWA average opens as a model.
  const { model } = await Model.load(path.join(straight, 'fawa.safetensors'), { device: 'cpu' });
  expect(model.numClasses).toBe(10);
  const metrics = readMetrics(straight) as unknown as { fawaUpdated: boolean; fairness: { kind: string } }[];
  expect(metrics.map((m) => m.fawaUpdated)).toEqual([true, true, true]);
  expect(metrics[0].fairness.kind).toBe('cfa');
});

describe('the method state survives SIGKILL: resumed equals uninterrupted in every tensor and the state', () => {
  test.each([['frl-rwrm'], ['wat'], ['dafa']])('%s', async (kind) => {
    const { killed, straight } = await killResumeAndStraight(kind);
    expectSameCheckpoint(path.join(killed, 'checkpoint.safetensors'), path.join(straight, 'checkpoint.safetensors'));
    expectSameCheckpoint(path.join(killed, 'best.safetensors'), path.join(straight, 'best.safetensors'));
    const state = loadCheckpoint(path.join(straight, 'checkpoint.safetensors')).meta.config.fairnessState as FairnessState;
    // The state the resumed run had to carry over from epoch 1 is there and has moved.
    if (kind === 'frl-rwrm') expect(state.frl!.margin.some((l) => l !== 0)).toBe(true);
    if (kind === 'wat') expect(state.wat!.rounds).toBe(3);
    if (kind === 'dafa') expect(state.dafa!.weights).toHaveLength(10);
  });
});

/** The model's own tensors (BatchNorm's running statistics move in a training-mode forward even at lr 0). */
function weightsOf(file: string): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const [name, tensor] of Object.entries(loadCheckpoint(file).tensors)) {
    if (name.startsWith('optimizer.') || name.startsWith('fairness.') || /running_|num_batches/.test(name) || tensor.dtype !== 'F32') continue;
    out[name] = new Float32Array(tensor.data.slice().buffer);
  }
  return out;
}

function largestDifference(a: Record<string, Float32Array>, b: Record<string, Float32Array>): number {
  let largest = 0;
  for (const name of Object.keys(b)) b[name].forEach((value, i) => (largest = Math.max(largest, Math.abs(a[name][i] - value))));
  return largest;
}

describe('train --fairness frl-rwrm --init-from RUN (CLI)', () => {
  const base = path.join(tmp, 'init-base');
  const tiny = ['--dataset', 'mnist', '--train-per-class', '10', '--eval-per-class', '5', '--batch-size', '50', '--train-steps', '2', '--eval-steps', '2', '--threads', '1'];
  const frl = (out: string, from: string, extra: string[] = []) => ['dist/cli/main.js', 'train', ...tiny, '--method', 'trades', '--fairness', 'frl-rwrm',
    '--fairness-options', 'validationSteps=2', '--validation-per-class', '3', '--init-from', from, '--epochs', '1', '--out', out, ...extra];

  beforeAll(async () => {
    const baseline = run(['dist/cli/main.js', 'train', ...tiny, '--method', 'trades', '--epochs', '2', '--seed', '3', '--out', base]);
    expect(await baseline.exit).toBe(0);
  });

  test('starts from the run\'s best checkpoint (its last without one): at lr 1e-30 the weights stay those', async () => {
    // At learning rate 1e-30 an SGD step moves a weight by less than half an ulp (an exact 0 by ~1e-34), so the
    // run's saved weights are its start to 1e-20; the two candidate starts, best and last, differ far more.
    const fromRun = path.join(tmp, 'init-frl');
    const first = run(frl(fromRun, base, ['--lr', '1e-30', '--schedule', 'constant']));
    expect(await first.exit).toBe(0);
    expect(first.output()).toContain(`initial weights: ${base}`);
    const best = weightsOf(path.join(base, 'best.safetensors'));
    const started = weightsOf(path.join(fromRun, 'checkpoint.safetensors'));
    expect(Object.keys(started).sort()).toEqual(Object.keys(best).sort());
    expect(largestDifference(started, best)).toBeLessThan(1e-20);
    // The same run folder without best.safetensors: its last checkpoint.
    const lastOnly = path.join(tmp, 'init-last-only');
    fs.mkdirSync(lastOnly);
    fs.copyFileSync(path.join(base, 'checkpoint.safetensors'), path.join(lastOnly, 'checkpoint.safetensors'));
    const fromLast = path.join(tmp, 'init-frl-last');
    const second = run(frl(fromLast, lastOnly, ['--lr', '1e-30', '--schedule', 'constant']));
    expect(await second.exit).toBe(0);
    const last = weightsOf(path.join(base, 'checkpoint.safetensors'));
    const startedLast = weightsOf(path.join(fromLast, 'checkpoint.safetensors'));
    expect(largestDifference(startedLast, last)).toBeLessThan(1e-20);
    // The two starts are told apart: best is epoch 1, last epoch 2.
    expect(loadCheckpoint(path.join(base, 'best.safetensors')).meta.epoch).toBe(1);
    expect(largestDifference(best, last)).toBeGreaterThan(1e-6);
  });

  test('a checkpoint of another architecture or class count is refused in one line before training', async () => {
    const file = path.join(base, 'best.safetensors');
    const arch = run(frl(path.join(tmp, 'init-arch'), base, ['--arch', 'preact-resnet18']));
    expect(await arch.exit).not.toBe(0);
    expect(arch.output().trim().split('\n').pop()).toBe(`error: --init-from ${file} holds a smallcnn model of input [1,28,28], this run trains preact-resnet18 of input [1,28,28]; pass a checkpoint of the same --arch and dataset`);
    const classes = run(frl(path.join(tmp, 'init-classes'), base, ['--classes', '0,1']));
    expect(await classes.exit).not.toBe(0);
    expect(classes.output().trim().split('\n').pop()).toBe(`error: --init-from ${file} was trained on 10 classes (0, 1, 2, ...), this run has 2 (0, 1, ...); pass a checkpoint of the same classes`);
    for (const refused of [arch, classes]) expect(refused.output()).not.toMatch(/^epoch 1/m);
  });
});
