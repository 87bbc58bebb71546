/**
 * A reader of MATLAB level-5 MAT-files (the format of `save -v7` and scipy.io.savemat), enough for numeric
 * arrays: a 128-byte header, then data elements, each a miMATRIX or a zlib-compressed (miCOMPRESSED) one.
 * MATLAB stores arrays column-major; `dims` are MATLAB's.
 */
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';

import { DatasetError } from './errors';

const HEADER_BYTES = 128;
const VERSION = 0x0100;
/** The reader's ceiling, per file and per inflated element: what fs.readFileSync reads at once (2 GiB - 1). */
export const MAT_MAX_BYTES = 2 ** 31 - 1;
const MI_INT8 = 1, MI_UINT8 = 2, MI_INT16 = 3, MI_UINT16 = 4, MI_INT32 = 5, MI_UINT32 = 6;
const MI_SINGLE = 7, MI_DOUBLE = 9, MI_INT64 = 12, MI_UINT64 = 13, MI_MATRIX = 14, MI_COMPRESSED = 15;
const BYTES_PER_TYPE: Record<number, number> = {
  [MI_INT8]: 1, [MI_UINT8]: 1, [MI_INT16]: 2, [MI_UINT16]: 2, [MI_INT32]: 4, [MI_UINT32]: 4,
  [MI_SINGLE]: 4, [MI_DOUBLE]: 8, [MI_INT64]: 8, [MI_UINT64]: 8,
};

export interface MatArray {
  name: string;
  /** MATLAB's dimensions (column-major storage). */
  dims: number[];
  /** Values as stored: uint8 arrays stay Uint8Array, anything else becomes Float64Array. */
  data: Uint8Array | Float64Array;
}

class MatReader {
  constructor(
    private readonly filePath: string,
    private readonly littleEndian: boolean,
  ) {}

  corrupt(message: string): DatasetError {
    return new DatasetError('ERR_DATASET_CORRUPT', `${this.filePath}: ${message}; the file is truncated or damaged, download it again`);
  }

  /** Tag of the element at `offset`: type, byte count, where its data starts, where the next element starts. */
  tag(bytes: Buffer, offset: number, padded = true): { type: number; size: number; dataStart: number; next: number } {
    if (offset + 8 > bytes.length) throw this.corrupt(`data element tag at byte ${offset} is cut off (expected 8 bytes)`);
    const view = new DataView(bytes.buffer, bytes.byteOffset + offset, 8);
    const first = view.getUint32(0, this.littleEndian);
    // Small data element: size in the upper 16 bits, data in the tag's second word.
    if (first >>> 16 !== 0) return { type: first & 0xffff, size: first >>> 16, dataStart: offset + 4, next: offset + 8 };
    const size = view.getUint32(4, this.littleEndian);
    const dataStart = offset + 8;
    if (dataStart + size > bytes.length) {
      throw this.corrupt(`data element at byte ${offset} declares ${size} bytes but only ${bytes.length - dataStart} remain`);
    }
    return { type: first, size, dataStart, next: dataStart + (padded ? Math.ceil(size / 8) * 8 : size) };
  }

  /** Bytes a compressed element inflates to by its own inner tag (tag included), refused above the ceiling. */
  inflatedSize(compressed: Buffer, offset: number): number {
    // A 4 KiB prefix inflated with a sync flush gives the stream's first bytes (at most ~4 MB) without the rest.
    let head: Buffer;
    try {
      head = zlib.inflateSync(compressed.subarray(0, 4096), { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: 16 << 20 });
    } catch (cause) {
      throw this.corrupt(`compressed element at byte ${offset} does not inflate (${(cause as Error).message})`);
    }
    if (head.length < 8) throw this.corrupt(`compressed element at byte ${offset} inflates to ${head.length} bytes, less than a tag`);
    const word = (at: number) => (this.littleEndian ? head.readUInt32LE(at) : head.readUInt32BE(at));
    // A small data element (size in the type word's upper half) is the 8-byte tag alone.
    const size = word(0) >>> 16 !== 0 ? 0 : word(4);
    const declared = 8 + size;
    if (declared > MAT_MAX_BYTES) {
      throw this.corrupt(`compressed element at byte ${offset} declares ${size} bytes, above the reader's ceiling of ${MAT_MAX_BYTES}`);
    }
    return declared;
  }

  numbers(bytes: Buffer, type: number, start: number, size: number): Uint8Array | Float64Array {
    if (type === MI_UINT8) return new Uint8Array(bytes.buffer, bytes.byteOffset + start, size).slice();
    const width = BYTES_PER_TYPE[type];
    if (!width) throw this.corrupt(`numeric data of MAT type ${type} at byte ${start} is not one this reader knows`);
    const count = size / width;
    const out = new Float64Array(count);
    const view = new DataView(bytes.buffer, bytes.byteOffset + start, size);
    const le = this.littleEndian;
    for (let i = 0; i < count; i++) {
      const at = i * width;
      switch (type) {
        case MI_INT8: out[i] = view.getInt8(at); break;
        case MI_INT16: out[i] = view.getInt16(at, le); break;
        case MI_UINT16: out[i] = view.getUint16(at, le); break;
        case MI_INT32: out[i] = view.getInt32(at, le); break;
        case MI_UINT32: out[i] = view.getUint32(at, le); break;
        case MI_SINGLE: out[i] = view.getFloat32(at, le); break;
        case MI_DOUBLE: out[i] = view.getFloat64(at, le); break;
        case MI_INT64: out[i] = Number(view.getBigInt64(at, le)); break;
        case MI_UINT64: out[i] = Number(view.getBigUint64(at, le)); break;
      }
    }
    return out;
  }

  matrix(bytes: Buffer, start: number, end: number): MatArray {
    const flags = this.tag(bytes, start);
    const dimsTag = this.tag(bytes, flags.next);
    const dims = Array.from(this.numbers(bytes, dimsTag.type, dimsTag.dataStart, dimsTag.size));
    const nameTag = this.tag(bytes, dimsTag.next);
    const name = bytes.subarray(nameTag.dataStart, nameTag.dataStart + nameTag.size).toString('latin1');
    if (nameTag.next >= end) return { name, dims, data: new Float64Array(0) };
    const realTag = this.tag(bytes, nameTag.next);
    const data = this.numbers(bytes, realTag.type, realTag.dataStart, realTag.size);
    const expected = dims.reduce((a, b) => a * b, 1);
    if (data.length !== expected) {
      throw this.corrupt(`array "${name}" has dims ${dims.join('x')} (${expected} values) but holds ${data.length}`);
    }
    return { name, dims, data };
  }

  /** Top-level arrays, decompressing miCOMPRESSED elements as they come. */
  arrays(bytes: Buffer, wanted: Set<string>): Map<string, MatArray> {
    const found = new Map<string, MatArray>();
    let offset = HEADER_BYTES;
    while (offset < bytes.length && found.size < wanted.size) {
      // Compressed elements are not padded to 8 bytes.
      const tag = this.tag(bytes, offset, false);
      let element = bytes.subarray(tag.dataStart, tag.dataStart + tag.size);
      let type = tag.type;
      if (type === MI_COMPRESSED) {
        // The inner tag (the stream's first 8 bytes) declares the element's size: inflate no further than that.
        const declared = this.inflatedSize(element, offset);
        try {
          element = zlib.inflateSync(element, { maxOutputLength: declared });
        } catch (cause) {
          if ((cause as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
            throw this.corrupt(`compressed element at byte ${offset} inflates past the ${declared} bytes its tag declares`);
          }
          throw this.corrupt(`compressed element at byte ${offset} does not inflate (${(cause as Error).message})`);
        }
        const inner = this.tag(element, 0);
        type = inner.type;
        element = element.subarray(inner.dataStart, inner.dataStart + inner.size);
      }
      if (type === MI_MATRIX && element.length > 0) {
        const array = this.matrix(element, 0, element.length);
        if (wanted.has(array.name)) found.set(array.name, array);
      }
      offset = tag.type === MI_COMPRESSED ? tag.next : tag.dataStart + Math.ceil(tag.size / 8) * 8;
    }
    return found;
  }
}

/** The named arrays of a level-5 MAT-file; throws DatasetError naming the file for a wrong header or a missing array. */
export function readMatArrays(filePath: string, names: string[]): Map<string, MatArray> {
  const size = fs.statSync(filePath).size;
  if (size > MAT_MAX_BYTES) {
    throw new DatasetError('ERR_DATASET_CORRUPT', `${filePath} has ${size} bytes, above the MAT-file reader's ceiling of ${MAT_MAX_BYTES} (SVHN's largest, extra_32x32.mat, has 1.3 GB); is it the right file?`);
  }
  const bytes = fs.readFileSync(filePath);
  if (bytes.length < HEADER_BYTES) {
    throw new DatasetError('ERR_DATASET_CORRUPT', `${filePath} has ${bytes.length} bytes, less than the 128-byte MAT-file header; the file is truncated, download it again`);
  }
  const text = bytes.subarray(0, 116).toString('latin1');
  if (text.startsWith('MATLAB 7.3')) {
    throw new DatasetError('ERR_DATASET_CORRUPT', `${filePath} is a MATLAB 7.3 (HDF5) file; expected a level-5 MAT-file as SVHN publishes (re-save it in MATLAB with save(..., '-v7'))`);
  }
  const endian = bytes.subarray(126, 128).toString('latin1');
  if (!text.startsWith('MATLAB 5.0 MAT-file') || (endian !== 'IM' && endian !== 'MI')) {
    throw new DatasetError(
      'ERR_DATASET_CORRUPT',
      `${filePath}: header starts "${text.slice(0, 19).replace(/[^\x20-\x7e]/g, '?')}" with endian field "${endian.replace(/[^\x20-\x7e]/g, '?')}"; ` +
        `expected "MATLAB 5.0 MAT-file" and "IM" or "MI" (a level-5 MAT-file); is it the right file?`,
    );
  }
  const littleEndian = endian === 'IM';
  const version = littleEndian ? bytes.readUInt16LE(124) : bytes.readUInt16BE(124);
  if (version !== VERSION) {
    throw new DatasetError('ERR_DATASET_CORRUPT', `${filePath}: header version field is 0x${version.toString(16)}, expected 0x0100 (level-5 MAT-file)`);
  }
  const arrays = new MatReader(filePath, littleEndian).arrays(bytes, new Set(names));
  for (const name of names) {
    if (!arrays.has(name)) {
      throw new DatasetError('ERR_DATASET_CORRUPT', `${filePath} holds no array named "${name}" (expected ${names.join(', ')}); is it the right file?`);
    }
  }
  return arrays;
}
