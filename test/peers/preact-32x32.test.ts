/**
 * Our attacks against the peer libraries on a PreActResNet-18 (BatchNorm, residual blocks, 3 channels) on a
 * small 32x32 set: four well-separated Fashion-MNIST classes (Trouser, Sandal, Bag, Ankle boot), padded to 32x32
 * and repeated over 3 channels, so that a short standard training on 2 cores gives an accurate model; then a small
 * eps so that robust accuracy is neither 0 nor 100%. With 4 classes the targeted attacks target all 3 others, as
 * the standard AutoAttack does when there are fewer than 10 classes. The point is the architecture (BatchNorm,
 * residual blocks, 3 channels); the class-wise differences are the Fashion-MNIST SmallCNN test's.
 * Margins: test/peers/compare.ts. Skipped, saying why, without the peer packages.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { attack, evaluate, loadFashionMnist, Model, restrictToClasses, setThreads, takePerClass, train } from '../../src/index';
import type { ImageDataset } from '../../src/index';
import { expectAgreement, PeerCase, peerCases } from './compare';
import { peerPython, THREADS, writeInputs } from './peers';

// Part of the default suite; CLASSWISE_PEERS=0 leaves it out.
const optedOut = process.env.CLASSWISE_PEERS === '0';
const { python, reason } = optedOut ? { python: undefined, reason: 'CLASSWISE_PEERS=0' } : peerPython();
if (!python) console.warn(`test/peers/preact-32x32.test.ts skipped: ${reason}`);
const describePeers = python ? describe : describe.skip;

const CLASSES = ['Trouser', 'Sandal', 'Bag', 'Ankle boot'];
const EPS = 8 / 255;
/** Test images per class: 5, 20 in all (PreActResNet-18 costs ~50x SmallCNN per image on 2 cores). */
const PER_CLASS = 5;

/** 28x28 grey -> 32x32 (2-pixel zero border) x 3 channels, uint8. */
function to32x32(dataset: ImageDataset): ImageDataset {
  const count = dataset.count;
  const out = new Uint8Array(count * 3 * 32 * 32);
  for (let n = 0; n < count; n++) {
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < 28; y++) {
        const from = n * 784 + y * 28;
        out.set(dataset.images.subarray(from, from + 28), ((n * 3 + c) * 32 + y + 2) * 32 + 2);
      }
    }
  }
  return { ...dataset, images: out, shape: [3, 32, 32] } as ImageDataset;
}

let folder: string;
let checkpoint: string;
let model: Model;
let images: Float32Array;
let labels: Int32Array;

describePeers('peers on a PreActResNet-18, 32x32 images', () => {
  beforeAll(async () => {
    setThreads(THREADS);
    folder = fs.mkdtempSync(path.join(os.tmpdir(), 'classwise-peers-preact-'));
    const trainSet = to32x32(takePerClass(restrictToClasses(loadFashionMnist('train'), CLASSES), 100, 5));
    model = Model.create({ architecture: 'preact-resnet18', inputShape: [3, 32, 32], classNames: trainSet.classNames,
                           mean: [0.3, 0.3, 0.3], std: [0.35, 0.35, 0.35], device: 'cpu', seed: 5 });
    await train(model, trainSet, { method: 'standard', epochs: 2, schedule: { kind: 'cyclic', lrMax: 0.05, peakFraction: 0.4 },
                                   batchSize: 16, seed: 5 });
    const test = to32x32(takePerClass(restrictToClasses(loadFashionMnist('test'), CLASSES), PER_CLASS, 1));
    images = Float32Array.from(test.images, (v) => v / 255);
    labels = test.labels;
    const check = await evaluate(model, test, { attack: { kind: 'pgd', eps: EPS, steps: 10 } });
    expect(check.overall.clean).toBeGreaterThan(0.6);
    expect(check.overall.robust).toBeGreaterThan(0.1);
    expect(check.overall.robust).toBeLessThan(check.overall.clean);
    checkpoint = path.join(folder, 'preact.safetensors');
    await model.save(checkpoint);
    writeInputs(folder, images, labels);
  }, 900_000);

  afterAll(() => {
    if (folder) fs.rmSync(folder, { recursive: true, force: true });
  });

  // One peer per attack here, to keep CI's time: fra31's code (pyautoattack) where it has the attack, torchattacks for
  // PGD; the Fashion-MNIST test compares every attack with both, and the four-stage cascade, whose stages are each
  // compared here, only there (on this network it alone took 55-85 s of CI).
  const cases = peerCases({ pgdSteps: 10, apgdSteps: 10, targetedSteps: 5, queries: 50 })
    .filter(([, testCase]) => testCase.peerAttack !== 'autoattack')
    .map(([name, testCase]) => [name, { ...testCase, libraries: testCase.libraries.includes('autoattack') ? ['autoattack'] : testCase.libraries }] as [string, PeerCase]);
  test.each(cases)('%s: per-class robust accuracy agrees with the reference implementation', async (_name, testCase) => {
    await expectAgreement({ python: python!, checkpoint, folder, model, images, labels, classes: CLASSES.length, eps: EPS, testCase, attack });
  }, 900_000);
});
