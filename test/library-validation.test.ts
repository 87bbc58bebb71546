/** The library refuses class lists, epochs and data that would otherwise be trained or labelled silently wrong. */
import { ClasswiseError, Model, study, train } from '../src';
import { epochSeed } from '../src/train/trainer';

const spec = { architecture: 'smallcnn' as const, inputShape: [1, 28, 28] as [number, number, number], mean: [0], std: [1], device: 'cpu' as const };
const schedule = { kind: 'constant' as const, lr: 0.01 };

async function errorOf(call: () => unknown): Promise<ClasswiseError> {
  try {
    await call();
  } catch (caught) {
    return caught as ClasswiseError;
  }
  throw new Error('expected the call to be refused');
}

describe('class names', () => {
  test.each([
    ['an empty list', [], 'Model.create options.classNames must be a non-empty array of class names, got []; give one name per class, e.g. ["cat", "dog"]'],
    ['a duplicate', ['cat', 'dog', 'cat'], 'Model.create options.classNames names class 0 and class 2 both "cat"; class names must be distinct (e.g. "cat (2)")'],
    ['a number', ['cat', 7], 'Model.create options.classNames[1] is 7; every class name must be a non-empty string'],
    ['an empty string', ['cat', ''], 'Model.create options.classNames[1] is ""; every class name must be a non-empty string'],
  ])('Model.create refuses %s', async (_case, classNames, message) => {
    const error = await errorOf(() => Model.create({ ...spec, classNames: classNames as string[] }));
    expect(error).toBeInstanceOf(ClasswiseError);
    expect(error.code).toBe('ERR_INVALID_ARGUMENT');
    expect(error.message).toBe(message);
  });
});

describe('train arguments', () => {
  const classNames = ['a', 'b', 'c'];
  const dataset = (names: string[], shape: [number, number, number] = [1, 28, 28]) => ({
    name: 'fixture', split: 'train' as const, images: new Uint8Array(6 * shape[0] * shape[1] * shape[2]), labels: Int32Array.of(0, 1, 2, 0, 1, 2),
    shape, classNames: names, count: 6, source: 'test',
  });

  test.each([
    ['startEpoch above epochs', () => ({ data: dataset(classNames), options: { method: 'standard' as const, epochs: 2, startEpoch: 3, schedule } }),
      'startEpoch must be an integer in [0, epochs = 2] (the number of epochs already trained), got 3'],
    ['a fractional startEpoch', () => ({ data: dataset(classNames), options: { method: 'standard' as const, epochs: 2, startEpoch: 0.5, schedule } }),
      'startEpoch must be an integer in [0, epochs = 2] (the number of epochs already trained), got 0.5'],
    ['data with duplicate class names', () => ({ data: dataset(['a', 'a', 'c']), options: { method: 'standard' as const, epochs: 1, schedule } }),
      'train data.classNames names class 0 and class 1 both "a"; class names must be distinct (e.g. "a (1)")'],
    ['data with another class count', () => ({ data: dataset(['a', 'b']), options: { method: 'standard' as const, epochs: 1, schedule } }),
      "train data has 2 classes but the model has 3; create the model with the dataset's classNames"],
    ['data of another image shape', () => ({ data: dataset(classNames, [1, 32, 32]), options: { method: 'standard' as const, epochs: 1, schedule } }),
      'train data has images of shape 1x32x32 but the model takes 1x28x28; create the model with inputShape [1,32,32]'],
    ['a class weight of NaN', () => ({ data: dataset(classNames), options: { method: 'standard' as const, epochs: 1, schedule, classWeights: [1, NaN, 1] } }),
      "classWeights[1] (b) is NaN; a class's loss weight must be a finite number >= 0"],
    ['a negative class weight', () => ({ data: dataset(classNames), options: { method: 'standard' as const, epochs: 1, schedule, classWeights: [1, 1, -2] } }),
      "classWeights[2] (c) is -2; a class's loss weight must be a finite number >= 0"],
    ['class weights all 0', () => ({ data: dataset(classNames), options: { method: 'standard' as const, epochs: 1, schedule, classWeights: [0, 0, 0] } }),
      'classWeights (--class-weight) are 0 for every class, so no example contributes to the loss; give at least one class a weight above 0 (others default to 1)'],
    ['a class eps above 1', () => ({ data: dataset(classNames), options: { method: 'pgd' as const, epochs: 1, schedule, attack: { kind: 'pgd' as const, eps: 0.1 }, classEps: [0.1, 1.5, 0.1] } }),
      "classEps[1] (b) is 1.5; a class's attack budget must be a finite number in [0, 1] (pixel units)"],
  ])('train refuses %s before any step', async (_case, make, message) => {
    const model = Model.create({ ...spec, classNames });
    const { data, options } = make();
    const error = await errorOf(() => train(model, data, options));
    expect(error).toBeInstanceOf(ClasswiseError);
    expect(error.code).toBe('ERR_INVALID_ARGUMENT');
    expect(error.message).toBe(message);
  });
});

test('train warns through onWarning when the schedule gives lr 0 at every step', async () => {
  const classNames = ['a', 'b', 'c'];
  const model = Model.create({ ...spec, classNames });
  const data = { name: 'fixture', split: 'train' as const, images: new Uint8Array(6 * 784), labels: Int32Array.of(0, 1, 2, 0, 1, 2), shape: [1, 28, 28] as [number, number, number], classNames, count: 6, source: 'test' };
  const warnings: string[] = [];
  const before = await model.state();
  await train(model, data, { method: 'standard', epochs: 1, batchSize: 6, schedule: { kind: 'cyclic', lrMax: 0.1, peakFraction: 0.4 }, onWarning: (w) => warnings.push(w) });
  expect(warnings).toEqual(["the learning-rate schedule (cyclic lr 0 -> 0.1 at 40% of training -> 0) gives lr 0 at every one of the run's 1 step, so the weights will not change; " +
    'train more steps (epochs, images) or choose another schedule or rate']);
  // And it is true: the one step at lr 0 leaves the first convolution as it was.
  const after = await model.state();
  const name = Object.keys(before).find((key) => key.endsWith('weight'))!;
  expect(Buffer.from(after[name].data).equals(Buffer.from(before[name].data))).toBe(true);
});

describe('epochSeed', () => {
  test('is a deterministic non-negative integer below 2^31', () => {
    expect(epochSeed(0, 0)).toBe(1);
    expect(epochSeed(1, 2)).toBe(100003 + 2 * 7919 + 1);
    expect(epochSeed(123456, 7)).toBe(epochSeed(123456, 7));
  });
  test.each([[NaN, 0, 'seed', 'NaN'], [0, NaN, 'epoch', 'NaN'], [1.5, 0, 'seed', '1.5'], [0, -1, 'epoch', '-1']])('refuses seed %p, epoch %p', (seed, epoch, name, shown) => {
    expect(() => epochSeed(seed as number, epoch as number)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT', message: `epochSeed: ${name} must be an integer >= 0, got ${shown}` }));
  });
});

describe('study.temperatureSweep', () => {
  const model = Model.create({ ...spec, classNames: ['a', 'b'] });
  const data = { images: new Uint8Array(2 * 784), labels: Int32Array.of(0, 1), count: 2 };
  const base = { kind: 'pgd' as const, eps: 0.1, steps: 1 };
  test.each([
    [[], 'temperatures is empty; give at least one value of T, e.g. --temperatures 0.5,2,5,10'],
    [[2, NaN], 'temperatures[1] is NaN; every temperature must be a finite number above 0, e.g. 0.5,2,5,10'],
    [[0], 'temperatures[0] is 0; every temperature must be a finite number above 0, e.g. 0.5,2,5,10'],
  ])('refuses temperatures %p before any attack', async (temperatures, message) => {
    const error = await errorOf(() => study.temperatureSweep(model, data, { base, temperatures, seed: 0 }));
    expect(error.code).toBe('ERR_INVALID_ARGUMENT');
    expect(error.message).toBe(message);
  });
});
