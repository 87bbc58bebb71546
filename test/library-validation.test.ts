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
  ])('train refuses %s before any step', async (_case, make, message) => {
    const model = Model.create({ ...spec, classNames });
    const { data, options } = make();
    const error = await errorOf(() => train(model, data, options));
    expect(error).toBeInstanceOf(ClasswiseError);
    expect(error.code).toBe('ERR_INVALID_ARGUMENT');
    expect(error.message).toBe(message);
  });
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
