import * as fs from 'node:fs';
import * as path from 'node:path';

import { loadDataset, loadStl10, loadStl10Unlabeled, takePerClass } from '../../src/data';
import { fixtureImages, STL10_NAMES, stl10Files, stl10Images, writeFiles } from './fixtures/official-formats';
import { makeTempFolder, sameBytes, thrownBy } from './idx-fixtures';

let temp: ReturnType<typeof makeTempFolder>;
beforeEach(() => (temp = makeTempFolder()));
afterEach(() => temp.remove());

describe('STL-10 binary version', () => {
  test('reads stl10_binary/: column-major 3x96x96 images to NCHW, labels 1..10 to 0..9, names from class_names.txt', () => {
    writeFiles(path.join(temp.folder, 'stl10_binary'), stl10Files(12, 5));
    const train = loadStl10('train', temp.folder);
    expect(train.shape).toEqual([3, 96, 96]);
    expect(train.classNames).toEqual(STL10_NAMES);
    expect(Array.from(train.labels)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
    expect(sameBytes(train.images, fixtureImages(12, 3, 96))).toBe(true);
    expect(loadDataset('stl10', 'test', { dataDir: temp.folder }).count).toBe(5);
  });

  test('reads the optional unlabeled split', () => {
    const files = stl10Files(2, 2);
    files.set('unlabeled_X.bin', stl10Images(fixtureImages(3, 3, 96), 3));
    writeFiles(temp.folder, files);
    const unlabeled = loadStl10Unlabeled(temp.folder);
    expect(unlabeled.count).toBe(3);
    expect(sameBytes(unlabeled.images, fixtureImages(3, 3, 96))).toBe(true);
  });

  test('N examples per class', () => {
    writeFiles(temp.folder, stl10Files(30, 2));
    const subset = takePerClass(loadStl10('train', temp.folder), 2, 0);
    expect(subset.count).toBe(20);
    expect(subset.classNames).toEqual(STL10_NAMES);
  });

  test('a missing folder names the layout; a missing labels file is named', () => {
    expect(thrownBy(() => loadStl10('train', temp.folder)).message).toBe(
      `STL-10 not found in ${temp.folder} (expected under --data-dir: stl10_binary/ (or the folder itself) with train_X.bin, train_y.bin, test_X.bin, test_y.bin, class_names.txt)`,
    );
    const files = stl10Files(2, 2);
    files.delete('test_y.bin');
    writeFiles(temp.folder, files);
    const error = thrownBy(() => loadStl10('test', temp.folder));
    expect(error.code).toBe('ERR_DATASET_MISSING');
    expect(error.message).toContain(`STL-10 file not found: ${path.join(temp.folder, 'test_y.bin')}`);
  });

  test('a truncated images file is named with the image size expected', () => {
    const files = stl10Files(2, 2);
    files.set('train_X.bin', files.get('train_X.bin')!.subarray(0, 27648 + 100));
    writeFiles(temp.folder, files);
    expect(thrownBy(() => loadStl10('train', temp.folder)).message).toBe(
      `${path.join(temp.folder, 'train_X.bin')} has 27748 bytes, not a whole number of 27648-byte images (3x96x96 uint8); the file is truncated, download it again`,
    );
  });

  test('labels that disagree with the images, or lie outside 1..10, are named', () => {
    const files = stl10Files(3, 2);
    files.set('train_y.bin', Buffer.from([1, 2]));
    writeFiles(temp.folder, files);
    expect(thrownBy(() => loadStl10('train', temp.folder)).message).toContain('train_y.bin holds 2 labels but');
    fs.writeFileSync(path.join(temp.folder, 'train_y.bin'), Buffer.from([1, 0, 3]));
    expect(thrownBy(() => loadStl10('train', temp.folder)).message).toContain('train_y.bin: label 0 at index 1, expected 1..10');
  });
});
