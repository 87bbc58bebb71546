import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { DatasetError } from './errors';

/**
 * Reader for the IDX format of MNIST and Fashion-MNIST (https://yann.lecun.com/exdb/mnist/):
 * a big-endian magic 0x0000 <type> <ndims>, then ndims big-endian uint32 sizes, then the data, row-major.
 * Only unsigned bytes (type 0x08) are supported: that is what every (Fashion-)MNIST file holds.
 */

/** An IDX array: its sizes, outermost first, and its bytes in row-major order. */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

const UNSIGNED_BYTE_TYPE = 0x08;
const BYTES_PER_DIMENSION_SIZE = 4;
const MAGIC_BYTES = 4;
/** The reader's ceiling: data bytes one IDX file may declare (MNIST's largest file holds 47 MB). */
export const IDX_MAX_DATA_BYTES = 2 ** 31;
/** The longest IDX header: the magic number and 255 dimension sizes. */
const MAX_HEADER_BYTES = MAGIC_BYTES + 255 * BYTES_PER_DIMENSION_SIZE;
/** Compressed bytes inflated to find the header (a deflate block's own header is at most a few hundred bytes). */
const HEADER_PROBE_BYTES = 4096;

/** Names of the IDX element types, to say what a file holds when it is not unsigned bytes. */
const IDX_TYPE_NAMES: Record<number, string> = {
  0x08: 'unsigned byte',
  0x09: 'signed byte',
  0x0b: 'int16',
  0x0c: 'int32',
  0x0d: 'float32',
  0x0e: 'float64',
};

function hex(value: number, digits: number): string {
  return `0x${value.toString(16).padStart(digits, '0')}`;
}

function dimensionsWord(count: number): string {
  return count === 1 ? '1 dimension' : `${count} dimensions`;
}

function describeExpectedMagic(expectedDimensionCount: number | undefined): string {
  if (expectedDimensionCount === undefined) return '0x000008NN (unsigned-byte IDX with NN dimensions)';
  const magic = (UNSIGNED_BYTE_TYPE << 8) | expectedDimensionCount;
  return `${hex(magic, 8)} (unsigned-byte IDX with ${dimensionsWord(expectedDimensionCount)})`;
}

/**
 * Parses the bytes of an uncompressed IDX file. `nameForErrors` (usually the path) starts every error message.
 * With `expectedDimensionCount`, a file of any other rank is rejected (3 for images, 1 for labels).
 * The returned data is a view into `bytes`, not a copy.
 */
export function parseIdx(bytes: Uint8Array, nameForErrors: string, expectedDimensionCount?: number): IdxArray {
  const reread = '(re-download or re-extract it)';
  const { dims, headerBytes, dataBytes: expectedDataBytes } = idxHeader(bytes, nameForErrors, expectedDimensionCount);
  const actualDataBytes = bytes.length - headerBytes;
  if (actualDataBytes < expectedDataBytes) {
    throw new DatasetError(
      'ERR_DATASET_CORRUPT',
      `${nameForErrors} is truncated: header says ${dims.join('x')} = ${expectedDataBytes} bytes of data, ` +
        `file has ${actualDataBytes} ${reread}`,
    );
  }
  // Trailing bytes mean the header and the data disagree, e.g. two files concatenated: trust neither.
  if (actualDataBytes > expectedDataBytes) {
    throw new DatasetError(
      'ERR_DATASET_CORRUPT',
      `${nameForErrors} is too long: header says ${dims.join('x')} = ${expectedDataBytes} bytes of data, ` +
        `file has ${actualDataBytes} ${reread}`,
    );
  }

  const data = new Uint8Array(bytes.buffer, bytes.byteOffset + headerBytes, expectedDataBytes);
  return { dims, data };
}

/**
 * The header at the start of `bytes` (which may hold only the header): its sizes, its length and the data bytes
 * it declares, refused above IDX_MAX_DATA_BYTES.
 */
function idxHeader(bytes: Uint8Array, nameForErrors: string, expectedDimensionCount?: number): { dims: number[]; headerBytes: number; dataBytes: number } {
  const reread = '(re-download or re-extract it)';
  if (bytes.length < MAGIC_BYTES) {
    throw new DatasetError(
      'ERR_DATASET_CORRUPT',
      `${nameForErrors} is truncated: ${bytes.length} bytes, too short for the 4-byte IDX magic number ${reread}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  const dataType = (magic >>> 8) & 0xff;
  const dimensionCount = magic & 0xff;

  const isIdx = magic >>> 16 === 0 && dimensionCount > 0 && dataType in IDX_TYPE_NAMES;
  if (!isIdx) {
    throw new DatasetError(
      'ERR_DATASET_CORRUPT',
      `${nameForErrors} has magic number ${hex(magic, 8)}, expected ${describeExpectedMagic(expectedDimensionCount)}; ` +
        'is it an IDX file?',
    );
  }
  // A valid IDX file of the wrong rank is usually the images and labels files swapped.
  if (expectedDimensionCount !== undefined && dimensionCount !== expectedDimensionCount) {
    throw new DatasetError(
      'ERR_DATASET_CORRUPT',
      `${nameForErrors} has magic number ${hex(magic, 8)} (IDX with ${dimensionsWord(dimensionCount)}), ` +
        `expected ${describeExpectedMagic(expectedDimensionCount)}; is it the right file?`,
    );
  }
  if (dataType !== UNSIGNED_BYTE_TYPE) {
    throw new DatasetError(
      'ERR_DATASET_CORRUPT',
      `${nameForErrors} holds ${IDX_TYPE_NAMES[dataType]} values (IDX type ${hex(dataType, 2)}), ` +
        `expected unsigned bytes (type ${hex(UNSIGNED_BYTE_TYPE, 2)}); only unsigned-byte IDX files are supported`,
    );
  }

  const headerBytes = MAGIC_BYTES + dimensionCount * BYTES_PER_DIMENSION_SIZE;
  if (bytes.length < headerBytes) {
    throw new DatasetError(
      'ERR_DATASET_CORRUPT',
      `${nameForErrors} is truncated: its header needs ${headerBytes} bytes for ${dimensionsWord(dimensionCount)}, ` +
        `file has ${bytes.length} ${reread}`,
    );
  }
  const dims: number[] = [];
  for (let axis = 0; axis < dimensionCount; axis++) {
    dims.push(view.getUint32(MAGIC_BYTES + axis * BYTES_PER_DIMENSION_SIZE, false));
  }

  const dataBytes = dims.reduce((product, size) => product * size, 1);
  if (dataBytes > IDX_MAX_DATA_BYTES) {
    throw new DatasetError(
      'ERR_DATASET_CORRUPT',
      `${nameForErrors}: its header says ${dims.join('x')} = ${dataBytes} bytes of data, above the reader's ceiling of ` +
        `${IDX_MAX_DATA_BYTES} bytes; is it an IDX file of this dataset?`,
    );
  }
  return { dims, headerBytes, dataBytes };
}

/** True when the bytes start with the gzip magic number 0x1f 0x8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Reads an IDX file, gunzipping it first when it is gzip-compressed (whatever its name). The header is read
 * first: nothing is allocated beyond the bytes it declares (at most IDX_MAX_DATA_BYTES), so a gzip bomb stops
 * after inflating that much.
 */
export function readIdxFile(path: string, expectedDimensionCount?: number): IdxArray {
  let fileBytes: Buffer;
  try {
    const size = fs.statSync(path).size;
    const start = readStart(path, Math.min(size, Math.max(MAX_HEADER_BYTES, HEADER_PROBE_BYTES)));
    if (!isGzip(start)) {
      // A plain file: its header bounds what is read.
      const { dims, headerBytes, dataBytes } = idxHeader(start, path, expectedDimensionCount);
      if (size > headerBytes + dataBytes) {
        throw new DatasetError('ERR_DATASET_CORRUPT', `${path} is too long: header says ${dims.join('x')} = ${dataBytes} bytes of data, ` +
          `file has ${size - headerBytes} (re-download or re-extract it)`);
      }
    }
    fileBytes = fs.readFileSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new DatasetError('ERR_DATASET_MISSING', `IDX file not found: ${path}`, { cause: error });
    }
    throw error;
  }
  if (!isGzip(fileBytes)) return parseIdx(fileBytes, path, expectedDimensionCount);

  const corrupt = (error: unknown) => new DatasetError(
    'ERR_DATASET_CORRUPT',
    `${path} is a corrupt or truncated gzip stream (zlib: ${(error as Error).message}); re-download it`,
    { cause: error },
  );
  let probe: Buffer;
  try {
    probe = zlib.gunzipSync(fileBytes.subarray(0, HEADER_PROBE_BYTES), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  } catch (error) {
    throw corrupt(error);
  }
  const { dims, headerBytes, dataBytes } = idxHeader(probe, path, expectedDimensionCount);
  let idxBytes: Buffer;
  try {
    idxBytes = zlib.gunzipSync(fileBytes, { maxOutputLength: headerBytes + dataBytes });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new DatasetError(
        'ERR_DATASET_CORRUPT',
        `${path} inflates to more than the ${headerBytes + dataBytes} bytes its header implies (${dims.join('x')} ` +
          `${expectedDimensionCount === 1 ? 'labels' : 'images'} after a ${headerBytes}-byte header); re-download or re-extract it`,
      );
    }
    throw corrupt(error);
  }
  return parseIdx(idxBytes, path, expectedDimensionCount);
}

/** The first `count` bytes of a file (fewer when it is shorter). */
function readStart(path: string, count: number): Buffer {
  const buffer = Buffer.alloc(count);
  const fd = fs.openSync(path, 'r');
  try {
    return buffer.subarray(0, fs.readSync(fd, buffer, 0, count, 0));
  } finally {
    fs.closeSync(fd);
  }
}
