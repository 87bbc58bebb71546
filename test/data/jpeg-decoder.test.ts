import * as fs from 'node:fs';
import * as path from 'node:path';

import sharp from 'sharp';

import { decodeBatch, loadImageFolder } from '../../src/data';
import type { ImageFolderDataset } from '../../src/data';
import { nativeJpegDecoding, setDataThreads } from '../../src/data/imagenet';
import { makeTempFolder } from './idx-fixtures';

const CLASSES = ['n01440764', 'n01443537'];

/** A smooth RGB scene (gradients and low-frequency waves), as photographs are at the scale a resize sees. */
function scene(width: number, height: number, variant: number): Buffer {
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const at = (y * width + x) * 3;
      pixels[at] = Math.round(127 + 100 * Math.sin((x + 13 * variant) / 23) * Math.cos(y / 31));
      pixels[at + 1] = Math.round((255 * x) / width);
      pixels[at + 2] = Math.round(127 + 120 * Math.sin((x + y + 7 * variant) / 41));
    }
  }
  return pixels;
}

async function writeJpeg(file: string, width: number, height: number, variant: number, colour: 'rgb' | 'grey' | 'cmyk' = 'rgb'): Promise<void> {
  let image = sharp(scene(width, height, variant), { raw: { width, height, channels: 3 } });
  if (colour === 'grey') image = image.greyscale();
  if (colour === 'cmyk') image = image.toColourspace('cmyk');
  await image.jpeg({ quality: 95 }).toFile(file);
}

/** Mean and largest absolute difference of two batches. */
function difference(a: Uint8Array, b: Uint8Array): { mean: number; max: number; over2: number } {
  expect(a.length).toBe(b.length);
  let sum = 0;
  let max = 0;
  let over2 = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    sum += d;
    max = Math.max(max, d);
    if (d > 2) over2++;
  }
  return { mean: sum / a.length, max, over2: over2 / a.length };
}

let temp: ReturnType<typeof makeTempFolder>;
let train: ImageFolderDataset;
beforeAll(async () => {
  temp = makeTempFolder();
  const sizes: [number, number][] = [[500, 375], [375, 500], [333, 250], [1000, 750], [120, 90], [640, 480]];
  for (const [c, wnid] of CLASSES.entries()) {
    const folder = path.join(temp.folder, 'train', wnid);
    fs.mkdirSync(folder, { recursive: true });
    for (const [k, [width, height]] of sizes.entries()) await writeJpeg(path.join(folder, `${wnid}_${k}.JPEG`), width, height, c * 10 + k);
  }
  train = loadImageFolder('train', temp.folder, { imageSize: 64 });
});
afterAll(() => temp.remove());

/** A one-class dataset of the given files, for the special cases. */
function datasetOf(files: string[], imageSize = 64): ImageFolderDataset {
  return { ...train, files, labels: new Int32Array(files.length), count: files.length, shape: [3, imageSize, imageSize] };
}

describe('native JPEG decoding (libjpeg-turbo on native threads)', () => {
  test('this build has libjpeg-turbo', () => {
    expect(nativeJpegDecoding()).toBe(true);
  });

  test('evaluation: resize + center crop agrees with the sharp path (mean difference under 1 level)', async () => {
    const indices = Int32Array.from({ length: train.count }, (_, i) => i);
    const native = await decodeBatch(train, indices, { augment: false, decoder: 'native', threads: 2 });
    const reference = await decodeBatch(train, indices, { augment: false, decoder: 'sharp' });
    expect(Array.from(native.labels)).toEqual(Array.from(reference.labels));
    const { mean, over2 } = difference(native.images, reference.images);
    expect(mean).toBeLessThan(1);
    // libvips' Lanczos reduction is not ours to the last bit: at the 10x reduction of 1000x750 to 64 a sixth of that
    // image's pixels differ by 3-5 levels (mean 1.1); at the 1.7x of 500x375 to 224 nearly none do.
    expect(over2).toBeLessThan(0.05);
  });

  test('training: the same random-resized crops and flips as the sharp path, for a seed', async () => {
    const indices = Int32Array.from([3, 0, 7, 11, 5, 2, 9]);
    for (const seed of [0, 12345]) {
      const native = await decodeBatch(train, indices, { augment: true, seed, decoder: 'native', threads: 3 });
      const reference = await decodeBatch(train, indices, { augment: true, seed, decoder: 'sharp' });
      const { mean, over2 } = difference(native.images, reference.images);
      expect(mean).toBeLessThan(1);
      expect(over2).toBeLessThan(0.01);
    }
  });

  test('decoding only the crop\'s rows and columns gives the bytes of a whole decode and the same crop', async () => {
    // 4:2:0 and 4:4:4 chroma, odd sizes, progressive, grayscale; the large one and the small outputs reach the DCT
    // scales 1/2 to 1/8 and, at 8x8, the box shrink after them.
    const fixtures: [string, number, number, { chromaSubsampling?: string; progressive?: boolean; grey?: boolean }][] = [
      ['s420.JPEG', 517, 383, { chromaSubsampling: '4:2:0' }],
      ['s444.JPEG', 517, 383, { chromaSubsampling: '4:4:4' }],
      ['progressive.JPEG', 383, 517, { chromaSubsampling: '4:2:0', progressive: true }],
      ['grey-odd.JPEG', 301, 211, { grey: true }],
      ['large.JPEG', 1031, 769, { chromaSubsampling: '4:2:0' }],
    ];
    const files: string[] = [];
    for (const [k, [name, width, height, options]] of fixtures.entries()) {
      const file = path.join(temp.folder, name);
      let image = sharp(scene(width, height, 20 + k), { raw: { width, height, channels: 3 } });
      if (options.grey) image = image.greyscale();
      await image.jpeg({ quality: 90, chromaSubsampling: options.chromaSubsampling, progressive: options.progressive }).toFile(file);
      files.push(file);
    }
    const repeats = 16;
    const list = Array.from({ length: files.length * repeats }, (_, i) => files[i % files.length]);
    const indices = Int32Array.from(list, (_, i) => i);
    const { nativeAddon } = require('../../src/native') as typeof import('../../src/native');
    for (const size of [224, 64, 8]) {
      for (const [augment, seed] of [[false, 0], [true, 0], [true, 1], [true, 77]] as [boolean, number][]) {
        const region = new Uint8Array(list.length * 3 * size * size);
        const whole = new Uint8Array(region.length);
        const settings = { size, augment, seed, indices, threads: 2 };
        const regionStatus = await nativeAddon().decodeImageBatch(list, region, settings);
        const wholeStatus = await nativeAddon().decodeImageBatch(list, whole, { ...settings, decodeWholeImage: true });
        expect(regionStatus.reasons.filter((reason) => reason !== '')).toEqual([]);
        expect(Array.from(regionStatus.status).every((status) => status === 0)).toBe(true);
        expect(Array.from(wholeStatus.status).every((status) => status === 0)).toBe(true);
        const imageBytes = 3 * size * size;
        const differing = list.map((file, k) => ({ file: path.basename(file), k })).filter(({ k }) =>
          !Buffer.from(region.subarray(k * imageBytes, (k + 1) * imageBytes)).equals(Buffer.from(whole.subarray(k * imageBytes, (k + 1) * imageBytes))));
        expect({ size, augment, seed, differing }).toEqual({ size, augment, seed, differing: [] });
      }
    }
  });

  test('the result does not depend on the thread count or the order of the batch', async () => {
    const one = await decodeBatch(train, [0, 1, 2, 3], { augment: true, seed: 7, decoder: 'native', threads: 1 });
    const four = await decodeBatch(train, [3, 2, 1, 0], { augment: true, seed: 7, decoder: 'native', threads: 4 });
    const imageBytes = 3 * 64 * 64;
    for (let k = 0; k < 4; k++) {
      expect(Buffer.from(four.images.subarray((3 - k) * imageBytes, (4 - k) * imageBytes)).equals(Buffer.from(one.images.subarray(k * imageBytes, (k + 1) * imageBytes)))).toBe(true);
    }
  });

  test('batches decoded at the same time share the pool without mixing their images', async () => {
    const first = [0, 2, 4, 6, 8, 10];
    const second = [1, 3, 5, 7, 9, 11];
    const [a, b] = await Promise.all([
      decodeBatch(train, first, { augment: true, seed: 3, decoder: 'native', threads: 2 }),
      decodeBatch(train, second, { augment: true, seed: 3, decoder: 'native', threads: 2 }),
    ]);
    const alone = await decodeBatch(train, [...first, ...second], { augment: true, seed: 3, decoder: 'native', threads: 1 });
    expect(Buffer.from(a.images).equals(Buffer.from(alone.images.subarray(0, a.images.length)))).toBe(true);
    expect(Buffer.from(b.images).equals(Buffer.from(alone.images.subarray(a.images.length)))).toBe(true);
  });

  test('a missing file is a decode error naming it', async () => {
    const missing = path.join(temp.folder, 'gone.JPEG');
    await expect(decodeBatch(datasetOf([missing]), [0], { augment: false, decoder: 'native' })).rejects.toMatchObject({
      code: 'ERR_DATASET_CORRUPT',
      message: expect.stringContaining(`${missing} could not be decoded (`),
    });
  });

  test('--data-threads outside [1, 256] is refused by name', () => {
    expect(() => setDataThreads(0)).toThrow(/^--data-threads must be an integer in \[1, 256\], got 0; pass e\.g\. --data-threads \d+$/);
  });

  test('grayscale JPEG decodes natively to equal R, G and B planes; CMYK and a PNG named .JPEG go through sharp', async () => {
    const grey = path.join(temp.folder, 'grey.JPEG');
    const cmyk = path.join(temp.folder, 'cmyk.JPEG');
    const png = path.join(temp.folder, 'png.JPEG');
    await writeJpeg(grey, 300, 200, 1, 'grey');
    await writeJpeg(cmyk, 300, 200, 2, 'cmyk');
    await sharp(scene(300, 200, 3), { raw: { width: 300, height: 200, channels: 3 } }).png().toFile(png);
    const dataset = datasetOf([grey, cmyk, png]);
    const { nativeAddon } = require('../../src/native') as typeof import('../../src/native');
    const direct = await nativeAddon().decodeImageBatch([grey, cmyk, png], new Uint8Array(3 * 3 * 64 * 64), { size: 64, augment: false, seed: 0, indices: Int32Array.from([0, 1, 2]), threads: 1 });
    expect(Array.from(direct.status)).toEqual([0, 1, 1]);
    expect(direct.reasons.slice(1)).toEqual(['a CMYK JPEG', 'not a JPEG stream']);
    const native = await decodeBatch(dataset, [0, 1, 2], { augment: false, decoder: 'native' });
    const reference = await decodeBatch(dataset, [0, 1, 2], { augment: false, decoder: 'sharp' });
    expect(native.count).toBe(3);
    const imageBytes = 3 * 64 * 64;
    const plane = 64 * 64;
    const greyImage = native.images.subarray(0, imageBytes);
    expect(Buffer.from(greyImage.subarray(0, plane)).equals(Buffer.from(greyImage.subarray(plane, 2 * plane)))).toBe(true);
    expect(difference(greyImage, reference.images.subarray(0, imageBytes)).mean).toBeLessThan(1);
    // The fallback runs sharp itself: identical bytes.
    expect(Buffer.from(native.images.subarray(imageBytes)).equals(Buffer.from(reference.images.subarray(imageBytes)))).toBe(true);
  });

  test('a header declaring more pixels than the ceiling is refused without allocating them', async () => {
    // A real JPEG whose frame header (SOF0/SOF2: marker, length, precision, height, width) says 30000 x 30000.
    const bytes = Buffer.from(fs.readFileSync(train.files[0]));
    let sof = -1;
    for (let i = 2; i + 9 < bytes.length && sof < 0; i++) if (bytes[i] === 0xff && (bytes[i + 1] === 0xc0 || bytes[i + 1] === 0xc2)) sof = i;
    expect(sof).toBeGreaterThan(0);
    bytes.writeUInt16BE(30000, sof + 5);
    bytes.writeUInt16BE(30000, sof + 7);
    const huge = path.join(temp.folder, 'huge.JPEG');
    fs.writeFileSync(huge, bytes);
    const { nativeAddon } = require('../../src/native') as typeof import('../../src/native');
    const peakBefore = process.resourceUsage().maxRSS;
    const direct = await nativeAddon().decodeImageBatch([huge], new Uint8Array(3 * 64 * 64), { size: 64, augment: false, seed: 0, indices: Int32Array.from([0]), threads: 1 });
    expect(Array.from(direct.status)).toEqual([1]);
    expect(direct.reasons).toEqual(["30000x30000 pixels, above the decoder's ceiling of 268402689"]);
    // sharp, the fallback, keeps the same limit: the file is a decode error, never 2.7 GB of RGB.
    await expect(decodeBatch(datasetOf([huge]), [0], { augment: false, decoder: 'native' })).rejects.toMatchObject({ code: 'ERR_DATASET_CORRUPT' });
    expect(process.resourceUsage().maxRSS - peakBefore).toBeLessThan(256 * 1024);
  });

  test('a corrupt file stops the batch naming it, or is skipped under onDecodeError skip', async () => {
    const broken = path.join(temp.folder, 'broken.JPEG');
    const good = train.files[0];
    fs.writeFileSync(broken, Buffer.concat([fs.readFileSync(good).subarray(0, 600), Buffer.alloc(64, 0x5a)]));
    const empty = path.join(temp.folder, 'empty.JPEG');
    fs.writeFileSync(empty, '');
    const dataset = { ...datasetOf([good, broken, empty, good]), labels: Int32Array.from([4, 5, 6, 7]) };
    await expect(decodeBatch(dataset, [0, 1, 2, 3], { augment: false, decoder: 'native' })).rejects.toMatchObject({
      code: 'ERR_DATASET_CORRUPT',
      message: expect.stringMatching(new RegExp(`^${broken.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} could not be decoded \\(.*\\); expected a JPEG/PNG image. Remove or replace the file, or pass --on-decode-error skip to skip such files with a warning$`)),
    });
    const batch = await decodeBatch(dataset, [0, 1, 2, 3], { augment: false, decoder: 'native', onDecodeError: 'skip' });
    expect(batch.count).toBe(2);
    expect(Array.from(batch.labels)).toEqual([4, 7]);
    expect(batch.skipped.map((s) => s.file)).toEqual([broken, empty]);
    const imageBytes = 3 * 64 * 64;
    expect(batch.images.length).toBe(2 * imageBytes);
    expect(Buffer.from(batch.images.subarray(0, imageBytes)).equals(Buffer.from(batch.images.subarray(imageBytes)))).toBe(true);
  });

  test('bad arguments are one-line errors, not crashes', () => {
    const { nativeAddon } = require('../../src/native') as typeof import('../../src/native');
    expect(() => nativeAddon().decodeImageBatch(['a'], new Uint8Array(10), { size: 64, augment: false, seed: 0, indices: Int32Array.from([0]), threads: 1 })).toThrow(
      'decodeImageBatch: out has 10 bytes, 1 images of 3x64x64 need 12288',
    );
    expect(() => nativeAddon().decodeImageBatch(['a'], new Uint8Array(12288), { size: 64, augment: false, seed: 0, indices: new Int32Array(2), threads: 1 })).toThrow(
      'decodeImageBatch options.indices must be an Int32Array of files.length (1)',
    );
  });
});
