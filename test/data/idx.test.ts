import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { DatasetError } from '../../src/data/errors';
import { isGzip, parseIdx, readIdxFile } from '../../src/data/idx';
import { encodeIdx, makeTempFolder, thrownBy } from './idx-fixtures';

describe('parseIdx', () => {
  it('reads the dimension sizes from the big-endian header and returns the data bytes that follow', () => {
    const bytes = encodeIdx([2, 2, 3], [0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255]);

    const parsed = parseIdx(bytes, 'images.idx');

    expect(parsed.dims).toEqual([2, 2, 3]);
    expect(Array.from(parsed.data)).toEqual([0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255]);
  });

  it('reads a 1-dimensional labels file', () => {
    expect(parseIdx(encodeIdx([4], [9, 0, 0, 3]), 'labels.idx', 1)).toEqual({
      dims: [4],
      data: new Uint8Array([9, 0, 0, 3]),
    });
  });

  it('returns a view of the input, not a copy', () => {
    const bytes = encodeIdx([3], [7, 8, 9]);
    const parsed = parseIdx(bytes, 'labels.idx');
    expect(parsed.data.buffer).toBe(bytes.buffer);
  });

  it('rejects a file whose magic number is not IDX, naming the value found and the one expected', () => {
    const bytes = encodeIdx([1, 1, 1], [0]);
    bytes.writeUInt32BE(0x12345678, 0);

    expect(() => parseIdx(bytes, '/x/train-images-idx3-ubyte', 3)).toThrow(
      '/x/train-images-idx3-ubyte has magic number 0x12345678, expected 0x00000803 ' +
        '(unsigned-byte IDX with 3 dimensions); is it an IDX file?',
    );
  });

  it('rejects an IDX file of the wrong rank, e.g. a labels file where images were expected', () => {
    expect(() => parseIdx(encodeIdx([2], [0, 1]), '/x/train-images-idx3-ubyte', 3)).toThrow(
      '/x/train-images-idx3-ubyte has magic number 0x00000801 (IDX with 1 dimension), expected 0x00000803 ' +
        '(unsigned-byte IDX with 3 dimensions); is it the right file?',
    );
  });

  it('rejects IDX files of other element types, since the dataset interface holds bytes', () => {
    const bytes = encodeIdx([1], [0, 0, 0, 0]);
    bytes.writeUInt32BE(0x00000d01, 0);
    bytes.writeUInt32BE(1, 4);

    expect(() => parseIdx(bytes, 'floats.idx')).toThrow(
      'floats.idx holds float32 values (IDX type 0x0d), expected unsigned bytes (type 0x08); ' +
        'only unsigned-byte IDX files are supported',
    );
  });

  it('rejects data shorter than the header announces, with both sizes', () => {
    const header = encodeIdx([60000, 28, 28], []);
    const truncated = Buffer.concat([header, Buffer.alloc(1234)]);

    expect(() => parseIdx(truncated, '/x/train-images-idx3-ubyte', 3)).toThrow(
      '/x/train-images-idx3-ubyte is truncated: header says 60000x28x28 = 47040000 bytes of data, ' +
        'file has 1234 (re-download or re-extract it)',
    );
  });

  it('rejects a header cut before its dimension sizes end', () => {
    const cut = encodeIdx([10, 28, 28], []).subarray(0, 9);
    expect(() => parseIdx(cut, 'cut.idx', 3)).toThrow(
      'cut.idx is truncated: its header needs 16 bytes for 3 dimensions, file has 9 (re-download or re-extract it)',
    );
  });

  it('rejects bytes after the data, since header and data then disagree', () => {
    const tooLong = Buffer.concat([encodeIdx([2], [1, 2]), Buffer.from([3])]);
    expect(() => parseIdx(tooLong, 'labels.idx')).toThrow(
      'labels.idx is too long: header says 2 = 2 bytes of data, file has 3 (re-download or re-extract it)',
    );
  });

  it('throws DatasetError with code ERR_DATASET_CORRUPT for a malformed file', () => {
    const thrown = thrownBy(() => parseIdx(new Uint8Array([0, 0]), 'tiny.idx'));
    expect(thrown).toBeInstanceOf(DatasetError);
    expect(thrown).toMatchObject({ code: 'ERR_DATASET_CORRUPT', name: 'DatasetError' });
  });
});

describe('readIdxFile', () => {
  const temp = makeTempFolder();
  afterAll(temp.remove);

  const labels = [5, 0, 4, 1, 9, 2];
  const plainPath = path.join(temp.folder, 'labels-idx1-ubyte');
  const gzippedPath = path.join(temp.folder, 'labels-idx1-ubyte.gz');
  beforeAll(() => {
    fs.writeFileSync(plainPath, encodeIdx([labels.length], labels));
    fs.writeFileSync(gzippedPath, zlib.gzipSync(encodeIdx([labels.length], labels)));
  });

  it('reads plain and gzipped files to the same array', () => {
    expect(isGzip(fs.readFileSync(gzippedPath))).toBe(true);
    expect(isGzip(fs.readFileSync(plainPath))).toBe(false);
    expect(readIdxFile(gzippedPath, 1)).toEqual(readIdxFile(plainPath, 1));
    expect(Array.from(readIdxFile(gzippedPath, 1).data)).toEqual(labels);
  });

  it('detects gzip by its magic bytes, not by the file name', () => {
    const misnamed = path.join(temp.folder, 'gzipped-without-suffix');
    fs.copyFileSync(gzippedPath, misnamed);
    expect(Array.from(readIdxFile(misnamed).data)).toEqual(labels);
  });

  it('names the file when its gzip stream is cut short', () => {
    const cutPath = path.join(temp.folder, 'cut.gz');
    const gzipped = fs.readFileSync(gzippedPath);
    fs.writeFileSync(cutPath, gzipped.subarray(0, gzipped.length - 10));

    expect(() => readIdxFile(cutPath)).toThrow(
      `${cutPath} is a corrupt or truncated gzip stream (zlib: unexpected end of file); re-download it`,
    );
  });

  it('names the file when its gzip stream is corrupt', () => {
    const corruptPath = path.join(temp.folder, 'corrupt.gz');
    const corrupt = Buffer.from(fs.readFileSync(gzippedPath));
    corrupt.fill(0xff, 10, corrupt.length - 8);
    fs.writeFileSync(corruptPath, corrupt);

    const error = thrownBy(() => readIdxFile(corruptPath));
    expect(error.code).toBe('ERR_DATASET_CORRUPT');
    expect(error.message.startsWith(`${corruptPath} is a corrupt or truncated gzip stream (zlib: `)).toBe(true);
    expect(error.message.endsWith('); re-download it')).toBe(true);
  });

  it('throws ERR_DATASET_MISSING for a missing file', () => {
    const missingPath = path.join(temp.folder, 'no-such-file');
    expect(() => readIdxFile(missingPath)).toThrow(
      expect.objectContaining({ code: 'ERR_DATASET_MISSING', message: `IDX file not found: ${missingPath}` }),
    );
  });
});
