import * as fs from 'node:fs';
import * as path from 'node:path';

import { decodeBatch, decodeToMemory, loadFolderDataset, loadImageFolder, prefetch, restrictToClasses, takePerClass } from '../../src/data';
import { IMAGENET_FIXTURE_CLASSES, writeImageNetFolder } from './fixtures/official-formats';
import { makeTempFolder, thrownBy } from './idx-fixtures';
import { Model, train as trainModel } from '../../src';
import { streamedTrainData } from '../../src/run/data';

let temp: ReturnType<typeof makeTempFolder>;
beforeAll(async () => {
  temp = makeTempFolder();
  await writeImageNetFolder(temp.folder, 4, 2);
});
afterAll(() => temp.remove());

/** Mean of channel c over the first image of an NCHW batch. */
function channelMean(images: Uint8Array, side: number, c: number): number {
  let sum = 0;
  for (let i = 0; i < side * side; i++) sum += images[c * side * side + i];
  return sum / (side * side);
}

describe('ImageNet folder layout', () => {
  test('indexes train/<wnid>/ in sorted wnid order, names from LOC_synset_mapping.txt', () => {
    const train = loadImageFolder('train', temp.folder, { imageSize: 32 });
    expect(train.count).toBe(12);
    expect(train.classIds).toEqual(IMAGENET_FIXTURE_CLASSES.map((c) => c.wnid));
    expect(train.classNames).toEqual(['tench', 'goldfish', 'great white shark']);
    expect(Array.from(train.labels)).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
    expect(train.shape).toEqual([3, 32, 32]);
  });

  test('a flat val/ folder takes its labels from LOC_val_solution.csv', () => {
    const val = loadFolderDataset('imagenet', 'test', { dataDir: temp.folder, imageSize: 32 });
    expect(val.count).toBe(6);
    expect(Array.from(val.labels)).toEqual([0, 1, 2, 0, 1, 2]);
    expect(val.source).toContain('LOC_val_solution.csv');
  });

  test('val/<wnid>/ folders work too, and names fall back to wnids without a synset file', () => {
    const other = makeTempFolder();
    try {
      for (const split of ['train', 'val']) {
        for (const { wnid } of IMAGENET_FIXTURE_CLASSES) {
          fs.mkdirSync(path.join(other.folder, split, wnid), { recursive: true });
          fs.copyFileSync(path.join(temp.folder, 'train', wnid, `${wnid}_0.JPEG`), path.join(other.folder, split, wnid, 'a.JPEG'));
        }
      }
      const val = loadImageFolder('test', other.folder);
      expect(val.classNames).toEqual(IMAGENET_FIXTURE_CLASSES.map((c) => c.wnid));
      expect(Array.from(val.labels)).toEqual([0, 1, 2]);
    } finally {
      other.remove();
    }
  });

  test('evaluation decoding resizes and center-crops to the recipe size; colours survive', async () => {
    const val = loadImageFolder('test', temp.folder, { imageSize: 32 });
    const decoded = await decodeToMemory(val);
    expect(decoded.images.length).toBe(6 * 3 * 32 * 32);
    // Image 2 is the blue class (30, 30, 200); JPEG keeps solid colours within a few levels.
    const blue = decoded.images.subarray(2 * 3072, 3 * 3072);
    expect(Math.abs(channelMean(blue, 32, 2) - 200)).toBeLessThan(4);
    expect(Math.abs(channelMean(blue, 32, 0) - 30)).toBeLessThan(4);
  });

  test('training decoding (random-resized crop + flip) is seeded per example, whatever the batch order', async () => {
    const train = loadImageFolder('train', temp.folder, { imageSize: 16 });
    const forward = await decodeBatch(train, [0, 5, 9], { augment: true, seed: 3 });
    const backward = await decodeBatch(train, [9, 5, 0], { augment: true, seed: 3 });
    const image = 3 * 16 * 16;
    expect(Buffer.from(forward.images.subarray(0, image)).equals(Buffer.from(backward.images.subarray(2 * image)))).toBe(true);
    expect(Array.from(forward.labels)).toEqual([0, 1, 2]);
  });

  test('class subsets and N per class work on folder datasets', () => {
    const train = loadImageFolder('train', temp.folder);
    const sharks = restrictToClasses(train, ['great white shark', 0]);
    expect(sharks.classNames).toEqual(['great white shark', 'tench']);
    expect(sharks.classIds).toEqual(['n01484850', 'n01440764']);
    expect(Array.from(sharks.labels).sort()).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    expect(takePerClass(train, 1, 0).count).toBe(3);
  });

  test('a missing layout is named', () => {
    const empty = makeTempFolder();
    try {
      const error = thrownBy(() => loadImageFolder('train', empty.folder));
      expect(error.code).toBe('ERR_DATASET_MISSING');
      expect(error.message).toContain(`ImageNet: neither ${path.join(empty.folder, 'train')} nor ${path.join(empty.folder, 'val')} exists (expected under --data-dir: train/<wnid>/*.JPEG`);
    } finally {
      empty.remove();
    }
  });

  describe('a JPEG that fails to decode', () => {
    let broken: ReturnType<typeof makeTempFolder>;
    beforeAll(async () => {
      broken = makeTempFolder();
      await writeImageNetFolder(broken.folder, 2, 1);
      const bad = path.join(broken.folder, 'train', 'n01443537', 'n01443537_1.JPEG');
      fs.writeFileSync(bad, fs.readFileSync(bad).subarray(0, 40));
    });
    afterAll(() => broken.remove());

    test('is fatal by default, named by path with the option that skips it', async () => {
      const train = loadImageFolder('train', broken.folder, { imageSize: 16 });
      await expect(decodeBatch(train, [0, 1, 2, 3], { augment: true })).rejects.toThrow(
        new RegExp(`${path.join(broken.folder, 'train', 'n01443537', 'n01443537_1.JPEG')} could not be decoded \\(.*\\); expected a JPEG/PNG image.*--on-decode-error skip`),
      );
    });

    test('is skipped and reported under the skip policy', async () => {
      const train = loadImageFolder('train', broken.folder, { imageSize: 16 });
      const batch = await decodeBatch(train, [0, 1, 2, 3, 4, 5], { augment: true, onDecodeError: 'skip' });
      expect(batch.count).toBe(5);
      expect(Array.from(batch.labels)).toEqual([0, 0, 1, 2, 2]);
      expect(batch.skipped.map((s) => path.basename(s.file))).toEqual(['n01443537_1.JPEG']);
    });

    test('a streamed epoch with a skipped file counts its progress up to its own total', async () => {
      const train = loadImageFolder('train', broken.folder, { imageSize: 16 });
      const model = Model.create({ architecture: 'smallcnn', inputShape: [3, 16, 16], classNames: train.classNames, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], device: 'cpu' });
      const progress: { done: number; total: number }[] = [];
      const skipped: string[] = [];
      // 6 files, one undecodable: 5 images, and the batch of one they would leave is left out, so 4 are trained.
      await trainModel(model, streamedTrainData(train, 'skip', (file) => skipped.push(path.basename(file))), {
        method: 'standard', epochs: 1, batchSize: 2, schedule: { kind: 'constant', lr: 0.01 }, precision: 'fp32', memoryFormat: 'contiguous',
        onProgress: (_epoch, p) => progress.push({ done: p.done, total: p.total }),
      });
      expect(skipped).toEqual(['n01443537_1.JPEG']);
      expect(progress.length).toBeGreaterThan(0);
      expect(progress[progress.length - 1]).toEqual({ done: 4, total: 4 });
      expect(progress.every((p) => p.done <= p.total)).toBe(true);
    });
  });
});

describe('prefetch', () => {
  test('yields in order and keeps at most `depth` producers running', async () => {
    let running = 0;
    let most = 0;
    const producers = Array.from({ length: 6 }, (_, k) => async () => {
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, 5 * ((k * 7) % 3)));
      running--;
      return k;
    });
    const seen: number[] = [];
    for await (const value of prefetch(producers, 2)) {
      seen.push(value);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    expect(seen).toEqual([0, 1, 2, 3, 4, 5]);
    expect(most).toBeLessThanOrEqual(2);
  });
});
