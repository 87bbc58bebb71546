import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import type { ImageDataset } from '../../src/data/dataset';
import { FASHION_MNIST_CLASSES, FASHION_MNIST_DEFAULT_DIR, loadFashionMnist } from '../../src/data/fashion-mnist';
import { countPerClass, makeTempFolder, sameBytes, thrownBy } from './idx-fixtures';

// These tests read the real files of Debian's dataset-fashion-mnist package.
const PIXELS_PER_IMAGE = 28 * 28;
const ANKLE_BOOT = 9;
const FOUR_FILES =
  'train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]';
const INSTALL_HINT = "install Debian's dataset-fashion-mnist or pass --data-dir";

/** Gunzips one of the installed files into `folder`, as `name` (cut to `keepBytes` if given). */
function extractInstalledFile(folder: string, name: string, keepBytes?: number): string {
  const bytes = zlib.gunzipSync(fs.readFileSync(path.join(FASHION_MNIST_DEFAULT_DIR, `${name}.gz`)));
  const target = path.join(folder, name);
  fs.writeFileSync(target, keepBytes === undefined ? bytes : bytes.subarray(0, keepBytes));
  return target;
}

describe('loadFashionMnist on the installed files', () => {
  let train: ImageDataset;
  let test: ImageDataset;
  beforeAll(() => {
    train = loadFashionMnist('train');
    test = loadFashionMnist('test');
  });

  it('reads 60,000 train images of 1x28x28 bytes with 6,000 of each of the 10 classes', () => {
    expect(train).toMatchObject({ name: 'fashion-mnist', split: 'train', count: 60000, shape: [1, 28, 28] });
    expect(train.images.length).toBe(60000 * PIXELS_PER_IMAGE);
    expect(train.labels.length).toBe(60000);
    expect(countPerClass(train.labels, 10)).toEqual(new Array(10).fill(6000));
  });

  it('reads 10,000 test images with 1,000 of each class', () => {
    expect(test).toMatchObject({ name: 'fashion-mnist', split: 'test', count: 10000, shape: [1, 28, 28] });
    expect(test.images.length).toBe(10000 * PIXELS_PER_IMAGE);
    expect(countPerClass(test.labels, 10)).toEqual(new Array(10).fill(1000));
  });

  it('starts both splits with an ankle boot, as the published files do', () => {
    expect(train.labels[0]).toBe(ANKLE_BOOT);
    expect(test.labels[0]).toBe(ANKLE_BOOT);
    expect(train.classNames[ANKLE_BOOT]).toBe('Ankle boot');
  });

  it('names the classes in label order', () => {
    expect(train.classNames).toEqual([...FASHION_MNIST_CLASSES]);
    expect(FASHION_MNIST_CLASSES).toEqual([
      'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
    ]);
  });

  it('holds real pixels: full 0..255 range, mostly dark background', () => {
    let darkPixels = 0;
    let brightest = 0;
    for (const pixel of test.images) {
      if (pixel === 0) darkPixels++;
      if (pixel > brightest) brightest = pixel;
    }
    expect(brightest).toBe(255);
    expect(darkPixels / test.images.length).toBeGreaterThan(0.4);
  });

  it('names the files read in source', () => {
    expect(test.source).toBe(
      `${FASHION_MNIST_DEFAULT_DIR}/t10k-images-idx3-ubyte.gz, ${FASHION_MNIST_DEFAULT_DIR}/t10k-labels-idx1-ubyte.gz`,
    );
  });

  it('reads uncompressed copies of the files to the same images and labels', () => {
    const temp = makeTempFolder();
    try {
      extractInstalledFile(temp.folder, 't10k-images-idx3-ubyte');
      extractInstalledFile(temp.folder, 't10k-labels-idx1-ubyte');

      const fromPlainFiles = loadFashionMnist('test', temp.folder);

      expect(sameBytes(fromPlainFiles.images, test.images)).toBe(true);
      expect(Array.from(fromPlainFiles.labels)).toEqual(Array.from(test.labels));
      expect(fromPlainFiles.shape).toEqual(test.shape);
    } finally {
      temp.remove();
    }
  });
});

describe('loadFashionMnist on damaged or missing files', () => {
  let temp: ReturnType<typeof makeTempFolder>;
  beforeEach(() => {
    temp = makeTempFolder();
  });
  afterEach(() => temp.remove());

  it('reports a truncated images file with the sizes the header promised and the file holds', () => {
    const headerBytes = 16;
    const imagesPath = extractInstalledFile(temp.folder, 't10k-images-idx3-ubyte', headerBytes + 1234);
    extractInstalledFile(temp.folder, 't10k-labels-idx1-ubyte');

    expect(() => loadFashionMnist('test', temp.folder)).toThrow(
      `${imagesPath} is truncated: header says 10000x28x28 = 7840000 bytes of data, file has 1234 ` +
        '(re-download or re-extract it)',
    );
  });

  it('reports a file with the wrong magic number', () => {
    const imagesPath = extractInstalledFile(temp.folder, 't10k-images-idx3-ubyte');
    extractInstalledFile(temp.folder, 't10k-labels-idx1-ubyte');
    const bytes = fs.readFileSync(imagesPath);
    bytes.writeUInt32BE(0x12345678, 0);
    fs.writeFileSync(imagesPath, bytes);

    expect(() => loadFashionMnist('test', temp.folder)).toThrow(
      `${imagesPath} has magic number 0x12345678, expected 0x00000803 (unsigned-byte IDX with 3 dimensions); ` +
        'is it an IDX file?',
    );
  });

  it('reports a gzipped file cut short, as a partial download leaves it', () => {
    const gzipped = fs.readFileSync(path.join(FASHION_MNIST_DEFAULT_DIR, 't10k-labels-idx1-ubyte.gz'));
    const labelsPath = path.join(temp.folder, 't10k-labels-idx1-ubyte.gz');
    fs.writeFileSync(labelsPath, gzipped.subarray(0, 2000));
    extractInstalledFile(temp.folder, 't10k-images-idx3-ubyte');

    const error = thrownBy(() => loadFashionMnist('test', temp.folder));

    expect(error.code).toBe('ERR_DATASET_CORRUPT');
    expect(error.message).toBe(
      `${labelsPath} is a corrupt or truncated gzip stream (zlib: unexpected end of file); re-download it`,
    );
  });

  it('reports images and labels from different splits', () => {
    const imagesPath = extractInstalledFile(temp.folder, 't10k-images-idx3-ubyte');
    const labelsPath = path.join(temp.folder, 't10k-labels-idx1-ubyte.gz');
    fs.copyFileSync(path.join(FASHION_MNIST_DEFAULT_DIR, 'train-labels-idx1-ubyte.gz'), labelsPath);

    expect(() => loadFashionMnist('test', temp.folder)).toThrow(
      `Fashion-MNIST test split is inconsistent: ${imagesPath} holds 10000 images ` +
        `but ${labelsPath} holds 60000 labels (are both files from the same download?)`,
    );
  });

  it('names a missing folder, the files expected in it and how to get them', () => {
    const missingFolder = path.join(temp.folder, 'x');

    const error = thrownBy(() => loadFashionMnist('train', missingFolder));

    expect(error.code).toBe('ERR_DATASET_MISSING');
    expect(error.message).toBe(
      `Fashion-MNIST folder not found: ${missingFolder} (expected ${FOUR_FILES} in ${missingFolder}; ${INSTALL_HINT})`,
    );
  });

  it('names a missing file in an existing folder', () => {
    expect(() => loadFashionMnist('train', temp.folder)).toThrow(
      `Fashion-MNIST file not found: ${temp.folder}/train-images-idx3-ubyte.gz ` +
        `(expected ${FOUR_FILES} in ${temp.folder}; ${INSTALL_HINT})`,
    );
  });
});
