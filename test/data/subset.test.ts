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
