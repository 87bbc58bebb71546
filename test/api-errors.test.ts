/** Wrong types, shapes and values give JS errors with a code; none may crash the process. */
import fs from 'fs';
import os from 'os';
import path from 'path';

import {
  attack, ClasswiseError, describeAttack, evaluate, formatClassTable, loadCheckpoint, loadIntoNative, Model, restrictToClasses, runConfig,
  runTraining, saveCheckpoint, study, summarizeClasses, takePerClass, train, writeReport, parseSchedule,
} from '../src';
import { nativeAddon } from '../src/native';
import { mnistModel, mnistTestDigits } from './helpers/mnist-model';

const PIXELS = 28 * 28;
let model: Model;

beforeAll(() => {
  model = mnistModel();
});

const images = (n: number, value = 0.5) => new Float32Array(n * PIXELS).fill(value);
const labels = (n: number) => new Int32Array(n);

describe('attack() arguments', () => {
  test.each([
    ['an Array instead of a Float32Array', () => attack(model, [0.5] as unknown as Float32Array, labels(1), { kind: 'pgd', eps: 0.1 }), 'ERR_INVALID_ARGUMENT', 'images must be a Float32Array, got an Array'],
    ['a Float64Array of images', () => attack(model, new Float64Array(PIXELS) as unknown as Float32Array, labels(1), { kind: 'pgd', eps: 0.1 }), 'ERR_INVALID_ARGUMENT', 'images must be a Float32Array, got a typed array of another element type'],
    ['a length that is not whole images', () => attack(model, new Float32Array(PIXELS + 3), labels(1), { kind: 'pgd', eps: 0.1 }), 'ERR_SHAPE_MISMATCH', 'images has 787 values, not a multiple of channels*height*width = 1*28*28 = 784'],
    ['fewer labels than images', () => attack(model, images(2), labels(1), { kind: 'pgd', eps: 0.1 }), 'ERR_SHAPE_MISMATCH', 'labels has 1 entries but there are 2 images'],
    ['a label outside the classes', () => attack(model, images(1), Int32Array.of(10), { kind: 'pgd', eps: 0.1 }), 'ERR_OUT_OF_RANGE', 'labels[0] is 10, outside [0, 10) (the model has 10 classes)'],
    ['a NaN pixel', () => attack(model, images(1, NaN), labels(1), { kind: 'pgd', eps: 0.1 }), 'ERR_OUT_OF_RANGE', 'images[0] is nan; pixels must be in [0, 1] (divide 8-bit images by 255)'],
    ['8-bit pixel values', () => attack(model, images(1, 255), labels(1), { kind: 'pgd', eps: 0.1 }), 'ERR_OUT_OF_RANGE', 'images[0] is 255.000000; pixels must be in [0, 1] (divide 8-bit images by 255)'],
    ['eps above 1 in Linf', () => attack(model, images(1), labels(1), { kind: 'pgd', eps: 8 }), 'ERR_OUT_OF_RANGE', 'options.eps must be in [0, 1] for linf, got 8.000000 (pixels are in [0,1]; for 8/255 pass 0.0314)'],
    ['a negative eps', () => attack(model, images(1), labels(1), { kind: 'pgd', eps: -0.1 }), 'ERR_OUT_OF_RANGE', 'options.eps must be in [0, 1] for linf, got -0.100000 (pixels are in [0,1]; for 8/255 pass 0.0314)'],
    ['an unknown kind', () => attack(model, images(1), labels(1), { kind: 'fab' as 'pgd', eps: 0.1 }), 'ERR_INVALID_ARGUMENT', 'options.kind is "fab"; accepted: none, fgsm, pgd, cw, tpgd, apgd-ce, apgd-dlr, apgd-t, fab-t, square, autoattack'],
    ['fractional steps', () => attack(model, images(1), labels(1), { kind: 'pgd', eps: 0.1, steps: 2.5 }), 'ERR_INVALID_ARGUMENT', 'options.steps must be an integer, got 2.5'],
    ['a string eps', () => attack(model, images(1), labels(1), { kind: 'pgd', eps: '0.1' as unknown as number }), 'ERR_INVALID_ARGUMENT', 'options.eps must be a finite number, got the string "0.1"'],
    ['batch size 0', () => attack(model, images(1), labels(1), { kind: 'pgd', eps: 0.1, batchSize: 0 }), 'ERR_OUT_OF_RANGE', 'options.batchSize must be in [1, 1048576], got 0'],
    ['targets of the wrong length', () => attack(model, images(2), labels(2), { kind: 'pgd', eps: 0.1, targets: Int32Array.of(1) }), 'ERR_SHAPE_MISMATCH', 'options.targets has 1 entries but there are 2 images'],
  ])('%s', async (_case, call, code, message) => {
    let error: (Error & { code?: string }) | undefined;
    try {
      await call();
    } catch (caught) {
      error = caught as Error & { code?: string };
    }
    // The addon constructs its errors from the library's class, so they are ClasswiseErrors in any realm.
    expect(error).toBeInstanceOf(ClasswiseError);
    expect(error!.code).toBe(code);
    expect(error!.message).toBe(message);
  });

  test('native errors are instances of the one ClasswiseError, thrown or rejected', async () => {
    await expect(attack(model, images(1), labels(1), { kind: 'pgd', eps: 2 })).rejects.toBeInstanceOf(ClasswiseError);
    await expect(attack(model, [] as unknown as Float32Array, labels(0), { kind: 'pgd', eps: 0.1 })).rejects.toBeInstanceOf(ClasswiseError);
    expect(() => model.native.evaluate(undefined as never, undefined as never)).toThrow(ClasswiseError);
  });

  test('an empty batch is fine and returns empty results', async () => {
    const result = await attack(model, new Float32Array(0), new Int32Array(0), { kind: 'pgd', eps: 0.1 });
    expect(result.adversarial.length).toBe(0);
    expect(result.successRate).toBe(0);
  });
});

describe('model, training and state arguments', () => {
  const Native = () => nativeAddon().NativeModel;
  const spec = { architecture: 'smallcnn', numClasses: 10, channels: 1, height: 28, width: 28, mean: [0], std: [1], device: 'cpu', seed: 0 };

  test.each([
    ['an unknown architecture', { ...spec, architecture: 'vgg' }, 'ERR_INVALID_ARGUMENT', 'unknown architecture "vgg"; accepted: smallcnn, preact-resnet18, wide-resnet34-10, resnet50'],
    ['one class', { ...spec, numClasses: 1 }, 'ERR_OUT_OF_RANGE', 'model spec.numClasses must be in [2, 100000], got 1'],
    ['mean of the wrong length', { ...spec, mean: [0, 0, 0] }, 'ERR_SHAPE_MISMATCH', 'mean and std need one value per channel (1), got 3 and 1'],
    ['a zero std', { ...spec, std: [0] }, 'ERR_OUT_OF_RANGE', 'std values must be > 0, got 0.000000'],
    ['images too small for smallcnn', { ...spec, height: 8, width: 8 }, 'ERR_INVALID_ARGUMENT', 'smallcnn needs images of at least 16x16, got 8x8'],
    ['a device that does not exist', { ...spec, device: 'tpu' }, 'ERR_INVALID_ARGUMENT', 'device "tpu" is not a device name; accepted: auto, cpu, cuda, cuda:N'],
  ])('creating a model with %s throws', (_case, badSpec, code, message) => {
    expect(() => new (Native())(badSpec)).toThrow(expect.objectContaining({ code, message }));
  });

  test('a CUDA device this machine does not have names the way out, with CUDA or without', () => {
    const { cudaAvailable, cudaDeviceCount, builtWithCuda } = nativeAddon().runtimeInfo();
    const message = cudaAvailable
      ? `device "cuda:99" does not exist: this machine has ${cudaDeviceCount} CUDA device(s), cuda:0 to cuda:${cudaDeviceCount - 1}`
      : builtWithCuda
        ? /^device "cuda:99" requested but no CUDA device is visible \(the addon is built with CUDA, LibTorch .*; check nvidia-smi and CUDA_VISIBLE_DEVICES\); use --device cpu or auto$/
        : /^device "cuda:99" requested but this addon is built without CUDA \(LibTorch .*, CPU\); build it against a CUDA LibTorch \(README, Building\) or use --device cpu or auto$/;
    expect(() => new (Native())({ ...spec, device: 'cuda:99' })).toThrow(expect.objectContaining({ code: 'ERR_DEVICE' }));
    expect(() => new (Native())({ ...spec, device: 'cuda:99' })).toThrow(message);
    if (!cudaAvailable) expect(() => new (Native())({ ...spec, device: 'cuda' })).toThrow(/use --device cpu or auto/);
  });

  test('training needs an attack for adversarial methods and whole-epoch learning rates', async () => {
    const data = { images: new Uint8Array(4 * PIXELS), labels: labels(4), count: 4 };
    await expect(train(model, data, { method: 'pgd', epochs: 1, schedule: { kind: 'constant', lr: 0.1 } })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
      message: 'method "pgd" needs options.attack, e.g. { kind: "pgd", eps: 0.1, steps: 10 }',
    });
    await expect(train(model, data, { method: 'standard', epochs: 0, schedule: { kind: 'constant', lr: 0.1 } })).rejects.toMatchObject({
      message: 'epochs must be an integer >= 1, got 0',
    });
    expect(() =>
      model.native.train(
        { images: data.images, labels: data.labels, order: Int32Array.of(0, 1, 2, 3), learningRates: new Float64Array(3) },
        { method: 'standard', momentum: 0.9, weightDecay: 0, nesterov: false, batchSize: 2, seed: 0 },
      ),
    ).toThrow(expect.objectContaining({ code: 'ERR_SHAPE_MISMATCH', message: 'data.learningRates has 3 entries but the epoch has 2 steps (order.length / batchSize, rounded up)' }));
    expect(() =>
      model.native.train(
        { images: data.images, labels: data.labels, order: Int32Array.of(0, 9), learningRates: new Float64Array(1) },
        { method: 'standard', momentum: 0.9, weightDecay: 0, nesterov: false, batchSize: 2, seed: 0 },
      ),
    ).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE', message: 'data.order[1] is 9, outside [0, 4) (indices of the images)' }));
  });

  test('evaluate() rejects uint8 images of the wrong size', async () => {
    await expect(evaluate(model, { images: new Uint8Array(100), labels: labels(1) })).rejects.toMatchObject({
      code: 'ERR_SHAPE_MISMATCH',
      message: 'data.images has 100 values, not a multiple of channels*height*width = 1*28*28 = 784',
    });
  });

  test('loading state of another shape or with missing tensors leaves the model untouched', async () => {
    const state = await model.state();
    const wrongShape = { ...state, 'classifier.fc3.weight': { dtype: 'F32' as const, shape: [5, 200], data: new Uint8Array(5 * 200 * 4) } };
    await expect(model.loadState(wrongShape)).rejects.toMatchObject({
      code: 'ERR_SHAPE_MISMATCH',
      message: 'tensor "classifier.fc3.weight" has shape [5, 200] but this model expects [10, 200] (was the checkpoint written for another architecture or class count?)',
    });
    const { ['classifier.fc3.bias']: _dropped, ...missing } = state;
    await expect(model.loadState(missing)).rejects.toMatchObject({ message: '1 tensor(s) of the model are missing: classifier.fc3.bias' });
    await expect(model.loadState({ ...state, 'extra.weight': state['classifier.fc3.bias'] })).rejects.toMatchObject({
      message: 'tensor "extra.weight" is not part of this smallcnn model',
    });
    const after = await model.state();
    for (const name of Object.keys(state)) expect(Buffer.from(after[name].data).equals(Buffer.from(state[name].data))).toBe(true);
  });

  test('a checkpoint for another class count cannot be loaded into this model', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'classwise-errors-'));
    const five = Model.create({ architecture: 'smallcnn', inputShape: [1, 28, 28], classNames: ['a', 'b', 'c', 'd', 'e'], mean: [0], std: [1], device: 'cpu' });
    await five.save(path.join(dir, 'five.safetensors'));
    const { model: loaded } = await Model.load(path.join(dir, 'five.safetensors'));
    expect(loaded.numClasses).toBe(5);
    await expect(model.loadState(await loaded.state())).rejects.toMatchObject({ code: 'ERR_SHAPE_MISMATCH' });
  });

  test('a progress callback that throws rejects the promise instead of crashing', async () => {
    const failing = () => {
      throw new Error('callback failed');
    };
    await expect(
      model.native.attack({ images: images(2), labels: labels(2) }, { attack: { kind: 'pgd', eps: 0.1, steps: 1 }, batchSize: 1, seed: 0 }, failing),
    ).rejects.toThrow('callback failed');
  });

  test('missing argument objects are reported, not dereferenced', () => {
    const native = model.native as unknown as { evaluate: (...args: unknown[]) => unknown; setState: (...args: unknown[]) => unknown };
    expect(() => native.evaluate()).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT', message: 'data must be an object, got nothing' }));
    expect(() => native.setState(42)).toThrow(expect.objectContaining({ message: 'state must be an object, got 42' }));
    expect(() => native.setState({ w: { dtype: 'F16', shape: [1], data: new Uint8Array(2) } })).toThrow(
      expect.objectContaining({ message: 'state["w"].dtype is "F16"; accepted: F32, F64, I64' }),
    );
  });
});

describe('library calls given nothing or the wrong type', () => {
  const data = { images: new Uint8Array(784 * 4), labels: new Int32Array(4), count: 4, shape: [1, 28, 28] as [number, number, number], classNames: ['0', '1'] };
  const schedule = { kind: 'constant' as const, lr: 0.1 };
  const nothing = undefined as never;
  // Each of these threw "Cannot read properties of undefined/null" (no code) or a Node error about a path.
  test.each([
    ['Model.create(undefined)', () => Model.create(nothing)],
    ['Model.create({})', () => Model.create({} as never)],
    ['Model.load(undefined)', () => Model.load(nothing)],
    ['Model.fromSafetensors(undefined, ...)', () => Model.fromSafetensors(nothing, nothing)],
    ['model.save(undefined)', () => model.save(nothing)],
    ['attack(null, ...)', () => attack(null as never, images(1), labels(1), { kind: 'pgd', eps: 0.1 })],
    ['evaluate(null, data)', () => evaluate(null as never, data)],
    ['evaluate(model, null)', () => evaluate(model, null as never)],
    ['evaluate(model, data, null)', () => evaluate(model, data, null as never)],
    ['train(null, data, options)', () => train(null as never, data, { method: 'standard', epochs: 1, schedule })],
    ['train(model, null, options)', () => train(model, null as never, { method: 'standard', epochs: 1, schedule })],
    ['train(model, data, undefined)', () => train(model, data, nothing)],
    ['train(model, data, { no schedule })', () => train(model, data, { method: 'standard', epochs: 1 } as never)],
    ['takePerClass(undefined, 5, 0)', () => takePerClass(nothing, 5, 0)],
    ['restrictToClasses(null, [0])', () => restrictToClasses(null as never, [0])],
    ['parseSchedule(undefined, ...)', () => parseSchedule(nothing, 0.1, 10)],
    ['describeAttack({})', () => describeAttack({} as never)],
    ['formatClassTable(null, ...)', () => formatClassTable(null as never, { title: 't', attackLabel: 'a' })],
    ['summarizeClasses(undefined)', () => summarizeClasses(nothing)],
    ['loadCheckpoint(undefined)', () => loadCheckpoint(nothing)],
    ['saveCheckpoint(file, undefined)', () => saveCheckpoint(path.join(os.tmpdir(), 'never.safetensors'), nothing)],
    ['study.adversarialConfusion(model, null, ...)', () => study.adversarialConfusion(model, null as never, { attacks: [{ kind: 'fgsm', eps: 0.1 }] })],
    ['study.adversarialConfusion(model, data, undefined)', () => study.adversarialConfusion(model, data as never, nothing)],
    ['writeReport(null, dir)', () => writeReport(null as never, os.tmpdir())],
    ['runTraining(undefined, ...)', () => runTraining(nothing, { out: os.tmpdir() })],
    ['runConfig(undefined)', () => runConfig(nothing)],
    ['loadIntoNative(undefined)', () => loadIntoNative(nothing)],
  ])('%s is an ERR_INVALID_ARGUMENT ClasswiseError', async (_case, call) => {
    let error: unknown;
    try {
      await call();
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ClasswiseError);
    expect((error as ClasswiseError).code).toBe('ERR_INVALID_ARGUMENT');
    expect((error as Error).message).not.toMatch(/Cannot read properties|undefined is not/);
  });
});

describe('non-finite numbers are refused', () => {
  const spec = { architecture: 'smallcnn' as const, inputShape: [1, 28, 28] as [number, number, number], classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], mean: [0.13], std: [0.3], device: 'cpu' as const };
  const withValues = <T extends { data: Uint8Array }>(tensor: T, value: number): T => ({ ...tensor, data: new Uint8Array(new Float32Array(tensor.data.length / 4).fill(value).buffer) });

  test('creating a model with a NaN mean or an infinite std', () => {
    expect(() => Model.create({ ...spec, mean: [NaN] })).toThrow(expect.objectContaining({ code: 'ERR_NON_FINITE', message: 'mean[0] is NaN; the per-channel normalisation needs finite numbers' }));
    expect(() => Model.create({ ...spec, std: [Infinity] })).toThrow(expect.objectContaining({ code: 'ERR_NON_FINITE', message: 'std[0] is Infinity; the per-channel normalisation needs finite numbers' }));
  });

  test('loadState with a NaN bias names the tensor and leaves the model as it was', async () => {
    const fresh = Model.create(spec);
    const state = await fresh.state();
    const bad = { ...state, 'classifier.fc3.bias': withValues(state['classifier.fc3.bias'], NaN) };
    await expect(fresh.loadState(bad)).rejects.toMatchObject({
      code: 'ERR_NON_FINITE',
      message: 'tensor "classifier.fc3.bias" holds 10 of 10 values that are NaN or infinite; refused, a model with them predicts nothing meaningful',
    });
    const after = await fresh.state();
    expect(Buffer.from(after['classifier.fc3.bias'].data).equals(Buffer.from(state['classifier.fc3.bias'].data))).toBe(true);
  });

  test('a checkpoint with infinite weights is refused naming the file and the tensor', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'classwise-nonfinite-'));
    const file = path.join(dir, 'inf.safetensors');
    const source = Model.create(spec);
    await source.save(file);
    const checkpoint = loadCheckpoint(file);
    const weight = checkpoint.tensors['classifier.fc3.weight'];
    checkpoint.tensors['classifier.fc3.weight'] = withValues(weight, -Infinity);
    saveCheckpoint(file, checkpoint);
    await expect(Model.load(file)).rejects.toMatchObject({
      code: 'ERR_NON_FINITE',
      message: `${file}: tensor "classifier.fc3.weight" holds 2000 of 2000 values that are NaN or infinite; refused, a model with them predicts nothing meaningful`,
    });
  });

  test('a diverging training run stops at the step where the loss turned non-finite, naming epoch, step and learning rate', async () => {
    const { dataset } = mnistTestDigits(64);
    const fresh = Model.create(spec);
    const finished: number[] = [];
    // Epoch 1 at lr 0.01, then x1e30: the first step of epoch 2 throws the weights out of float range.
    const run = train(fresh, dataset, {
      method: 'standard', epochs: 2, batchSize: 16, seed: 0,
      schedule: { kind: 'piecewise', lr: 0.01, milestones: [1], factor: 1e30 },
      onEpochEnd: (record) => void finished.push(record.epoch),
    });
    await expect(run).rejects.toMatchObject({ code: 'ERR_NON_FINITE' });
    await expect(run).rejects.toThrow(/^epoch 2, step [2-4] of 4: the training loss is NaN or infinite at learning rate 1e\+28; training diverged \(lower the learning rate\)$/);
    expect(finished).toEqual([1]);
  });
});
