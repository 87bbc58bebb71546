/**
 * Our attacks against the peer libraries on a PGD-trained SmallCNN (Fashion-MNIST): the same weights loaded
 * into PyTorch (scripts/reference/models.py), the same images, ours vs torchattacks vs fra31's AutoAttack.
 * See test/peers/compare.ts for the margins and why they hold. Skipped, saying why, without the peer packages.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { attack, evaluate, loadFashionMnist, Model, RECIPES, setThreads, takePerClass, train } from '../../src/index';
import { expectAgreement, peerCases } from './compare';
import { peerPython, THREADS, writeInputs } from './peers';

// Part of the default suite; CLASSWISE_PEERS=0 leaves it out.
const optedOut = process.env.CLASSWISE_PEERS === '0';
const { python, reason } = optedOut ? { python: undefined, reason: 'CLASSWISE_PEERS=0' } : peerPython();
if (!python) console.warn(`test/peers/fashion-mnist.test.ts skipped: ${reason}`);
const describePeers = python ? describe : describe.skip;

const EPS = 0.1;
/** Test images per class: 10, 100 in all (see compare.ts for why the margins hold at this count). The standard
 * settings on more images: scripts/reference/peer-table.js. */
const PER_CLASS = 10;

let folder: string;
let checkpoint: string;
let model: Model;
let images: Float32Array;
let labels: Int32Array;

describePeers('peers on a PGD-trained SmallCNN, Fashion-MNIST', () => {
  beforeAll(async () => {
    setThreads(THREADS);
    folder = fs.mkdtempSync(path.join(os.tmpdir(), 'classwise-peers-fmnist-'));
    const trainSet = takePerClass(loadFashionMnist('train'), 300, 3);
    const recipe = RECIPES['fashion-mnist'];
    model = Model.create({ architecture: 'smallcnn', inputShape: [1, 28, 28], classNames: trainSet.classNames,
                           mean: recipe.mean, std: recipe.std, device: 'cpu', seed: 3 });
    await train(model, trainSet, { method: 'pgd', epochs: 4, schedule: { kind: 'cyclic', lrMax: 0.05, peakFraction: 0.4 },
                                   attack: { kind: 'pgd', eps: EPS, steps: 5 }, batchSize: 64, seed: 3 });
    const test = takePerClass(loadFashionMnist('test'), PER_CLASS, 1);
    images = Float32Array.from(test.images, (v) => v / 255);
    labels = test.labels;
    // A fixture worth comparing on: accurate, and neither broken by PGD nor robust everywhere.
    const check = await evaluate(model, test, { attack: { kind: 'pgd', eps: EPS, steps: 20 } });
    expect(check.overall.clean).toBeGreaterThan(0.7);
    expect(check.overall.robust).toBeGreaterThan(0.3);
    expect(check.overall.robust).toBeLessThan(0.8);
    checkpoint = path.join(folder, 'smallcnn.safetensors');
    await model.save(checkpoint);
    writeInputs(folder, images, labels);
  }, 600_000);

  afterAll(() => {
    if (folder) fs.rmSync(folder, { recursive: true, force: true });
  });

  test.each(peerCases({ pgdSteps: 20, apgdSteps: 50, targetedSteps: 10, targetClasses: 3, queries: 300 }))('%s: per-class robust accuracy agrees with torchattacks and AutoAttack', async (_name, testCase) => {
    await expectAgreement({ python: python!, checkpoint, folder, model, images, labels, classes: 10, eps: EPS, testCase, attack });
  }, 900_000);
});
