/**
 * FGSM-RS in the library (Wong et al. 2020), as the CLI runs it: `method: 'fgsm-rs'` with an FGSM attack
 * defaults to a uniform random start and step 1.25 eps, not plain FGSM (no start, step eps).
 */
import { loadMnistSample, takePerClass, train } from '../../src';
import type { TrainOptions } from '../../src';
import { mnistModel } from '../helpers/mnist-model';

async function stateBytes(model: ReturnType<typeof mnistModel>): Promise<Buffer> {
  const state = await model.state();
  return Buffer.concat(Object.keys(state).sort().filter((k) => !k.startsWith('optimizer.')).map((k) => Buffer.from(state[k].data)));
}

const EPS = 0.1;
const trainSet = takePerClass(loadMnistSample('train'), 20, 0);
const base: Omit<TrainOptions, 'attack'> = { method: 'fgsm-rs', epochs: 1, schedule: { kind: 'constant', lr: 0.05 }, batchSize: 50, seed: 4 };

async function trained(attack: TrainOptions['attack']): Promise<Buffer> {
  const model = mnistModel(2);
  await train(model, trainSet, { ...base, attack });
  return stateBytes(model);
}

test('fgsm-rs with { kind: fgsm, eps } trains exactly as with randomStart: true, stepSize: 1.25 eps', async () => {
  const byDefault = await trained({ kind: 'fgsm', eps: EPS });
  const explicit = await trained({ kind: 'fgsm', eps: EPS, randomStart: true, stepSize: 1.25 * EPS });
  const plain = await trained({ kind: 'fgsm', eps: EPS, randomStart: false, stepSize: EPS });
  expect(byDefault.equals(explicit)).toBe(true);
  expect(byDefault.equals(plain)).toBe(false);
});

test('an option given explicitly wins; the other keeps its FGSM-RS default', async () => {
  const noStart = await trained({ kind: 'fgsm', eps: EPS, randomStart: false });
  expect(noStart.equals(await trained({ kind: 'fgsm', eps: EPS, randomStart: false, stepSize: 1.25 * EPS }))).toBe(true);
  // From the image itself any step of eps or more lands on the eps-ball's corner; a smaller one does not.
  expect(noStart.equals(await trained({ kind: 'fgsm', eps: EPS, randomStart: false, stepSize: 0.5 * EPS }))).toBe(false);
});
