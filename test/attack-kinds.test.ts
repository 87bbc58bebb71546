import { attack, AttackOptions, Model } from '../src';
import { mnistModel, mnistTestDigits, standardTrainedMnistModel } from './helpers/mnist-model';

// Float rounding of (x + delta) - x may exceed eps by an ulp.
const ROUNDING = 1e-6;
const CLASSES = 10;

let model: Model;
let images: Float32Array;
let labels: Int32Array;

beforeAll(async () => {
  model = await standardTrainedMnistModel();
  ({ images, labels } = mnistTestDigits(100));
});

function maxAbsDifference(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

function robustPerClass(success: Uint8Array): number[] {
  const robust = new Array<number>(CLASSES).fill(0);
  success.forEach((hit, i) => {
    if (!hit) robust[labels[i]] += 1;
  });
  return robust;
}

function robustCount(success: Uint8Array): number {
  return success.length - success.reduce((a, b) => a + b, 0);
}

// Small budgets keep the file fast; the invariants do not depend on them.
const QUICK: Record<string, AttackOptions> = {
  cw: { kind: 'cw', eps: 0.1, steps: 10 },
  tpgd: { kind: 'tpgd', eps: 0.1, steps: 10, temperature: 5 },
  'apgd-ce': { kind: 'apgd-ce', eps: 0.1, steps: 10 },
  'apgd-dlr': { kind: 'apgd-dlr', eps: 0.1, steps: 10 },
  'apgd-t': { kind: 'apgd-t', eps: 0.1, steps: 10, targetClasses: 3 },
  square: { kind: 'square', eps: 0.1, queries: 100 },
  autoattack: { kind: 'autoattack', eps: 0.1, steps: 10, targetClasses: 3, queries: 100 },
};

describe('every attack kind keeps the threat model', () => {
  test.each(Object.keys(QUICK))('%s: images stay in [0,1] and within eps; success matches predictions', async (kind) => {
    const result = await attack(model, images, labels, { ...QUICK[kind], seed: 3 });
    let min = Infinity;
    let max = -Infinity;
    for (const value of result.adversarial) {
      min = Math.min(min, value);
      max = Math.max(max, value);
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThanOrEqual(1);
    expect(maxAbsDifference(result.adversarial, images)).toBeLessThanOrEqual(0.1 + ROUNDING);
    for (let i = 0; i < labels.length; i++) expect(result.success[i]).toBe(result.predictions[i] !== labels[i] ? 1 : 0);
    expect(result.successRate).toBeGreaterThan(0);
  });
});

describe('Temperature-PGD', () => {
  test('T = 1 gives the same adversarial images as PGD, bit for bit, with the same seed', async () => {
    const pgd = await attack(model, images, labels, { kind: 'pgd', eps: 0.1, steps: 10, seed: 5 });
    const tpgd = await attack(model, images, labels, { kind: 'tpgd', eps: 0.1, steps: 10, seed: 5, temperature: 1 });
    expect(Buffer.from(tpgd.adversarial.buffer).equals(Buffer.from(pgd.adversarial.buffer))).toBe(true);
    expect(Array.from(tpgd.predictions)).toEqual(Array.from(pgd.predictions));
  });

  test('another temperature changes the attack', async () => {
    const pgd = await attack(model, images, labels, { kind: 'pgd', eps: 0.1, steps: 10, seed: 5 });
    const hot = await attack(model, images, labels, { kind: 'tpgd', eps: 0.1, steps: 10, seed: 5, temperature: 0.05 });
    expect(maxAbsDifference(hot.adversarial, pgd.adversarial)).toBeGreaterThan(0);
  });
});

describe('orderings on a trained model', () => {
  test('APGD-CE (100 steps) leaves no more robust examples than PGD-20', async () => {
    const pgd = await attack(model, images, labels, { kind: 'pgd', eps: 0.08, steps: 20, seed: 1 });
    const apgd = await attack(model, images, labels, { kind: 'apgd-ce', eps: 0.08, seed: 1 });
    expect(robustCount(apgd.success)).toBeLessThanOrEqual(robustCount(pgd.success));
  });

  test('the ensemble leaves no more robust examples than any of its stages, per class', async () => {
    const shared = { eps: 0.06, steps: 10, seed: 9 };
    const stages = {
      'apgd-ce': await attack(model, images, labels, { kind: 'apgd-ce', ...shared }),
      'apgd-t': await attack(model, images, labels, { kind: 'apgd-t', ...shared, targetClasses: 3 }),
      square: await attack(model, images, labels, { kind: 'square', eps: shared.eps, seed: shared.seed, queries: 100 }),
    };
    const ensemble = await attack(model, images, labels, { kind: 'autoattack', ...shared, targetClasses: 3, queries: 100 });
    const ensembleRobust = robustPerClass(ensemble.success);
    for (const result of Object.values(stages)) {
      const stageRobust = robustPerClass(result.success);
      for (let k = 0; k < CLASSES; k++) expect(ensembleRobust[k]).toBeLessThanOrEqual(stageRobust[k]);
      // Per example too: whatever a stage breaks alone, the cascade breaks.
      for (let i = 0; i < labels.length; i++) if (result.success[i]) expect(ensemble.success[i]).toBe(1);
    }
  });

  test('Square with more queries extends the same search: every success at 50 queries survives 200', async () => {
    const few = await attack(model, images, labels, { kind: 'square', eps: 0.08, queries: 50, seed: 2 });
    const many = await attack(model, images, labels, { kind: 'square', eps: 0.08, queries: 200, seed: 2 });
    for (let i = 0; i < labels.length; i++) if (few.success[i]) expect(many.success[i]).toBe(1);
  });

  test('CW-Linf finds adversarial examples where PGD does, at a comparable rate', async () => {
    const cw = await attack(model, images, labels, { kind: 'cw', eps: 0.1, steps: 20, seed: 1 });
    const pgd = await attack(model, images, labels, { kind: 'pgd', eps: 0.1, steps: 20, seed: 1 });
    expect(cw.successRate).toBeGreaterThan(0.5 * pgd.successRate);
  });
});

describe('the ensemble says what ran', () => {
  test('the default cascade lists its stages, names FAB-T as missing and is not standard', async () => {
    const result = await attack(model, images, labels, { ...QUICK.autoattack, seed: 1 });
    expect(result.ensemble!.attacksRun).toEqual(['apgd-ce', 'apgd-t', 'square']);
    expect(result.ensemble!.attacksMissing).toEqual(['fab-t']);
    expect(result.ensemble!.standard).toBe(false);
    result.ensemble!.brokenBy.forEach((stage, i) => expect(stage === null).toBe(result.success[i] === 0));
  });

  test('a chosen subset runs only those stages', async () => {
    const result = await attack(model, images, labels, { ...QUICK.autoattack, attacks: ['apgd-ce', 'square'], seed: 1 });
    expect(result.ensemble!.attacksRun).toEqual(['apgd-ce', 'square']);
    expect(result.ensemble!.attacksMissing).toEqual(['apgd-t', 'fab-t']);
    expect(result.ensemble!.brokenBy.includes('apgd-t')).toBe(false);
  });
});

describe('any number of classes', () => {
  test.each([2, 3])('%i classes: APGD-DLR, APGD-T and the ensemble run (DLR falls back to the margin)', async (classes) => {
    const small = Model.create({
      architecture: 'smallcnn', inputShape: [1, 28, 28], classNames: Array.from({ length: classes }, (_, k) => `c${k}`),
      mean: [0.5], std: [0.5], device: 'cpu', seed: 1,
    });
    const few = labels.map((label) => label % classes).subarray(0, 20);
    const pixels = images.subarray(0, 20 * 784);
    for (const options of [QUICK['apgd-dlr'], QUICK['apgd-t'], QUICK.autoattack]) {
      const result = await attack(small, pixels, few, options);
      expect(result.predictions.every((p) => p >= 0 && p < classes)).toBe(true);
    }
  });
});

describe('bad options are named with their fix', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['an unknown kind', { kind: 'fab', eps: 0.1 }, /kind is "fab"; accepted: none, fgsm, pgd, cw, tpgd, apgd-ce/],
    ['tpgd without a temperature', { kind: 'tpgd', eps: 0.1 }, /temperature is required for tpgd/],
    ['a zero temperature', { kind: 'tpgd', eps: 0.1, temperature: 0 }, /temperature must be in \(0, 1e6\], got 0/],
    ['a temperature on pgd', { kind: 'pgd', eps: 0.1, temperature: 2 }, /temperature applies to kind tpgd only/],
    ['a step size on APGD', { kind: 'apgd-ce', eps: 0.1, stepSize: 0.01 }, /APGD sets its own step size/],
    ['Square under L2', { kind: 'square', norm: 'l2', eps: 1 }, /Square attack here is Linf only/],
    ['FAB-T in the ensemble', { kind: 'autoattack', eps: 0.1, attacks: ['fab-t'] }, /"fab-t", which this version does not implement/],
    ['restarts on the ensemble', { kind: 'autoattack', eps: 0.1, restarts: 2 }, /restarts must be 1 for autoattack/],
  ];
  test.each(cases)('%s', async (_name, options, message) => {
    const error = await attack(model, images, labels, options as unknown as AttackOptions).catch((e: unknown) => e);
    expect(error).toHaveProperty('code');
    expect(String((error as Error).message)).toMatch(message);
  });

  test('APGD-T refuses user targets', async () => {
    const error = await attack(model, images, labels, { kind: 'apgd-t', eps: 0.1, targets: labels }).catch((e: unknown) => e);
    expect(String((error as Error).message)).toMatch(/targeted cannot be true for apgd-t/);
  });
});

void mnistModel;
