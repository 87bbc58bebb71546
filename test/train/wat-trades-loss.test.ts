/**
 * WAT's Hedge input: the validation split's per-class mean TRADES loss (CE + beta KL(p(x) || p(x')), x' from
 * TRADES' inner maximisation), computed natively by evaluate's tradesAttack. Checked against PyTorch
 * (scripts/reference/trades_loss.py, the addon's own torch version, same start noise) and, in training, the
 * cumulative Hedge sums against evaluate of the trained model.
 */
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { evaluate, Model, train } from '../../src';
import { holdOutPerClass } from '../../src/data/subset';
import type { ImageDataset } from '../../src';
import { watClassLoss, watLossEntry, watWeights } from '../../src/train/fairness';
import { torchPython } from '../helpers/torch-python';

const TRADES_LOSS = path.join(__dirname, '..', '..', 'scripts', 'reference', 'trades_loss.py');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'classwise-wat-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const CLASSES = 3;
const EXACT = { precision: 'fp32', memoryFormat: 'contiguous' } as const;
/** The clean loss is the same arithmetic on both sides. */
const LOSS_TOLERANCE = 1e-5;
/** A pixel whose KL gradient is (nearly) zero may take another sign on one side and move the adversarial point. */
const KL_TOLERANCE = 1e-3;

/** Each image one random grey level per class band plus noise, so a small CNN separates the classes in a few steps. */
function fixture(perClass: number): ImageDataset {
  const count = CLASSES * perClass;
  const images = new Uint8Array(count * 256);
  let state = 99;
  const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) >>> 24;
  const labels = Int32Array.from({ length: count }, (_, i) => i % CLASSES);
  for (let i = 0; i < count; i++) {
    for (let p = 0; p < 256; p++) images[i * 256 + p] = Math.min(255, 40 + 80 * labels[i] + (next() >> 1));
  }
  return { name: 'bands', split: 'train', images, labels, shape: [1, 16, 16], classNames: ['a', 'b', 'c'], count, source: 'test fixture' };
}

function fixtureModel(): Model {
  return Model.create({ architecture: 'smallcnn', inputShape: [1, 16, 16], classNames: ['a', 'b', 'c'], mean: [0.5], std: [0.25], device: 'cpu', seed: 2 });
}

function relative(actual: number[], expected: number[]): number {
  return Math.max(...actual.map((value, k) => Math.abs(value - expected[k]) / Math.max(1e-6, Math.abs(expected[k]))));
}

test('the per-class TRADES KL and clean loss of evaluate equal PyTorch\'s on the same start noise', async () => {
  const data = fixture(20);
  const model = fixtureModel();
  await train(model, data, { method: 'standard', epochs: 2, schedule: { kind: 'constant', lr: 0.05 }, batchSize: 20, seed: 1 });
  const tradesAttack = { kind: 'pgd' as const, eps: 0.1, steps: 5, stepSize: 0.03 };
  const options = { attack: { kind: 'pgd' as const, eps: 0.1, steps: 3 }, seed: 11, batchSize: 16, ...EXACT };
  const withKl = await evaluate(model, data, { ...options, tradesAttack });
  const without = await evaluate(model, data, options);
  // The TRADES pass draws its own noise: the evaluation attack's results do not change.
  expect(without.meanTradesKl).toBeUndefined();
  expect(Array.from(withKl.adversarialPredictions)).toEqual(Array.from(without.adversarialPredictions));
  expect(withKl.meanLoss).toEqual(without.meanLoss);

  const checkpoint = path.join(tmp, 'model.safetensors');
  await model.save(checkpoint);
  const imagesFile = path.join(tmp, 'images.f32');
  const labelsFile = path.join(tmp, 'labels.i32');
  const pixels = Float32Array.from(data.images, (value) => value / 255);
  fs.writeFileSync(imagesFile, new Uint8Array(pixels.buffer));
  fs.writeFileSync(labelsFile, new Uint8Array(data.labels.buffer, data.labels.byteOffset, data.labels.byteLength));
  const run = spawnSync(torchPython(), [TRADES_LOSS, checkpoint, imagesFile, labelsFile, '--eps', '0.1', '--steps', '5', '--step-size', '0.03',
    '--seed', '11', '--batch-size', '16'], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '2' } });
  if (run.status !== 0) throw new Error(`trades_loss.py failed (exit ${run.status}):\n${run.stderr}`);
  const reference = JSON.parse(run.stdout) as { counts: number[]; meanLoss: number[]; meanTradesKl: number[] };
  expect(reference.counts).toEqual(withKl.counts);
  // A KL of 0 would make the comparison empty: the attack moves every class's prediction.
  expect(Math.min(...withKl.meanTradesKl!)).toBeGreaterThan(1e-3);
  expect(relative(withKl.meanLoss, reference.meanLoss)).toBeLessThan(LOSS_TOLERANCE);
  expect(relative(withKl.meanTradesKl!, reference.meanTradesKl)).toBeLessThan(KL_TOLERANCE);
});

test('evaluate refuses a tradesAttack that is not pgd', async () => {
  await expect(evaluate(fixtureModel(), fixture(2), { tradesAttack: { kind: 'fgsm', eps: 0.1 } }))
    .rejects.toThrow('evaluate options.tradesAttack is {"kind":"fgsm","eps":0.1}; pass a pgd attack such as { kind: "pgd", eps: 0.1, steps: 10 } (TRADES\' inner maximisation uses its eps, steps and stepSize)');
});

test('WAT: epoch 1 weighs every class 2, then Hedge sums the validation TRADES loss that evaluate of the trained model gives', async () => {
  const { kept, heldOut } = holdOutPerClass(fixture(12), 4, 3);
  const attack = { kind: 'pgd' as const, eps: 0.1, steps: 3, stepSize: 0.04 };
  const model = fixtureModel();
  const seed = 5;
  const beta = 4;
  const snapshots: Model[] = [];
  const records = await train(model, kept, {
    method: 'trades', epochs: 2, schedule: { kind: 'constant', lr: 0.05 }, attack, batchSize: 12, seed, beta,
    fairness: { kind: 'wat', eta: 0.5 }, validation: { data: heldOut, attack },
    onEpochEnd: async () => {
      const copy = fixtureModel();
      await copy.loadState(await model.state());
      snapshots.push(copy);
    },
  });
  expect(records[0].classWeights).toEqual([2, 2, 2]);
  let cumulative = [0, 0, 0, 0];
  for (const [epoch, record] of records.entries()) {
    // The trainer's validation pass: the training attack's TRADES maximisation beside the validation attack.
    const measured = await evaluate(snapshots[epoch], heldOut, { attack, tradesAttack: attack, seed: seed + 1 });
    expect(record.validation!.meanTradesKl).toEqual(measured.meanTradesKl);
    const entry = watLossEntry(watClassLoss(measured.meanLoss, measured.meanTradesKl!, beta), measured.counts);
    cumulative = cumulative.map((sum, k) => sum + entry[k]);
    expect(record.fairnessState!.wat).toEqual({ cumulativeLoss: cumulative, rounds: epoch + 1 });
  }
  expect(records[1].classWeights).toEqual(watWeights(records[0].fairnessState!.wat!.cumulativeLoss, 0.5));
});
