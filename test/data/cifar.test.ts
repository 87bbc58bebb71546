import * as fs from 'node:fs';
import * as path from 'node:path';

import { loadCifar10, loadCifar100, loadDataset, restrictToClasses } from '../../src/data';
import { CIFAR10_NAMES, cifar100Files, cifar10Files, fixtureImages, tarGz, writeFiles } from './fixtures/official-formats';
import { makeTempFolder, sameBytes, thrownBy } from './idx-fixtures';

const FINE = Array.from({ length: 7 }, (_, k) => `fine_${k}`);
const COARSE = ['aquatic_mammals', 'fish', 'flowers'];

let temp: ReturnType<typeof makeTempFolder>;
beforeEach(() => (temp = makeTempFolder()));
afterEach(() => temp.remove());

describe('CIFAR-10 binary version', () => {
  test('reads the extracted cifar-10-batches-bin folder: five training batches in order, names from batches.meta.txt', () => {
    writeFiles(path.join(temp.folder, 'cifar-10-batches-bin'), cifar10Files(4, 6));
    const train = loadCifar10('train', temp.folder);
    expect(train.count).toBe(20);
    expect(train.shape).toEqual([3, 32, 32]);
    expect(train.classNames).toEqual(CIFAR10_NAMES);
    // Batch 2, record 3 has label (3 + 2) % 10 and the fixture pixels of image 3.
    expect(train.labels[4 + 3]).toBe(5);
    expect(sameBytes(train.images.subarray(7 * 3072, 8 * 3072), fixtureImages(4, 3, 32).subarray(3 * 3072))).toBe(true);
    const test = loadDataset('cifar10', 'test', { dataDir: temp.folder });
    expect(Array.from(test.labels)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(sameBytes(test.images, fixtureImages(6, 3, 32))).toBe(true);
  });

  test('reads the official .tar.gz directly, with the same result as the extracted folder', () => {
    const files = cifar10Files(3, 5);
    fs.writeFileSync(path.join(temp.folder, 'cifar-10-binary.tar.gz'), tarGz('cifar-10-batches-bin', files));
    const fromArchive = loadCifar10('train', temp.folder);
    writeFiles(path.join(temp.folder, 'x', 'cifar-10-batches-bin'), files);
    const fromFolder = loadCifar10('train', path.join(temp.folder, 'x'));
    expect(sameBytes(fromArchive.images, fromFolder.images)).toBe(true);
    expect(fromArchive.labels).toEqual(fromFolder.labels);
    expect(fromArchive.source).toContain('cifar-10-binary.tar.gz:cifar-10-batches-bin/data_batch_1.bin');
    // --data-dir may also name the archive itself.
    expect(loadCifar10('test', path.join(temp.folder, 'cifar-10-binary.tar.gz')).count).toBe(5);
  });

  test('a missing folder names the layout expected under --data-dir', () => {
    const error = thrownBy(() => loadCifar10('train', temp.folder));
    expect(error.code).toBe('ERR_DATASET_MISSING');
    expect(error.message).toContain(`CIFAR-10 not found in ${temp.folder}`);
    expect(error.message).toContain('cifar-10-binary.tar.gz, or cifar-10-batches-bin/ holding data_batch_1.bin');
  });

  test('a missing batch is named', () => {
    const files = cifar10Files(2, 2);
    files.delete('data_batch_4.bin');
    writeFiles(temp.folder, files);
    const error = thrownBy(() => loadCifar10('train', temp.folder));
    expect(error.code).toBe('ERR_DATASET_MISSING');
    expect(error.message).toContain(`CIFAR-10 file not found: ${path.join(temp.folder, 'data_batch_4.bin')}`);
  });

  test('a truncated batch is named with the record size expected', () => {
    const files = cifar10Files(2, 2);
    files.set('test_batch.bin', files.get('test_batch.bin')!.subarray(0, 3073 + 1000));
    writeFiles(temp.folder, files);
    const error = thrownBy(() => loadCifar10('test', temp.folder));
    expect(error.code).toBe('ERR_DATASET_CORRUPT');
    expect(error.message).toContain(`${path.join(temp.folder, 'test_batch.bin')} has 4073 bytes, not a whole number of CIFAR-10 records of 3073 bytes (1 label byte + 3072 pixel bytes)`);
  });

  test('a label outside the names file is named with its record', () => {
    const files = cifar10Files(2, 2);
    files.get('test_batch.bin')![3073] = 12;
    writeFiles(temp.folder, files);
    expect(thrownBy(() => loadCifar10('test', temp.folder)).message).toContain('test_batch.bin: record 1 has label 12, expected 0..9 (10 names in batches.meta.txt)');
  });

  test('a truncated .tar.gz is named', () => {
    const archive = tarGz('cifar-10-batches-bin', cifar10Files(2, 2));
    fs.writeFileSync(path.join(temp.folder, 'cifar-10-binary.tar.gz'), archive.subarray(0, archive.length - 200));
    const error = thrownBy(() => loadCifar10('train', temp.folder));
    expect(error.code).toBe('ERR_DATASET_CORRUPT');
    expect(error.message).toContain(`${path.join(temp.folder, 'cifar-10-binary.tar.gz')}: the gzip stream is damaged`);
  });

  test('a damaged tar header is named with its offset and checksum', () => {
    const archive = require('node:zlib').gunzipSync(tarGz('cifar-10-batches-bin', cifar10Files(1, 1))) as Buffer;
    archive[512 + 10] ^= 0xff;
    fs.writeFileSync(path.join(temp.folder, 'cifar-10-binary.tar.gz'), require('node:zlib').gzipSync(archive));
    expect(thrownBy(() => loadCifar10('test', temp.folder)).message).toMatch(/tar header at byte 512 has checksum \d+, computed \d+; expected a ustar archive/);
  });
});

describe('CIFAR-100 binary version', () => {
  test('fine labels by default, coarse on request, each with its names file', () => {
    fs.writeFileSync(path.join(temp.folder, 'cifar-100-binary.tar.gz'), tarGz('cifar-100-binary', cifar100Files(9, 4, FINE, COARSE)));
    const fine = loadCifar100('train', temp.folder);
    expect(fine.classNames).toEqual(FINE);
    expect(Array.from(fine.labels)).toEqual([0, 1, 2, 3, 4, 5, 6, 0, 1]);
    const coarse = loadDataset('cifar100', 'train', { dataDir: temp.folder, cifar100Labels: 'coarse' });
    expect(coarse.classNames).toEqual(COARSE);
    expect(Array.from(coarse.labels)).toEqual([0, 1, 2, 0, 1, 2, 0, 1, 2]);
    expect(sameBytes(coarse.images, fixtureImages(9, 3, 32))).toBe(true);
    expect(coarse.source).toContain('(coarse labels)');
  });

  test('a CIFAR-10 batch given as CIFAR-100 is caught by its record size', () => {
    writeFiles(temp.folder, cifar100Files(3, 3, FINE, COARSE));
    fs.writeFileSync(path.join(temp.folder, 'test.bin'), cifar10Files(1, 3).get('test_batch.bin')!);
    expect(thrownBy(() => loadCifar100('test', temp.folder)).message).toContain('has 9219 bytes, not a whole number of CIFAR-100 records of 3074 bytes (2 label bytes + 3072 pixel bytes)');
  });

  test('a missing coarse names file is named', () => {
    const files = cifar100Files(3, 3, FINE, COARSE);
    files.delete('coarse_label_names.txt');
    writeFiles(temp.folder, files);
    expect(thrownBy(() => loadCifar100('test', temp.folder, 'coarse')).message).toContain(`CIFAR-100 file not found: ${path.join(temp.folder, 'coarse_label_names.txt')}`);
  });

  test('restricting to classes by name remaps labels and keeps the names', () => {
    writeFiles(temp.folder, cifar100Files(9, 4, FINE, COARSE));
    const subset = restrictToClasses(loadCifar100('train', temp.folder, 'coarse'), ['flowers', 'aquatic_mammals']);
    expect(subset.classNames).toEqual(['flowers', 'aquatic_mammals']);
    expect(Array.from(subset.labels)).toEqual([1, 0, 1, 0, 1, 0]);
    expect(subset.originalClass).toEqual([2, 0]);
  });
});

describe('tar reader', () => {
  test('reads an archive written by the system tar (GNU tar, gzip), as the official download is', () => {
    const { execFileSync } = require('node:child_process') as typeof import('node:child_process');
    writeFiles(path.join(temp.folder, 'src', 'cifar-10-batches-bin'), cifar10Files(2, 3));
    execFileSync('tar', ['czf', path.join(temp.folder, 'cifar-10-binary.tar.gz'), '-C', path.join(temp.folder, 'src'), 'cifar-10-batches-bin']);
    const test = loadCifar10('test', temp.folder);
    expect(test.count).toBe(3);
    expect(sameBytes(test.images, fixtureImages(3, 3, 32))).toBe(true);
  });
});

describe('a member named like a dataset file twice', () => {
  const zlib = require('node:zlib') as typeof import('node:zlib');

  test('in another folder of the archive is refused, naming both members', () => {
    const files = cifar10Files(1, 2);
    // A stray copy elsewhere in the archive, with other records: reading either one silently would be a guess.
    files.set('extra/test_batch.bin', cifar10Files(1, 3).get('test_batch.bin')!);
    const archive = path.join(temp.folder, 'cifar-10-binary.tar.gz');
    fs.writeFileSync(archive, tarGz('cifar-10-batches-bin', files));
    expect(thrownBy(() => loadCifar10('test', temp.folder))).toMatchObject({
      code: 'ERR_DATASET_CORRUPT',
      message: `${archive}: the member cifar-10-batches-bin/extra/test_batch.bin has the name of the dataset file cifar-10-batches-bin/test_batch.bin; ` +
        'the archive must hold test_batch.bin once: download it again, or extract it and keep the right copy',
    });
  });

  test('at the same path (an appended member) is refused, naming it', () => {
    // Two archives joined: the first without its two closing zero blocks, so the second's members follow its own.
    const first = zlib.gunzipSync(tarGz('cifar-10-batches-bin', cifar10Files(1, 2)));
    const second = zlib.gunzipSync(tarGz('cifar-10-batches-bin', new Map([['test_batch.bin', cifar10Files(1, 3).get('test_batch.bin')!]])));
    const archive = path.join(temp.folder, 'cifar-10-binary.tar.gz');
    fs.writeFileSync(archive, zlib.gzipSync(Buffer.concat([first.subarray(0, first.length - 1024), second])));
    const error = thrownBy(() => loadCifar10('test', temp.folder));
    expect(error).toMatchObject({ code: 'ERR_DATASET_CORRUPT' });
    expect(error.message).toMatch(new RegExp(`^${archive.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: the member cifar-10-batches-bin/test_batch\\.bin appears twice \\(again at byte \\d+\\); an archive must hold each file once`));
  });
});
