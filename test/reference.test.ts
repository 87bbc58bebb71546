/**
 * The native models against their PyTorch definitions in scripts/reference/models.py (documented in
 * docs/models.md): PyTorch loads our checkpoints with strict=True and computes the same predictions,
 * per-class losses and FGSM images, in the Python whose torch is the addon's LibTorch (test/helpers/torch-python.ts).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { attack, evaluate, loadMnistSample, Model, setThreads, takeFirst, train } from '../src/index';
import type { ClassEvaluation, ImageDataset } from '../src/index';
import { torchPython } from './helpers/torch-python';

const CHECK_MODEL = path.join(__dirname, '..', 'scripts', 'reference', 'check_model.py');
/** CPU threads of both sides: the machine is shared. */
const THREADS = 2;
const FGSM_EPS = 0.1;
/** Float32 rounding of x + eps and of the clamps may differ by an ulp between the two. */
const PIXEL_TOLERANCE = 1e-6;
/** Pixels whose input gradient is (nearly) zero may take a different sign on each side. */
const MIN_PIXEL_AGREEMENT = 0.999;
/** Share of FGSM images both sides must classify alike (a few differing pixels may change a class). */
const MIN_PREDICTION_AGREEMENT = 0.98;
/** Relative difference allowed between native and PyTorch mean cross-entropy of a class. */
const LOSS_TOLERANCE = 1e-4;


interface Reference {
  summary: {
    architecture: string;
    loadedTensors: number;
    stateDictEntries: number;
    optimizerTensors: number;
    parameters: number;
    momentumWithoutParameter: string[];
    examples: number;
  };
  cleanPredictions: Int32Array;
  cleanLogits: Float32Array;
  fgsmImages: Float32Array;
  fgsmPredictions: Int32Array;
}

/** Checkpoints and check_model.py's input and output files; one per test file run. */
let folder: string;

function toUnitFloat(pixels: Uint8Array): Float32Array {
  // Float32Array rounds v / 255 to nearest, as the addon's float32 division does.
  return Float32Array.from(pixels, (value) => value / 255);
}

function readTyped<T>(file: string, make: (buffer: ArrayBuffer) => T): T {
  const bytes = fs.readFileSync(file);
  return make(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** Runs check_model.py: PyTorch's clean logits and predictions and its FGSM images, read back. */
function runReference(checkpoint: string, images: Float32Array, labels: Int32Array): Reference {
  const outDir = fs.mkdtempSync(path.join(folder, 'out-'));
  const imagesFile = path.join(outDir, 'images.f32');
  const labelsFile = path.join(outDir, 'labels.i32');
  fs.writeFileSync(imagesFile, new Uint8Array(images.buffer, images.byteOffset, images.byteLength));
  fs.writeFileSync(labelsFile, new Uint8Array(labels.buffer, labels.byteOffset, labels.byteLength));
  const args = [CHECK_MODEL, checkpoint, imagesFile, labelsFile, '--out-dir', outDir];
  args.push('--eps', String(FGSM_EPS), '--logits');
  const run = spawnSync(torchPython(), args, {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: String(THREADS) },
  });
  if (run.status !== 0) throw new Error(`check_model.py failed (exit ${run.status}):\n${run.stderr}`);
  const out = (name: string) => path.join(outDir, name);
  return {
    summary: JSON.parse(fs.readFileSync(out('summary.json'), 'utf8')),
    cleanPredictions: readTyped(out('clean_predictions.i32'), (b) => new Int32Array(b)),
    cleanLogits: readTyped(out('clean_logits.f32'), (b) => new Float32Array(b)),
    fgsmImages: readTyped(out('fgsm_images.f32'), (b) => new Float32Array(b)),
    fgsmPredictions: readTyped(out('fgsm_predictions.i32'), (b) => new Int32Array(b)),
  };
}

/** Mean cross-entropy of each class's examples from PyTorch's logits, as evaluate's meanLoss. */
function meanLossPerClass(logits: Float32Array, labels: Int32Array, classes: number): number[] {
  const sums = new Array<number>(classes).fill(0);
  const counts = new Array<number>(classes).fill(0);
  labels.forEach((label, i) => {
    const row = logits.subarray(i * classes, (i + 1) * classes);
    const max = Math.max(...row);
    const logSumExp = max + Math.log(row.reduce((sum, logit) => sum + Math.exp(logit - max), 0));
    sums[label] += logSumExp - row[label];
    counts[label]++;
  });
  return sums.map((sum, k) => (counts[k] ? sum / counts[k] : 0));
}

/** PyTorch's reference runs fp32 on contiguous tensors: the comparison names the exact path (the default is 'auto'). */
const EXACT = { precision: 'fp32', memoryFormat: 'contiguous' } as const;

function maxRelativeDifference(actual: number[], expected: number[]): number {
  return Math.max(...actual.map((value, k) => Math.abs(value - expected[k]) / Math.max(1e-6, Math.abs(expected[k]))));
}

/** Every tensor name matches: PyTorch's strict load succeeded and each momentum buffer names a parameter. */
function expectStrictLoad(reference: Reference, architecture: string): void {
  expect(reference.summary.architecture).toBe(architecture);
  expect(reference.summary.loadedTensors).toBe(reference.summary.stateDictEntries);
  expect(reference.summary.optimizerTensors).toBe(reference.summary.parameters);
  expect(reference.summary.momentumWithoutParameter).toEqual([]);
}

/** Our FGSM images and predictions against PyTorch's: the shares that agree. */
async function compareFgsm(model: Model, images: Float32Array, labels: Int32Array, reference: Reference) {
  const fgsm = await attack(model, images, labels, { kind: 'fgsm', eps: FGSM_EPS, randomStart: false, ...EXACT });
  const theirs = reference.fgsmImages;
  const agreeingPixels = fgsm.adversarial.filter((pixel, i) => Math.abs(pixel - theirs[i]) <= PIXEL_TOLERANCE).length;
  const agreeingPredictions = fgsm.predictions.filter((label, i) => label === reference.fgsmPredictions[i]).length;
  return {
    sameLength: fgsm.adversarial.length === theirs.length,
    pixelAgreement: agreeingPixels / theirs.length,
    predictionAgreement: agreeingPredictions / labels.length,
    successRate: fgsm.successRate,
  };
}

/** Deterministic pseudo-random bytes (an LCG), so the test data do not change between runs. */
function randomBytes(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = seed >>> 0;
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    bytes[i] = state >>> 24;
  }
  return bytes;
}

/**
 * Random images, each a random colour (one level per channel) plus noise of +-64 levels: images of pure noise
 * all look alike to a CNN, which then predicts one class for every one.
 */
function randomDataset(count: number, shape: [number, number, number], classes: number, seed: number) {
  const [channels, height, width] = shape;
  const planeSize = height * width;
  const noise = randomBytes(count * channels * planeSize, seed);
  const colours = randomBytes(count * channels, seed + 1);
  const images = new Uint8Array(noise.length);
  for (let i = 0; i < images.length; i++) {
    const level = colours[Math.floor(i / planeSize)] + (noise[i] - 128) / 2;
    images[i] = Math.min(255, Math.max(0, Math.round(level)));
  }
  const labels = Int32Array.from(randomBytes(count, seed + 2), (value) => value % classes);
  return { images, labels, count };
}

describe('PyTorch reference definitions (scripts/reference/models.py)', () => {
  beforeAll(() => {
    setThreads(THREADS);
    folder = fs.mkdtempSync(path.join(os.tmpdir(), 'reference-'));
  });

  afterAll(() => {
    fs.rmSync(folder, { recursive: true, force: true });
  });

  describe('SmallCNN trained for one short epoch on the MNIST sample', () => {
    const TRAIN_EXAMPLES = 4096;
    const TEST_EXAMPLES = 256;
    let testSet: ImageDataset;
    let testImages: Float32Array;
    let model: Model;
    let reference: Reference;
    let ours: ClassEvaluation;

    beforeAll(async () => {
      const trainSet = takeFirst(loadMnistSample('train'), TRAIN_EXAMPLES);
      testSet = takeFirst(loadMnistSample('test'), TEST_EXAMPLES);
      testImages = toUnitFloat(testSet.images);
      model = Model.create({
        architecture: 'smallcnn',
        inputShape: [1, 28, 28],
        classNames: testSet.classNames,
        mean: [0.1307],
        std: [0.3081],
        device: 'cpu',
        seed: 1,
      });
      // TRADES' init zeroes fc3, which makes every logit equal: train so the comparison means something.
      await train(model, trainSet, {
        method: 'standard',
        epochs: 1,
        schedule: { kind: 'constant', lr: 0.01 },
        batchSize: 64,
        seed: 0,
      });
      const checkpoint = path.join(folder, 'smallcnn.safetensors');
      await model.save(checkpoint);
      reference = runReference(checkpoint, testImages, testSet.labels);
      ours = await evaluate(model, testSet, { attack: null, ...EXACT });
    });

    test('loads in PyTorch with strict=True once the optimizer.* tensors are dropped', () => {
      expectStrictLoad(reference, 'smallcnn');
      expect(reference.summary.stateDictEntries).toBe(16);
    });

    test('predicts the same class for every clean test image', () => {
      expect(ours.overall.clean).toBeGreaterThan(0.8);
      expect(Array.from(ours.cleanPredictions)).toEqual(Array.from(reference.cleanPredictions));
    });

    test('computes the same mean cross-entropy per class', () => {
      const theirs = meanLossPerClass(reference.cleanLogits, testSet.labels, model.numClasses);

      expect(maxRelativeDifference(ours.meanLoss, theirs)).toBeLessThan(LOSS_TOLERANCE);
    });

    test(`produces the same FGSM images (eps ${FGSM_EPS}, no random start)`, async () => {
      const fgsm = await compareFgsm(model, testImages, testSet.labels, reference);

      expect(fgsm.sameLength).toBe(true);
      expect(fgsm.successRate).toBeGreaterThan(0);
      expect(fgsm.pixelAgreement).toBeGreaterThanOrEqual(MIN_PIXEL_AGREEMENT);
      // Images that differ in a few pixels may be classified differently; nearly all must agree.
      expect(fgsm.predictionAgreement).toBeGreaterThanOrEqual(MIN_PREDICTION_AGREEMENT);
    });
  });

  describe('PreActResNet-18 after two training steps on random images', () => {
    const SHAPE: [number, number, number] = [3, 32, 32];
    const CLASSES = 10;
    const TEST_EXAMPLES = 64;
    let model: Model;
    let testSet: ReturnType<typeof randomDataset>;
    let testImages: Float32Array;
    let reference: Reference;

    beforeAll(async () => {
      model = Model.create({
        architecture: 'preact-resnet18',
        inputShape: SHAPE,
        classNames: Array.from({ length: CLASSES }, (_, k) => `class${k}`),
        mean: [0.4914, 0.4822, 0.4465],
        std: [0.2471, 0.2435, 0.2616],
        device: 'cpu',
        seed: 2,
      });
      // Two steps move the BatchNorm running statistics away from (0, 1), so eval mode uses learnt ones;
      // a small rate keeps the network from predicting one class for all.
      await train(model, randomDataset(64, SHAPE, CLASSES, 11), {
        method: 'standard',
        epochs: 1,
        schedule: { kind: 'constant', lr: 0.005 },
        batchSize: 32,
        seed: 0,
      });
      testSet = randomDataset(TEST_EXAMPLES, SHAPE, CLASSES, 12);
      testImages = toUnitFloat(testSet.images);
      const checkpoint = path.join(folder, 'preact-resnet18.safetensors');
      await model.save(checkpoint);
      reference = runReference(checkpoint, testImages, testSet.labels);
    });

    test('loads in PyTorch with strict=True, BatchNorm running statistics included', async () => {
      expectStrictLoad(reference, 'preact-resnet18');
      const state = await model.state();
      const batchesTracked = new BigInt64Array(state['bn.num_batches_tracked'].data.slice().buffer);
      expect(Array.from(batchesTracked)).toEqual([2n]);
    });

    test('predicts the same class for every image and the same mean loss per class', async () => {
      const ours = await evaluate(model, testSet, { attack: null, ...EXACT });
      const theirs = meanLossPerClass(reference.cleanLogits, testSet.labels, CLASSES);

      expect(new Set(ours.cleanPredictions).size).toBeGreaterThan(1);
      expect(Array.from(ours.cleanPredictions)).toEqual(Array.from(reference.cleanPredictions));
      expect(maxRelativeDifference(ours.meanLoss, theirs)).toBeLessThan(LOSS_TOLERANCE);
    });

    test(`produces the same FGSM images (eps ${FGSM_EPS}): gradients through BatchNorm and shortcuts`, async () => {
      const fgsm = await compareFgsm(model, testImages, testSet.labels, reference);

      expect(fgsm.sameLength).toBe(true);
      expect(fgsm.pixelAgreement).toBeGreaterThanOrEqual(MIN_PIXEL_AGREEMENT);
      expect(fgsm.predictionAgreement).toBeGreaterThanOrEqual(MIN_PREDICTION_AGREEMENT);
    });
  });
});
