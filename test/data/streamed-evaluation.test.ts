/**
 * Streamed evaluation of a whole 2,000-image ImageNet val split (run/data.ts streamRunTestSet + evaluateStream) against the
 * in-memory evaluation of the same split: counts, confusion matrices and predictions equal exactly.
 */
import { evaluate, evaluateStream } from '../../src/evaluate';
import { EVALUATION_PREFETCH_CHUNKS, loadRunTestSet, streamRunTestSet } from '../../src/run/data';
import { seededSmallCnn, writeColourJpegs } from '../helpers/imagenet-fixture';
import { makeTempFolder } from './idx-fixtures';

// 2,000 images: enough chunks (32 of 64) that prefetching, ordering and the last partial chunk are all exercised.
const CLASSES = ['n01', 'n02', 'n03', 'n04'];
const PER_CLASS = 500;
const CHUNK = 64;
let temp: ReturnType<typeof makeTempFolder>;

beforeAll(async () => {
  temp = makeTempFolder();
  await writeColourJpegs(temp.folder, 'val', CLASSES, PER_CLASS);
});
afterAll(() => temp.remove());

test('a streamed val split gives the in-memory evaluation exactly, with at most the prefetch depth in flight', async () => {
  const config = { dataset: 'imagenet' as const, dataDir: temp.folder, imageSize: 32, onDecodeError: 'fail' as const };
  const inMemory = await loadRunTestSet(config, null, 1);
  expect(inMemory.count).toBe(2000);
  const model = await seededSmallCnn(inMemory.classNames);
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
