/** TRADES, MART and class-wise mitigation (loss weights, budgets per class, logit bias at inference). */
import { evaluate, loadMnistSample, takePerClass, train } from '../src';
import { mitigationWeights, TrainOptions } from '../src/train/trainer';
import { parseClassValues } from '../src/train/mitigation';
import { mnistModel } from './helpers/mnist-model';

const trainSet = takePerClass(loadMnistSample('train'), 40, 0);
const testSet = takePerClass(loadMnistSample('test'), 20, 1);
const base: TrainOptions = {
  method: 'pgd',
  epochs: 1,
  schedule: { kind: 'constant', lr: 0.05 },
  attack: { kind: 'pgd', eps: 0.1, steps: 2 },
  batchSize: 50,
  seed: 3,
};

async function stateBytes(model: ReturnType<typeof mnistModel>): Promise<Buffer> {
  const state = await model.state();
  return Buffer.concat(Object.keys(state).sort().filter((k) => !k.startsWith('optimizer.')).map((k) => Buffer.from(state[k].data)));
}

describe('TRADES and MART', () => {
  test.each(['trades', 'mart'] as const)('%s trains: finite loss, weights change, deterministic for a seed', async (method) => {
    const first = mnistModel();
    const before = await stateBytes(first);
    const [record] = await train(first, trainSet, { ...base, method, beta: 6 });
    expect(Number.isFinite(record.trainLoss)).toBe(true);
    expect(record.trainLoss).toBeGreaterThan(0);
    const after = await stateBytes(first);
    expect(after.equals(before)).toBe(false);
    const second = mnistModel();
    await train(second, trainSet, { ...base, method, beta: 6 });
    expect((await stateBytes(second)).equals(after)).toBe(true);
  });

  test('TRADES with beta 0 is clean training on the clean loss (the KL term vanishes)', async () => {
    const trades = mnistModel();
    const [record] = await train(trades, trainSet, { ...base, method: 'trades', beta: 0 });
    const standard = mnistModel();
    const [plain] = await train(standard, trainSet, { ...base, method: 'standard' });
    expect(record.trainLoss).toBeCloseTo(plain.trainLoss, 4);
  });
});

describe('class-wise mitigation in training', () => {
  test('a budget of 0 for every class trains exactly like standard training', async () => {
    const zeroEps = mnistModel();
    await train(zeroEps, trainSet, { ...base, classEps: new Array(10).fill(0) });
    const standard = mnistModel();
    await train(standard, trainSet, { ...base, method: 'standard' });
    expect((await stateBytes(zeroEps)).equals(await stateBytes(standard))).toBe(true);
  });

  test('class weights of 1 match unweighted training up to float rounding', async () => {
    const weighted = mnistModel();
    const [a] = await train(weighted, trainSet, { ...base, classWeights: new Array(10).fill(1) });
    const plain = mnistModel();
    const [b] = await train(plain, trainSet, base);
    expect(a.trainLoss).toBeCloseTo(b.trainLoss, 4);
  });

  test('a class weight of 0 for class 3 leaves class 3 out of the loss: its clean accuracy collapses', async () => {
    const weights = new Array(10).fill(1);
    weights[3] = 0;
    const model = mnistModel();
    // TRADES' MNIST learning rate: at 0.05 a SmallCNN can sit at chance for epochs (LibTorch 2.13 did here).
    await train(model, trainSet, { ...base, method: 'standard', epochs: 4, schedule: { kind: 'constant', lr: 0.01 }, classWeights: weights });
    const result = await evaluate(model, testSet);
    expect(result.cleanAccuracy[3]).toBeLessThan(0.2);
    // Well above chance (10%) overall: only class 3 was left out.
    expect(result.overall.clean).toBeGreaterThan(0.25);
  });

  test('wrong lengths and ranges are refused with the count and the fix', async () => {
    await expect(train(mnistModel(), trainSet, { ...base, classWeights: [1, 2] })).rejects.toThrow(
      'classWeights has 2 entries; the model has 10 classes (one value per class)');
    await expect(train(mnistModel(), trainSet, { ...base, classEps: new Array(10).fill(2) })).rejects.toThrow(
      "classEps[0] (0) is 2; a class's attack budget must be a finite number in [0, 1] (pixel units)");
  });

  test('automatic weights give the weakest class the largest weight, mean 1', () => {
    const weights = mitigationWeights([0.9, 0.5, 0.7]);
    expect(weights[1]).toBeGreaterThan(weights[2]);
    expect(weights[2]).toBeGreaterThan(weights[0]);
    expect(weights.reduce((a, b) => a + b, 0) / 3).toBeCloseTo(1, 10);
  });

  test('classes are named or numbered; unknown ones list the accepted names', () => {
    expect(parseClassValues('shirt=2,0=1.5', ['top', 'shirt', 'coat'], 1, 'w', [0, 10])).toEqual([1.5, 2, 1]);
    expect(() => parseClassValues('dress=2', ['top', 'shirt'], 1, '--class-weight', [0, 10])).toThrow(
      '--class-weight: unknown class "dress"; accepted: top, shirt or an index 0-1');
    expect(() => parseClassValues('shirt', ['top', 'shirt'], 1, '--class-weight', [0, 10])).toThrow(/not of the form class=value/);
  });
});

describe('logit bias at inference', () => {
  test('a large bias towards class 0 makes every prediction 0, clean and under attack', async () => {
    const model = mnistModel();
    await train(model, trainSet, { ...base, method: 'standard' });
    const bias = new Array(10).fill(0);
    bias[0] = 1e4;
    const result = await evaluate(model, testSet, { attack: { kind: 'pgd', eps: 0.1, steps: 2 }, logitBias: bias });
    expect(result.cleanAccuracy[0]).toBe(1);
    expect(result.robustAccuracy[0]).toBe(1);
    expect(result.overall.clean).toBeCloseTo(0.1, 5);
  });

  test('a bias of the wrong length is refused', async () => {
    await expect(evaluate(mnistModel(), testSet, { logitBias: [1] })).rejects.toThrow(
      'options.logitBias has 1 entries; the model has 10 classes (one bias per class)');
  });
});
