/**
 * Robust accuracy is the share of a class classified correctly both clean and under attack (RobustBench's and
 * AutoAttack's definition: the ball includes the clean point), so per class it is never above clean accuracy, even
 * on a weak model where an attack's random start moves some clean mistakes into the right class.
 */
import { attack, AttackOptions, evaluate, loadMnistSample, Model, takeFirst, takePerClass, train } from '../src';
import { asFloatImages, mnistModel } from './helpers/mnist-model';

let model: Model;
const digits = takeFirst(loadMnistSample('test'), 300);
const images = asFloatImages(digits);

// A large ball and barely any steps: the result is close to the random start, which lands anywhere.
const EPS = 0.3;
const ATTACKS: Record<string, AttackOptions> = {
  fgsm: { kind: 'fgsm', eps: EPS },
  pgd: { kind: 'pgd', eps: EPS, steps: 1, stepSize: 0.001, restarts: 2 },
  cw: { kind: 'cw', eps: EPS, steps: 1, stepSize: 0.001 },
  tpgd: { kind: 'tpgd', eps: EPS, steps: 1, stepSize: 0.001, temperature: 5 },
  'apgd-ce': { kind: 'apgd-ce', eps: EPS, steps: 2 },
  'apgd-dlr': { kind: 'apgd-dlr', eps: EPS, steps: 2 },
  'apgd-t': { kind: 'apgd-t', eps: EPS, steps: 2, targetClasses: 2 },
  'fab-t': { kind: 'fab-t', eps: EPS, steps: 2, targetClasses: 2 },
  square: { kind: 'square', eps: EPS, queries: 5 },
  autoattack: { kind: 'autoattack', eps: EPS, steps: 2, targetClasses: 2, queries: 5 },
};

beforeAll(async () => {
  // One short epoch at a low learning rate: right about half the time, so clean mistakes are many and fragile.
  model = mnistModel(5);
  // The exact path (fp32 + contiguous): the same weak model on every CPU, whatever `auto` would pick there.
  await train(model, takePerClass(loadMnistSample('train'), 30, 0), { method: 'standard', epochs: 1, schedule: { kind: 'constant', lr: 0.01 }, batchSize: 32, seed: 0, precision: 'fp32', memoryFormat: 'contiguous' });
});

describe('robust accuracy counts only examples correct both clean and under attack', () => {
  it('the model is one where random starts land correctly: PGD turns some clean mistakes right', async () => {
    const clean = await evaluate(model, digits);
    // One random start each (with restarts the attack keeps any start that is wrong), over a few seeds.
    let madeRight = 0;
    for (const seed of [1, 2, 3, 4, 5]) {
      const attacked = await attack(model, images, digits.labels, { ...ATTACKS.pgd, restarts: 1, seed });
      for (let i = 0; i < digits.count; i++) if (clean.cleanPredictions[i] !== digits.labels[i] && attacked.predictions[i] === digits.labels[i]) madeRight++;
    }
    expect(madeRight).toBeGreaterThan(0);
  });

  test.each(Object.keys(ATTACKS))('%s: per class robust <= clean; a clean mistake stays a mistake', async (kind) => {
    const result = await evaluate(model, digits, { attack: ATTACKS[kind], seed: 1 });
    result.classNames.forEach((_, k) => expect(result.robustAccuracy[k]).toBeLessThanOrEqual(result.cleanAccuracy[k]));
    for (let i = 0; i < digits.count; i++) {
      if (result.cleanPredictions[i] !== digits.labels[i]) expect(result.adversarialPredictions[i]).toBe(result.cleanPredictions[i]);
    }
    // The confusion matrices agree with the per-example predictions.
    const diagonal = result.adversarialConfusion.reduce((sum, row, k) => sum + row[k], 0);
    let robust = 0;
    for (let i = 0; i < digits.count; i++) robust += result.adversarialPredictions[i] === digits.labels[i] ? 1 : 0;
    expect(diagonal).toBe(robust);
  });
});
