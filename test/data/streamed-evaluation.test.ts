/**
 * Streamed evaluation of a whole 2,000-image ImageNet val split (run/data.ts streamRunTestSet + evaluateStream) against the
 * in-memory evaluation of the same split: counts, confusion matrices and predictions equal exactly.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { Model } from '../../src';
import { seededRandom } from '../../src/data';
import { evaluate, evaluateStream } from '../../src/evaluate';
import { EVALUATION_PREFETCH_CHUNKS, loadRunTestSet, streamRunTestSet } from '../../src/run/data';
import { makeTempFolder } from './idx-fixtures';

// 2,000 images: enough chunks (32 of 64) that prefetching, ordering and the last partial chunk are all exercised.
const CLASSES = ['n01', 'n02', 'n03', 'n04'];
const PER_CLASS = 500;
const CHUNK = 64;
let temp: ReturnType<typeof makeTempFolder>;

beforeAll(async () => {
  temp = makeTempFolder();
  const sharp = require('sharp') as typeof import('sharp');
  for (const [label, wnid] of CLASSES.entries()) {
    fs.mkdirSync(path.join(temp.folder, 'val', wnid), { recursive: true });
    for (let i = 0; i < PER_CLASS; i++) {
      // Colours that overlap between classes, so that an untrained model gets some right and some wrong.
      const background = { r: (37 * i + 70 * label) % 256, g: (53 * i) % 256, b: (71 * i + 40 * label) % 256 };
      const image = await sharp({ create: { width: 32 + (i % 5), height: 32, channels: 3, background } }).jpeg().toBuffer();
      fs.writeFileSync(path.join(temp.folder, 'val', wnid, `${i}.JPEG`), image);
    }
  }
});
afterAll(() => temp.remove());

test('a streamed val split gives the in-memory evaluation exactly, with at most the prefetch depth in flight', async () => {
  const config = { dataset: 'imagenet' as const, dataDir: temp.folder, imageSize: 32, onDecodeError: 'fail' as const };
  const inMemory = await loadRunTestSet(config, null, 1);
  expect(inMemory.count).toBe(2000);
  const model = Model.create({ architecture: 'smallcnn', inputShape: [3, 32, 32], classNames: inMemory.classNames, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], device: 'cpu' });
  // The last layer starts at zero (every prediction class 0): seeded weights make the predictions vary.
  const state = await model.state();
  const last = state['classifier.fc3.weight'].data;
  const weights = new Float32Array(last.buffer, last.byteOffset, last.byteLength / 4);
  const random = seededRandom(7);
  for (let i = 0; i < weights.length; i++) weights[i] = random() - 0.5;
  await model.loadState(state);
  const options = { attack: { kind: 'fgsm' as const, eps: 4 / 255, randomStart: false }, batchSize: 16, precision: 'fp32' as const, memoryFormat: 'contiguous' as const };
  const whole = await evaluate(model, inMemory, options);
  const streamed = streamRunTestSet(config, CHUNK);
  // Chunks assembled ahead of the one being evaluated, seen as each is handed over.
  let chunks = 0;
  const ahead: number[] = [];
  async function* counted() {
    for await (const chunk of streamed.chunks) {
      chunks++;
      ahead.push(streamed.ahead());
      yield chunk;
    }
  }
  const result = await evaluateStream(model, streamed.data, counted(), options);
  const chunkCount = Math.ceil(inMemory.count / CHUNK);
  expect(chunks).toBe(chunkCount);
  // Memory stays at the prefetch depth: exactly that many chunks ahead until the last ones drain.
  expect(ahead).toEqual(Array.from({ length: chunkCount }, (_, k) => Math.min(EVALUATION_PREFETCH_CHUNKS, chunkCount - k - 1)));
  expect(result.counts).toEqual(whole.counts);
  expect(result.cleanConfusion).toEqual(whole.cleanConfusion);
  expect(result.adversarialConfusion).toEqual(whole.adversarialConfusion);
  expect(result.cleanAccuracy).toEqual(whole.cleanAccuracy);
  expect(result.robustAccuracy).toEqual(whole.robustAccuracy);
  expect(Array.from(result.cleanPredictions)).toEqual(Array.from(whole.cleanPredictions));
  expect(Array.from(result.adversarialPredictions)).toEqual(Array.from(whole.adversarialPredictions));
  result.meanLoss.forEach((loss, k) => expect(loss).toBeCloseTo(whole.meanLoss[k], 9));
  // Not a trivial agreement: more than one class is predicted.
  expect(new Set(whole.cleanPredictions).size).toBeGreaterThan(1);
});
