/**
 * A minimal reader of ustar/GNU tar archives (optionally gzipped), enough to read the official CIFAR
 * .tar.gz downloads in memory without extracting them to disk.
 */
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';

import { DatasetError } from './errors';

const BLOCK = 512;
/**
 * The reader's ceiling: bytes of one archive, inflated (CIFAR-10's is 185 MB, CIFAR-100's 161 MB). A gzip
 * stream is inflated only up to it, so a small gzip bomb cannot take the memory.
 */
export const TAR_MAX_BYTES = 2 ** 30;
const REGULAR_FILE = new Set(['0', '\0', '']);
const GNU_LONG_NAME = 'L';
const PAX_HEADER = 'x';

function field(header: Buffer, start: number, length: number): string {
  const raw = header.subarray(start, start + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? length : end).toString('utf8');
}

/**
 * Every regular file of the archive at `archivePath`, by its path inside the archive; at most `maxBytes` inflated.
 * A path that appears twice is refused.
 */
export function readTarEntries(archivePath: string, maxBytes = TAR_MAX_BYTES): Map<string, Buffer> {
  const ceiling = () =>
    new DatasetError('ERR_DATASET_CORRUPT', `${archivePath} holds more than the tar reader's ceiling of ${maxBytes} bytes (CIFAR's archives hold under 200 MB); is it the right file?`);
  if (fs.statSync(archivePath).size > maxBytes) throw ceiling();
  let bytes = fs.readFileSync(archivePath);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = zlib.gunzipSync(bytes, { maxOutputLength: maxBytes });
    } catch (cause) {
      if ((cause as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw ceiling();
      throw new DatasetError(
        'ERR_DATASET_CORRUPT',
        `${archivePath}: the gzip stream is damaged (${(cause as Error).message}); expected a complete .tar.gz, download it again`,
        { cause },
      );
    }
  }
  const entries = new Map<string, Buffer>();
  let offset = 0;
  let longName: string | undefined;
  while (offset + BLOCK <= bytes.length) {
    const header = bytes.subarray(offset, offset + BLOCK);
    if (header.every((b) => b === 0)) break;
    const storedSum = parseInt(field(header, 148, 8).trim(), 8);
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i];
    if (storedSum !== sum) {
      throw new DatasetError(
        'ERR_DATASET_CORRUPT',
        `${archivePath}: tar header at byte ${offset} has checksum ${storedSum}, computed ${sum}; expected a ustar archive, download it again`,
      );
    }
    const size = parseInt(field(header, 124, 12).trim() || '0', 8);
    const type = field(header, 156, 1);
    const prefix = field(header, 345, 155);
    const name = longName ?? (prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100));
    longName = undefined;
    const dataStart = offset + BLOCK;
    if (dataStart + size > bytes.length) {
      throw new DatasetError(
        'ERR_DATASET_CORRUPT',
        `${archivePath}: entry ${name} declares ${size} bytes but the archive ends ${bytes.length - dataStart} bytes later; the file is truncated, download it again`,
      );
    }
    const data = bytes.subarray(dataStart, dataStart + size);
    if (type === GNU_LONG_NAME) longName = field(data, 0, size);
    else if (REGULAR_FILE.has(type)) {
      // tar lets an appended member replace an earlier one of the same path; a reader must not pick one silently.
      if (entries.has(name)) {
        throw new DatasetError('ERR_DATASET_CORRUPT', `${archivePath}: the member ${name} appears twice (again at byte ${offset}); ` +
          'an archive must hold each file once: download it again, or extract it and keep the right copy');
      }
      entries.set(name, data);
    }
    else if (type === PAX_HEADER) {
      const pathRecord = /\d+ path=([^\n]*)\n/.exec(data.toString('utf8'));
      if (pathRecord) longName = pathRecord[1];
    }
    offset = dataStart + Math.ceil(size / BLOCK) * BLOCK;
  }
  return entries;
}
