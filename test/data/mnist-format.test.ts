import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { loadIdxSplit, type IdxDatasetDescription } from '../../src/data/mnist-format';
import { encodeIdx, makeTempFolder, thrownBy, writeTinySplit } from './idx-fixtures';

const THREE_CLASSES: IdxDatasetDescription = {
  name: 'tiny',
  displayName: 'Tiny',
  classNames: ['a', 'b', 'c'],
  missingFilesHint: 'pass --data-dir',
};

describe('loadIdxSplit', () => {
  let temp: ReturnType<typeof makeTempFolder>;
  beforeEach(() => {
    temp = makeTempFolder();
  });
  afterEach(() => temp.remove());

  it('reads train-* files for the train split and t10k-* files for the test split', () => {
    writeTinySplit(temp.folder, 'train', [2, 0, 1]);
    writeTinySplit(temp.folder, 't10k', [1]);

    const train = loadIdxSplit(temp.folder, 'train', THREE_CLASSES);
    const test = loadIdxSplit(temp.folder, 'test', THREE_CLASSES);

    expect(train).toMatchObject({ name: 'tiny', split: 'train', count: 3, classNames: ['a', 'b', 'c'] });
    expect(Array.from(train.labels)).toEqual([2, 0, 1]);
    expect(test).toMatchObject({ split: 'test', count: 1 });
    expect(train.labels).toBeInstanceOf(Int32Array);
  });

  it('takes the image height and width from the IDX header, with one channel', () => {
    writeTinySplit(temp.folder, 'train', [0, 1]);

    const dataset = loadIdxSplit(temp.folder, 'train', THREE_CLASSES);

    expect(dataset.shape).toEqual([1, 2, 3]);
    expect(Array.from(dataset.images)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });

  it('reads gzipped files when no plain file is present, and names the files read in source', () => {
    fs.writeFileSync(path.join(temp.folder, 'train-images-idx3-ubyte.gz'), zlib.gzipSync(encodeIdx([1, 1, 2], [7, 8])));
    fs.writeFileSync(path.join(temp.folder, 'train-labels-idx1-ubyte.gz'), zlib.gzipSync(encodeIdx([1], [2])));

    const dataset = loadIdxSplit(temp.folder, 'train', THREE_CLASSES);

    expect(Array.from(dataset.images)).toEqual([7, 8]);
    expect(dataset.source).toBe(
      `${temp.folder}/train-images-idx3-ubyte.gz, ${temp.folder}/train-labels-idx1-ubyte.gz`,
    );
  });

  it('rejects images and labels files that disagree on the number of examples', () => {
    writeTinySplit(temp.folder, 'train', [0, 1, 2], /*imageCount=*/ 4);

    expect(() => loadIdxSplit(temp.folder, 'train', THREE_CLASSES)).toThrow(
      `Tiny train split is inconsistent: ${temp.folder}/train-images-idx3-ubyte holds 4 images ` +
        `but ${temp.folder}/train-labels-idx1-ubyte holds 3 labels (are both files from the same download?)`,
    );
  });

  it('rejects a label that is not one of the classes, naming it and its index', () => {
    writeTinySplit(temp.folder, 'train', [0, 2, 3, 1]);

    const error = thrownBy(() => loadIdxSplit(temp.folder, 'train', THREE_CLASSES));

    expect(error.code).toBe('ERR_DATASET_CORRUPT');
    expect(error.message).toBe(
      `${temp.folder}/train-labels-idx1-ubyte has label 3 at index 2, expected 0..2 (Tiny has 3 classes); ` +
        'is it a Tiny labels file?',
    );
  });

  it('rejects images and labels files swapped', () => {
    writeTinySplit(temp.folder, 'train', [0]);
    const imagesPath = path.join(temp.folder, 'train-images-idx3-ubyte');
    const labelsPath = path.join(temp.folder, 'train-labels-idx1-ubyte');
    const images = fs.readFileSync(imagesPath);
    fs.copyFileSync(labelsPath, imagesPath);
    fs.writeFileSync(labelsPath, images);

    expect(() => loadIdxSplit(temp.folder, 'train', THREE_CLASSES)).toThrow(
      `${imagesPath} has magic number 0x00000801 (IDX with 1 dimension), expected 0x00000803 ` +
        '(unsigned-byte IDX with 3 dimensions); is it the right file?',
    );
  });

  it('names the missing file, the four files expected and the hint', () => {
    writeTinySplit(temp.folder, 'train', [0]);
    fs.rmSync(path.join(temp.folder, 'train-labels-idx1-ubyte'));

    const error = thrownBy(() => loadIdxSplit(temp.folder, 'train', THREE_CLASSES));

    expect(error.code).toBe('ERR_DATASET_MISSING');
    expect(error.message).toBe(
      `Tiny file not found: ${temp.folder}/train-labels-idx1-ubyte.gz (expected train-images-idx3-ubyte[.gz], ` +
        'train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz] ' +
        `in ${temp.folder}; pass --data-dir)`,
    );
  });

  it('names a path that is a file rather than a folder', () => {
    const filePath = path.join(temp.folder, 'not-a-folder');
    fs.writeFileSync(filePath, '');

    expect(() => loadIdxSplit(filePath, 'train', THREE_CLASSES)).toThrow(`Tiny path is not a folder: ${filePath} (`);
  });
});
