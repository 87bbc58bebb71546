/**
 * Training on streamed data (decoded chunk by chunk through a bounded prefetch queue): same result as the
 * in-memory path for a one-chunk epoch, reproducible for a seed, memory bounded, skipped files tolerated.
 */
import { loadMnistSample, selectExamples, StreamedTrainData, takePerClass, train } from '../../src';
import { mnistModel } from '../helpers/mnist-model';
import { MIN_BATCHES_AHEAD } from '../../src/train/trainer';

const data = takePerClass(loadMnistSample('train'), 12, 0);
const BATCH = 16;
const OPTIONS = { method: 'pgd' as const, epochs: 2, schedule: { kind: 'constant' as const, lr: 0.05 }, attack: { kind: 'pgd' as const, eps: 0.3, steps: 2 }, batchSize: BATCH, seed: 4 };

/** Streams `data` from memory, recording how far loading runs ahead of training. */
function streamed(options: { dropEvery?: number } = {}): StreamedTrainData & { loads: number[] } {
  const loads: number[] = [];
  return {
    count: data.count,
    loads,
    load: async (indices) => {
      loads.push(indices.length);
      const kept = Array.from(indices).filter((_, k) => !options.dropEvery || k % options.dropEvery !== 1);
      const chunk = selectExamples(data, kept, 'chunk');
      return { images: chunk.images, labels: chunk.labels, count: chunk.count };
    },
  };
}

async function weightsAfter(source: Parameters<typeof train>[1], extra: Partial<Parameters<typeof train>[2]> = {}): Promise<{ weights: Buffer; losses: number[] }> {
  const model = mnistModel(2);
  const records = await train(model, source, { ...OPTIONS, ...extra });
  const state = await model.state();
  return { weights: Buffer.from(state['classifier.fc3.weight'].data), losses: records.map((r) => r.trainLoss) };
}

test('a one-chunk streamed epoch trains exactly as the in-memory path', async () => {
  const inMemory = await weightsAfter(data);
  const oneChunk = await weightsAfter(streamed(), { chunkBatches: 100 });
  expect(oneChunk.losses).toEqual(inMemory.losses);
  expect(oneChunk.weights.equals(inMemory.weights)).toBe(true);
});

test('several chunks: reproducible for a seed, every example seen once per epoch', async () => {
  const source = streamed();
  const first = await weightsAfter(source, { chunkBatches: 2 });
  const again = await weightsAfter(streamed(), { chunkBatches: 2 });
  expect(again.weights.equals(first.weights)).toBe(true);
  // 120 examples, chunks of 32: 32, 32, 32, 24 per epoch.
  expect(source.loads).toEqual([32, 32, 32, 24, 32, 32, 32, 24]);
});

test('loading runs at most `prefetchChunks` ahead of training', async () => {
  let requested = 0;
  let trained = 0;
  let mostAhead = 0;
  const source = streamed();
  const tracking: StreamedTrainData = {
    count: source.count,
    load: async (indices, seed) => {
      requested++;
      mostAhead = Math.max(mostAhead, requested - trained);
      return source.load(indices, seed);
    },
  };
  await train(mnistModel(2), tracking, { ...OPTIONS, epochs: 1, chunkBatches: 1, prefetchChunks: 2, onProgress: (_, p) => (trained = Math.floor(p.done / BATCH)) });
  expect(requested).toBe(8);
  expect(mostAhead).toBeLessThanOrEqual(3);
});

test('by default at least three batches are decoded ahead of the one training, even with one-batch chunks', async () => {
  let requested = 0;
  let aheadAtFirstStep: number | undefined;
  const source = streamed();
  const tracking: StreamedTrainData = {
    count: source.count,
    load: async (indices, seed) => {
      requested++;
      return source.load(indices, seed);
    },
  };
  await train(mnistModel(2), tracking, {
    ...OPTIONS, epochs: 1, chunkBatches: 1,
    // While chunk 0 trains, the loads beyond it are the batches assembled ahead.
    onProgress: () => (aheadAtFirstStep ??= requested - 1),
  });
  expect(aheadAtFirstStep).toBe(MIN_BATCHES_AHEAD);
  expect(MIN_BATCHES_AHEAD).toBe(3);
});

test('chunks with skipped files train on exactly what was decoded, and the wait for data is measured', async () => {
  const model = mnistModel(2);
  const [record] = await train(model, streamed({ dropEvery: 5 }), { ...OPTIONS, epochs: 1, chunkBatches: 2 });
  // Chunks of 32, 32, 32, 24 lose the examples at positions 1, 6, 11, ...: 7, 7, 7 and 5 of them.
  const decoded = [32, 32, 32, 24].map((size) => size - Math.ceil((size - 1) / 5)).reduce((a, b) => a + b, 0);
  expect(decoded).toBe(94);
  expect(Math.round(record.imagesPerSecond * record.trainSeconds)).toBe(decoded);
  expect(Number.isFinite(record.trainLoss)).toBe(true);
  expect(record.dataWaitSeconds).toBeGreaterThan(0);
});
