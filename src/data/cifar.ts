/**
 * CIFAR-10 and CIFAR-100, "binary version" (https://www.cs.toronto.edu/~kriz/cifar.html), read from the
 * extracted folder or straight from the official .tar.gz. A record is the label byte(s) (CIFAR-100: coarse
 * then fine) followed by 3072 bytes: the 1024 red, then green, then blue pixels of a 32x32 image, row-major,
 * which is already NCHW.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { ImageDataset } from './dataset';
import { DatasetError } from './errors';
import { nameLines } from './files';
import { readTarEntries } from './tar';

const SIDE = 32;
const CHANNELS = 3;
const PIXELS_PER_IMAGE = CHANNELS * SIDE * SIDE;

export type Cifar100Labels = 'fine' | 'coarse';

interface CifarFormat {
  name: 'cifar10' | 'cifar100';
  displayName: string;
  folderName: string;
  archiveName: string;
  files: Record<ImageDataset['split'], string[]>;
  labelBytes: number;
}

const CIFAR10: CifarFormat = {
  name: 'cifar10',
  displayName: 'CIFAR-10',
  folderName: 'cifar-10-batches-bin',
  archiveName: 'cifar-10-binary.tar.gz',
  files: { train: [1, 2, 3, 4, 5].map((k) => `data_batch_${k}.bin`), test: ['test_batch.bin'] },
  labelBytes: 1,
};

const CIFAR100: CifarFormat = {
  name: 'cifar100',
  displayName: 'CIFAR-100',
  folderName: 'cifar-100-binary',
  archiveName: 'cifar-100-binary.tar.gz',
  files: { train: ['train.bin'], test: ['test.bin'] },
  labelBytes: 2,
};

function namesFileOf(format: CifarFormat, labels: Cifar100Labels): string {
  return format.name === 'cifar10' ? 'batches.meta.txt' : `${labels}_label_names.txt`;
}

function layoutOf(format: CifarFormat, labels: Cifar100Labels): string {
  const files = [...format.files.train, ...format.files.test, namesFileOf(format, labels)].join(', ');
  return `${format.archiveName}, or ${format.folderName}/ holding ${files}, or those files directly`;
}

/** Reads a file of the dataset by name, from the archive or a folder. */
type FileSource = { describe(file: string): string; read(file: string): Buffer | undefined };

function findSource(dir: string, format: CifarFormat, labels: Cifar100Labels): FileSource {
  const root = path.resolve(dir);
  const stats = fs.statSync(root, { throwIfNoEntry: false });
  const archivePath = stats?.isFile() ? root : path.join(root, format.archiveName);
  if (!stats?.isFile()) {
    for (const folder of [path.join(root, format.folderName), root]) {
      if (fs.existsSync(path.join(folder, format.files.test[0]))) {
        return {
          describe: (file) => path.join(folder, file),
          read: (file) => (fs.existsSync(path.join(folder, file)) ? fs.readFileSync(path.join(folder, file)) : undefined),
        };
      }
    }
  }
  if (!fs.existsSync(archivePath)) {
    throw new DatasetError(
      'ERR_DATASET_MISSING',
      `${format.displayName} not found in ${root} (expected under --data-dir: ${layoutOf(format, labels)}; ` +
        `download the binary version from https://www.cs.toronto.edu/~kriz/cifar.html)`,
    );
  }
  const entries = readTarEntries(archivePath);
  // Files are found by base name wherever the archive keeps them: two members of one dataset file's name would
  // make the choice silent.
  const wanted = new Set([...format.files.train, ...format.files.test, namesFileOf(format, labels)]);
  const byBaseName = new Map<string, { member: string; data: Buffer }>();
  for (const [member, data] of entries) {
    const base = path.posix.basename(member);
    if (!wanted.has(base)) continue;
    const first = byBaseName.get(base);
    if (first) {
      throw new DatasetError('ERR_DATASET_CORRUPT', `${archivePath}: the member ${member} has the name of the dataset file ${first.member}; ` +
        `the archive must hold ${base} once: download it again, or extract it and keep the right copy`);
    }
    byBaseName.set(base, { member, data });
  }
  return {
    describe: (file) => `${archivePath}:${byBaseName.get(file)?.member ?? `${format.folderName}/${file}`}`,
    read: (file) => byBaseName.get(file)?.data,
  };
}

function readOrMissing(source: FileSource, file: string, format: CifarFormat, labels: Cifar100Labels): Buffer {
  const data = source.read(file);
  if (!data) {
    throw new DatasetError(
      'ERR_DATASET_MISSING',
      `${format.displayName} file not found: ${source.describe(file)} (expected: ${layoutOf(format, labels)})`,
    );
  }
  return data;
}

/** One split of CIFAR-10 or CIFAR-100 (`labels` chooses CIFAR-100's 100 fine or 20 coarse classes). */
function loadCifar(format: CifarFormat, split: ImageDataset['split'], dir: string, labels: Cifar100Labels): ImageDataset {
  if (split !== 'train' && split !== 'test') throw new DatasetError('ERR_DATASET_UNKNOWN', `unknown split "${split}"; accepted: train, test`);
  const source = findSource(dir, format, labels);
  const namesFile = namesFileOf(format, labels);
  const classNames = nameLines(readOrMissing(source, namesFile, format, labels).toString('utf8'));
  const recordSize = format.labelBytes + PIXELS_PER_IMAGE;
  // CIFAR-100 records hold the coarse label, then the fine one.
  const labelOffset = format.name === 'cifar100' && labels === 'fine' ? 1 : 0;
  const batches = format.files[split].map((file) => ({ file, data: readOrMissing(source, file, format, labels) }));
  for (const { file, data } of batches) {
    if (data.length === 0 || data.length % recordSize !== 0) {
      throw new DatasetError(
        'ERR_DATASET_CORRUPT',
        `${source.describe(file)} has ${data.length} bytes, not a whole number of ${format.displayName} records of ${recordSize} bytes ` +
          `(${format.labelBytes} label byte${format.labelBytes > 1 ? 's' : ''} + 3072 pixel bytes); the file is truncated or not the binary version, download it again`,
      );
    }
  }
  const count = batches.reduce((sum, { data }) => sum + data.length / recordSize, 0);
  const images = new Uint8Array(count * PIXELS_PER_IMAGE);
  const labelArray = new Int32Array(count);
  let index = 0;
  for (const { file, data } of batches) {
    for (let record = 0; record < data.length; record += recordSize, index++) {
      const label = data[record + labelOffset];
      if (label >= classNames.length) {
        throw new DatasetError(
          'ERR_DATASET_CORRUPT',
          `${source.describe(file)}: record ${record / recordSize} has ${labels === 'coarse' && format.name === 'cifar100' ? 'coarse ' : ''}label ${label}, ` +
            `expected 0..${classNames.length - 1} (${classNames.length} names in ${namesFile}); is the file from the same download?`,
        );
      }
      labelArray[index] = label;
      images.set(data.subarray(record + format.labelBytes, record + recordSize), index * PIXELS_PER_IMAGE);
    }
  }
  return {
    name: format.name,
    split,
    images,
    labels: labelArray,
    shape: [CHANNELS, SIDE, SIDE],
    classNames,
    count,
    source:
      (batches.length > 1 ? `${source.describe(batches[0].file)} .. ${batches[batches.length - 1].file}` : source.describe(batches[0].file)) +
      (format.name === 'cifar100' ? ` (${labels} labels)` : ''),
  };
}

export function loadCifar10(split: ImageDataset['split'], dir: string): ImageDataset {
  return loadCifar(CIFAR10, split, dir, 'fine');
}

export function loadCifar100(split: ImageDataset['split'], dir: string, labels: Cifar100Labels = 'fine'): ImageDataset {
  return loadCifar(CIFAR100, split, dir, labels);
}
