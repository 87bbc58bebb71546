import type { ImageDataset } from '../../src/data/dataset';
import { takeFirst, takePerClass } from '../../src/data/subset';
import { countPerClass } from './idx-fixtures';

/** 3 classes with 5, 3 and 1 examples; each 1x1x2 image holds [index, label] so copies can be traced. */
function labelledDataset(): ImageDataset {
  const labels = [0, 1, 0, 2, 0, 1, 0, 1, 0];
  return {
    name: 'toy',
    split: 'train',
    images: Uint8Array.from(labels.flatMap((label, index) => [index, label])),
    labels: Int32Array.from(labels),
    shape: [1, 1, 2],
    classNames: ['a', 'b', 'c'],
    count: labels.length,
    source: 'toy',
  };
}

describe('takePerClass', () => {
  const dataset = labelledDataset();

  it('keeps at most perClass examples of each class, all of a smaller class', () => {
    const subset = takePerClass(dataset, 2, 1);
    expect(countPerClass(subset.labels, 3)).toEqual([2, 2, 1]);
    expect(subset.count).toBe(5);
    expect(subset.images.length).toBe(5 * 2);
  });

  it('copies each image with its own label', () => {
    const subset = takePerClass(dataset, 4, 1);
    for (let position = 0; position < subset.count; position++) {
      const [originalIndex, labelInImage] = subset.images.subarray(position * 2, position * 2 + 2);
      expect(subset.labels[position]).toBe(labelInImage);
      expect(dataset.labels[originalIndex]).toBe(labelInImage);
    }
    expect(new Set(Array.from(subset.labels.keys(), (position) => subset.images[position * 2])).size).toBe(subset.count);
  });

  it('chooses the same examples for the same seed and others for another seed', () => {
    const originalIndices = (subset: ImageDataset) => Array.from(subset.labels.keys(), (position) => subset.images[position * 2]);
    expect(originalIndices(takePerClass(dataset, 2, 5))).toEqual(originalIndices(takePerClass(dataset, 2, 5)));
    const seeds = [1, 2, 3, 4, 5, 6].map((seed) => originalIndices(takePerClass(dataset, 2, seed)).join(','));
    expect(new Set(seeds).size).toBeGreaterThan(1);
  });

  it('leaves the source dataset untouched and records the selection in source', () => {
    const before = Array.from(dataset.images);
    const subset = takePerClass(dataset, 1, 9);
    subset.images.fill(99);
    expect(Array.from(dataset.images)).toEqual(before);
    expect(subset.source).toBe('toy; 1 per class (seed 9)');
    expect(subset).toMatchObject({ name: 'toy', split: 'train', shape: [1, 1, 2], classNames: ['a', 'b', 'c'] });
  });

  it('rejects a negative perClass', () => {
    expect(() => takePerClass(dataset, -1, 1)).toThrow(new RangeError('perClass must be a non-negative integer, got -1'));
  });
});

describe('takeFirst', () => {
  const dataset = labelledDataset();

  it('keeps the first n examples in order', () => {
    const firstThree = takeFirst(dataset, 3);
    expect(firstThree.count).toBe(3);
    expect(Array.from(firstThree.labels)).toEqual([0, 1, 0]);
    expect(Array.from(firstThree.images)).toEqual([0, 0, 1, 1, 2, 0]);
    expect(firstThree.source).toBe('toy; first 3');
  });

  it('keeps everything when n exceeds the count', () => {
    expect(takeFirst(dataset, 100).count).toBe(9);
  });
});

describe('restrictToClasses', () => {
  const { restrictToClasses } = require('../../src/data/subset') as typeof import('../../src/data/subset');
  const { loadMnistSample } = require('../../src/data/mnist') as typeof import('../../src/data/mnist');
  const digits = loadMnistSample('test');

  test('keeps the chosen classes, by name or index, with labels remapped in the order given', () => {
    const subset = restrictToClasses(digits, ['7', 1]);
    expect(subset.classNames).toEqual(['7', '1']);
    expect(subset.originalClass).toEqual([7, 1]);
    const originalCounts = [7, 1].map((k) => digits.labels.filter((label) => label === k).length);
    expect(subset.count).toBe(originalCounts[0] + originalCounts[1]);
    expect(subset.labels.filter((label) => label === 0).length).toBe(originalCounts[0]);
    expect(new Set(subset.labels)).toEqual(new Set([0, 1]));
  });

  test('an unknown class is named with the accepted ones', () => {
    expect(() => restrictToClasses(digits, ['seven'])).toThrow('class "seven" is not a class of mnist; accepted: 0..9 or "0", "1", "2", "3", "4", "5", "6", "7", "8", "9"');
    expect(() => restrictToClasses(digits, [3, '3'])).toThrow('classes [3,"3"] name a class twice');
  });
});
