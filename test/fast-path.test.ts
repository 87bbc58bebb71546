/**
 * precision and memoryFormat: bf16 autocast and channels_last keep every attack invariant (within eps, within
 * [0,1]), results say what they ran with, 'auto' follows the device's bf16 support, and bad values are refused.
 */
import { attack, evaluate, ClasswiseError, Model, runtimeInfo, train, loadMnistSample, takeFirst } from '../src';
import { autoFastPath } from '../src/fast-path';
import { fastPathHeader } from '../src/cli/fast-path-header';
import { nativeAddon } from '../src/native';
import { mnistModel, mnistTestDigits, standardTrainedMnistModel } from './helpers/mnist-model';

// Float rounding of (x + delta) - x may exceed eps by an ulp, in fp32 as in bf16 (the perturbation stays fp32).
const ROUNDING = 1e-6;

function maxAbsDifference(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

function outsideUnitInterval(values: Float32Array): number {
  let count = 0;
  for (const v of values) if (!(v >= 0 && v <= 1)) count++;
  return count;
}

describe('bf16 + channels_last attacks', () => {
  const { images, labels, dataset } = mnistTestDigits(64);

  test.each(['pgd', 'cw', 'apgd-ce'] as const)('%s keeps every perturbation within eps and every image in [0,1], and says bf16', async (kind) => {
    const model = await standardTrainedMnistModel();
    const eps = 0.1;
    const result = await attack(model, images, labels, { kind, eps, steps: 10, precision: 'bf16', memoryFormat: 'channels_last' });
    expect(result.precision).toBe('bf16');
    expect(result.memoryFormat).toBe('channels_last');
    expect(outsideUnitInterval(result.adversarial)).toBe(0);
    expect(maxAbsDifference(result.adversarial, images)).toBeLessThanOrEqual(eps + ROUNDING);
  });

  test('L2 PGD under bf16 stays within the L2 ball', async () => {
    const model = await standardTrainedMnistModel();
    const result = await attack(model, images, labels, { kind: 'pgd', norm: 'l2', eps: 1.5, steps: 10, precision: 'bf16' });
    const perImage = 784;
    for (let i = 0; i < labels.length; i++) {
      let sum = 0;
      for (let j = i * perImage; j < (i + 1) * perImage; j++) sum += (result.adversarial[j] - images[j]) ** 2;
      expect(Math.sqrt(sum)).toBeLessThanOrEqual(1.5 + 1e-4);
    }
    expect(outsideUnitInterval(result.adversarial)).toBe(0);
  });

  test('bf16 finds adversarial examples as fp32 does (a strong attack on a standard model)', async () => {
    const model = await standardTrainedMnistModel();
    const fp32 = await attack(model, images, labels, { kind: 'pgd', eps: 0.2, steps: 10, precision: 'fp32', memoryFormat: 'contiguous' });
    const bf16 = await attack(model, images, labels, { kind: 'pgd', eps: 0.2, steps: 10, precision: 'bf16', memoryFormat: 'channels_last' });
    expect(fp32.precision).toBe('fp32');
    expect(fp32.memoryFormat).toBe('contiguous');
    // eps 0.2 breaks most digits of a standard model (about 70% here): a comparison with something to compare.
    expect(fp32.successRate).toBeGreaterThan(0.5);
    expect(Math.abs(bf16.successRate - fp32.successRate)).toBeLessThanOrEqual(0.1);
  });

  test('a bf16 attack leaves the weights as they were, byte for byte (its bf16 copies of them are dropped after it)', async () => {
    const model = await standardTrainedMnistModel();
    const before = await model.state();
    await attack(model, images, labels, { kind: 'pgd', eps: 0.1, steps: 3, precision: 'bf16', memoryFormat: 'channels_last' });
    const after = await model.state();
    for (const name of Object.keys(before)) {
      expect(after[name].dtype).toBe(before[name].dtype);
      expect(Buffer.compare(after[name].data, before[name].data)).toBe(0);
    }
  });

  test('channels_last alone gives the fp32 answer, and leaves the model as it was', async () => {
    const model = await standardTrainedMnistModel();
    const before = await model.state();
    const contiguous = await attack(model, images, labels, { kind: 'pgd', eps: 0.1, steps: 5, seed: 3, precision: 'fp32', memoryFormat: 'contiguous' });
    const channelsLast = await attack(model, images, labels, { kind: 'pgd', eps: 0.1, steps: 5, seed: 3, precision: 'fp32', memoryFormat: 'channels_last' });
    expect(channelsLast.precision).toBe('fp32');
    // Same arithmetic, another summation order inside the convolutions: predictions agree on nearly every digit.
    let agree = 0;
    for (let i = 0; i < labels.length; i++) if (contiguous.predictions[i] === channelsLast.predictions[i]) agree++;
    expect(agree).toBeGreaterThanOrEqual(labels.length - 2);
    const after = await model.state();
    for (const name of Object.keys(before)) expect(Buffer.compare(after[name].data, before[name].data)).toBe(0);
    void dataset;
  });

  test('evaluation under bf16 reports bf16, and its accuracy stays near fp32', async () => {
    const model = await standardTrainedMnistModel();
    const test64 = takeFirst(loadMnistSample('test'), 64);
    const fp32 = await evaluate(model, test64, { attack: { kind: 'pgd', eps: 0.1, steps: 5 }, precision: 'fp32', memoryFormat: 'contiguous' });
    const bf16 = await evaluate(model, test64, { attack: { kind: 'pgd', eps: 0.1, steps: 5 }, precision: 'bf16', memoryFormat: 'channels_last' });
    expect(fp32.precision).toBe('fp32');
    expect(bf16.precision).toBe('bf16');
    expect(bf16.memoryFormat).toBe('channels_last');
    expect(Math.abs(bf16.overall.clean - fp32.overall.clean)).toBeLessThanOrEqual(2 / 64);
  });
});

describe('under bf16, decisions are made in fp32 (bf16 finds the adversarial examples, fp32 judges them)', () => {
  const { images, labels } = mnistTestDigits(64);

  // The same images through the model in fp32 + channels_last: the pass every decision of a bf16 call makes.
  async function fp32Predictions(model: Model, batch: Float32Array): Promise<number[]> {
    const judged = await model.native.attack({ images: batch, labels }, { attack: { kind: 'none' }, batchSize: 256, seed: 0, memoryFormat: 'channels_last' });
    return Array.from(judged.predictions);
  }

  test('the predictions a bf16 attack reports are fp32\'s for its adversarial images, even on the boundary (FAB-T)', async () => {
    const model = await standardTrainedMnistModel();
    // FAB-T returns minimal perturbations just past the boundary, where bf16 and fp32 logits disagree most.
    const result = await attack(model, images, labels, { kind: 'fab-t', eps: 0.2, steps: 10, targetClasses: 3, precision: 'bf16', memoryFormat: 'channels_last' });
    expect(result.precision).toBe('bf16');
    expect(result.successRate).toBeGreaterThan(0.3);
    expect(Array.from(result.predictions)).toEqual(await fp32Predictions(model, result.adversarial));
  });

  test('PGD with restarts keeps the restart fp32 judges strongest, and reports fp32\'s prediction', async () => {
    const model = await standardTrainedMnistModel();
    const result = await attack(model, images, labels, { kind: 'pgd', eps: 0.1, steps: 5, restarts: 2, precision: 'bf16', memoryFormat: 'channels_last' });
    expect(Array.from(result.predictions)).toEqual(await fp32Predictions(model, result.adversarial));
  });

  test('an AutoAttack cascade under bf16 names a stage for exactly the points fp32 finds broken', async () => {
    const model = await standardTrainedMnistModel();
    const result = await attack(model, images, labels, { kind: 'autoattack', eps: 0.1, steps: 10, targetClasses: 3, queries: 100, precision: 'bf16', memoryFormat: 'channels_last' });
    const predictions = await fp32Predictions(model, result.adversarial);
    expect(Array.from(result.predictions)).toEqual(predictions);
    const brokenBy = result.ensemble!.brokenBy;
    expect(brokenBy.some((stage) => stage !== null && stage !== 'clean')).toBe(true);
    for (let i = 0; i < labels.length; i++) expect(brokenBy[i] === null).toBe(predictions[i] === labels[i]);
  });

  test('the run header says so', () => {
    expect(fastPathHeader(runtimeInfo(), 'cpu', 'bf16', 'channels_last')).toMatch(/^fast path: precision bf16; decisions in fp32, memory format channels_last \(CPU /);
    expect(fastPathHeader(runtimeInfo(), 'cpu', 'fp32', 'contiguous')).toMatch(/^fast path: precision fp32, memory format contiguous \(CPU /);
  });

  test('evaluation under bf16 reports fp32\'s clean predictions', async () => {
    const model = await standardTrainedMnistModel();
    const test64 = takeFirst(loadMnistSample('test'), 64);
    const bf16 = await evaluate(model, test64, { attack: { kind: 'pgd', eps: 0.1, steps: 3 }, precision: 'bf16', memoryFormat: 'channels_last' });
    const fp32 = await evaluate(model, test64, { attack: null, precision: 'fp32', memoryFormat: 'channels_last' });
    expect(Array.from(bf16.cleanPredictions)).toEqual(Array.from(fp32.cleanPredictions));
  });
});

describe('packed convolution weights (bf16 attacks on the CPU) change no number', () => {
  // Packing off for the calls inside (what CLASSWISE_PACKED_CONV=0 does for a whole process).
  async function withoutPacking<T>(run: () => Promise<T>): Promise<T> {
    nativeAddon().setPackedConvolutions(false);
    try {
      return await run();
    } finally {
      nativeAddon().setPackedConvolutions(true);
    }
  }
  const bf16 = { precision: 'bf16', memoryFormat: 'channels_last' } as const;

  test('on where LibTorch 2.x has the operators and the CPU native bf16 (not on Debian\'s 1.13, nor emulated bf16)', () => {
    const info = runtimeInfo();
    const nativeBf16 = info.cpuFeatures.avx512Bf16 || info.cpuFeatures.amxBf16;
    expect(info.packedConvWeights).toBe(!info.torchVersion.startsWith('1.') && nativeBf16);
  });

  test('SmallCNN (biases, unpadded convolutions): the same adversarial images, byte for byte', async () => {
    const model = await standardTrainedMnistModel();
    const { images, labels } = mnistTestDigits(64);
    const options = { kind: 'pgd', eps: 0.1, steps: 5, seed: 4, ...bf16 } as const;
    const packed = await attack(model, images, labels, options);
    const plain = await withoutPacking(() => attack(model, images, labels, options));
    expect(packed.successRate).toBeGreaterThan(0.05);
    expect(Buffer.compare(Buffer.from(packed.adversarial.buffer), Buffer.from(plain.adversarial.buffer))).toBe(0);
  });

  test('PreActResNet-18 (strided and 1x1 shortcut convolutions): the same adversarial images, byte for byte', async () => {
    const model = Model.create({ architecture: 'preact-resnet18', inputShape: [3, 32, 32], classNames: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'],
                                 mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], device: 'cpu', seed: 2 });
    const count = 8;
    const images = Float32Array.from({ length: count * 3 * 32 * 32 }, (_, i) => ((i * 7919) % 1000) / 1000);
    const labels = Int32Array.from({ length: count }, (_, i) => i % 10);
    const options = { kind: 'pgd', eps: 8 / 255, steps: 3, seed: 4, ...bf16 } as const;
    const packed = await attack(model, images, labels, options);
    const plain = await withoutPacking(() => attack(model, images, labels, options));
    expect(maxAbsDifference(packed.adversarial, images)).toBeGreaterThan(0);
    expect(Buffer.compare(Buffer.from(packed.adversarial.buffer), Buffer.from(plain.adversarial.buffer))).toBe(0);
  });
});

describe('bf16 training', () => {
  test('an epoch under bf16 + channels_last trains fp32 weights and says bf16', async () => {
    const model = mnistModel(4);
    const trainSet = takeFirst(loadMnistSample('train'), 512);
    const records = await train(model, trainSet, {
      method: 'pgd', epochs: 1, schedule: { kind: 'constant', lr: 0.01 }, batchSize: 64,
      attack: { kind: 'pgd', eps: 0.1, steps: 2 }, precision: 'bf16', memoryFormat: 'channels_last',
      evaluation: { data: takeFirst(loadMnistSample('test'), 32), attack: { kind: 'pgd', eps: 0.1, steps: 2 } },
    });
    expect(records[0].precision).toBe('bf16');
    expect(records[0].memoryFormat).toBe('channels_last');
    expect(records[0].evaluation!.precision).toBe('bf16');
    expect(Number.isFinite(records[0].trainLoss)).toBe(true);
    const state = await model.state();
    // Master weights stay fp32 and are saved in the default layout.
    for (const tensor of Object.values(state)) expect(tensor.dtype).not.toBe('BF16');
  });
});

describe("'auto'", () => {
  test('picks bf16 on a CPU exactly when LibTorch sees AMX-BF16 or AVX512-BF16, and says why', async () => {
    const info = runtimeInfo();
    const fastBf16 = Boolean(info.cpuFeatures.amxBf16 || info.cpuFeatures.avx512Bf16);
    expect(info.autoFastPath.cpu.precision).toBe(fastBf16 ? 'bf16' : 'fp32');
    expect(info.autoFastPath.cpu.reason).toMatch(fastBf16 ? /AMX-BF16|AVX512-BF16/ : /neither AMX-BF16 nor AVX512-BF16/);
    expect(autoFastPath('cpu').precision).toBe(info.autoFastPath.cpu.precision);
    const model = await standardTrainedMnistModel();
    const { images, labels } = mnistTestDigits(8);
    const result = await attack(model, images, labels, { kind: 'pgd', eps: 0.1, steps: 1, precision: 'auto', memoryFormat: 'auto' });
    expect(result.precision).toBe(fastBf16 ? 'bf16' : 'fp32');
    expect(result.memoryFormat).toBe(info.autoFastPath.cpu.memoryFormat);
  });
});

describe('bad values are refused by name', () => {
  const { images, labels } = mnistTestDigits(4);

  test('precision', async () => {
    const model = mnistModel();
    const error = await attack(model, images, labels, { kind: 'pgd', eps: 0.1, precision: 'fp16' as never }).catch((e) => e);
    expect(error).toBeInstanceOf(ClasswiseError);
    expect(error.code).toBe('ERR_INVALID_ARGUMENT');
    expect(error.message).toBe('options.precision is "fp16"; accepted: fp32, bf16, auto (bf16 where the device has fast bf16)');
  });

  test('memoryFormat', async () => {
    const model = mnistModel();
    const error = await evaluate(model, takeFirst(loadMnistSample('test'), 4), { memoryFormat: 'nhwc' as never }).catch((e) => e);
    expect(error).toBeInstanceOf(ClasswiseError);
    expect(error.code).toBe('ERR_INVALID_ARGUMENT');
    expect(error.message).toBe('options.memoryFormat is "nhwc"; accepted: contiguous, channels_last, auto');
  });

  test('a precision that is not a string', async () => {
    const model = mnistModel();
    const error = await attack(model, images, labels, { kind: 'pgd', eps: 0.1, precision: 16 as never }).catch((e) => e);
    expect(error.code).toBe('ERR_INVALID_ARGUMENT');
    expect(error.message).toBe('options.precision must be a string, got 16');
  });
});
