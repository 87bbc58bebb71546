/**
 * Reader and writer for the safetensors format (https://github.com/huggingface/safetensors):
 *
 *   [u64 little-endian N][N bytes of UTF-8 JSON header, space-padded to a multiple of 8][raw tensor bytes]
 *
 * The header maps each tensor name to {dtype, shape, data_offsets: [begin, end]}, offsets relative to the start
 * of the raw bytes, plus an optional "__metadata__" map of string to string.
 *
 * Layout written by encodeSafetensors: "__metadata__" first (omitted when empty, as Python does for
 * metadata=None), then the tensors in the key order of the TensorMap (insertion order; JavaScript puts
 * integer-like names such as "0" first), and their bytes contiguous in that same order. The JSON is compact,
 * as the Rust/Python writer produces it, so a one-tensor file is byte-identical to Python's `save_file`.
 * Python orders several tensors by dtype alignment, then name; readers accept either order.
 */
import { CheckpointError } from './checkpoint-error';
import { outOfRange, invalidArgument } from '../errors';

export { CheckpointError } from './checkpoint-error';

export type TensorDtype = 'F32' | 'F64' | 'I64' | 'I32' | 'U8';

export interface NamedTensor {
  dtype: TensorDtype;
  shape: number[];
  /** Raw little-endian bytes, product(shape) * bytes per element long. */
  data: Uint8Array;
}

export type TensorMap = Record<string, NamedTensor>;

/** Bytes per element of each supported dtype. */
export const DTYPE_BYTES: Readonly<Record<TensorDtype, number>> = { F32: 4, F64: 8, I64: 8, I32: 4, U8: 1 };

const METADATA_KEY = '__metadata__';
/** Width of the u64 that stores the header length. */
const HEADER_LENGTH_BYTES = 8;
/** The header is padded so that the raw bytes start 8-byte aligned. */
const HEADER_ALIGNMENT = 8;
const SPACE = 0x20;

export function encodeSafetensors(tensors: TensorMap, metadata: Record<string, string>): Buffer {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) {
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== 'string') {
        throw invalidArgument(`metadata "${key}" is ${typeof value} ${JSON.stringify(value)}, expected a string`);
      }
    }
    header[METADATA_KEY] = metadata;
  }

  let dataByteLength = 0;
  for (const [name, tensor] of Object.entries(tensors)) {
    if (name === METADATA_KEY) throw outOfRange(`tensor name "${METADATA_KEY}" is reserved for metadata`);
    checkTensorForWriting(name, tensor);
    const begin = dataByteLength;
    dataByteLength += tensor.data.byteLength;
    header[name] = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [begin, dataByteLength] };
  }

  const headerJson = Buffer.from(JSON.stringify(header), 'utf8');
  const paddedHeaderLength = Math.ceil(headerJson.length / HEADER_ALIGNMENT) * HEADER_ALIGNMENT;
  const file = Buffer.alloc(HEADER_LENGTH_BYTES + paddedHeaderLength + dataByteLength);
  file.writeBigUInt64LE(BigInt(paddedHeaderLength), 0);
  headerJson.copy(file, HEADER_LENGTH_BYTES);
  file.fill(SPACE, HEADER_LENGTH_BYTES + headerJson.length, HEADER_LENGTH_BYTES + paddedHeaderLength);

  let writeAt = HEADER_LENGTH_BYTES + paddedHeaderLength;
  for (const tensor of Object.values(tensors)) {
    file.set(tensor.data, writeAt);
    writeAt += tensor.data.byteLength;
  }
  return file;
}

/**
 * Parses and validates a whole safetensors file. Tensor data are views into `buf` (no copies), so they stay
 * valid as long as `buf` is not modified. `nameForErrors` (usually the path) starts every error message.
 */
export function decodeSafetensors(
  buf: Buffer,
  nameForErrors: string,
): { tensors: TensorMap; metadata: Record<string, string> } {
  const corrupt = (detail: string) =>
    new CheckpointError('ERR_CHECKPOINT_CORRUPT', `${nameForErrors}: ${detail}`, nameForErrors);

  if (buf.length < HEADER_LENGTH_BYTES) {
    throw corrupt(`file is ${buf.length} bytes, too short for the 8-byte header length (empty or truncated file)`);
  }
  const declaredHeaderLength = buf.readBigUInt64LE(0);
  const bytesAfterLength = buf.length - HEADER_LENGTH_BYTES;
  if (declaredHeaderLength > BigInt(bytesAfterLength)) {
    throw corrupt(
      `header length is ${declaredHeaderLength} bytes but only ${bytesAfterLength} bytes follow it ` +
        `(truncated file, or not a safetensors file)`,
    );
  }
  const headerLength = Number(declaredHeaderLength);
  const headerEnd = HEADER_LENGTH_BYTES + headerLength;

  let header: unknown;
  try {
    header = JSON.parse(buf.toString('utf8', HEADER_LENGTH_BYTES, headerEnd));
  } catch (error) {
    throw corrupt(`header is not valid JSON (${(error as Error).message}), expected a safetensors JSON header`);
  }
  if (!isPlainObject(header)) {
    throw corrupt(`header is ${describeJson(header)}, expected a JSON object of tensors`);
  }

  const metadata = readMetadata(header[METADATA_KEY], corrupt);
  // A plain Uint8Array view rather than a Buffer, whose slice() would not copy as Uint8Array's does.
  const data = new Uint8Array(buf.buffer, buf.byteOffset + headerEnd, buf.length - headerEnd);
  const tensors: TensorMap = {};
  const extents: Array<{ name: string; begin: number; end: number }> = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === METADATA_KEY) continue;
    const tensor = readTensorEntry(name, entry, data.length, corrupt);
    setOwn(tensors, name, { dtype: tensor.dtype, shape: tensor.shape, data: data.subarray(tensor.begin, tensor.end) });
    extents.push({ name, begin: tensor.begin, end: tensor.end });
  }

  // Like the reference reader: tensors must tile the data exactly, so overlaps and stray bytes mean corruption.
  extents.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expectedBegin = 0;
  for (const extent of extents) {
    if (extent.begin !== expectedBegin) {
      throw corrupt(
        `tensor "${extent.name}" data_offsets start at ${extent.begin}, expected ${expectedBegin} ` +
          `(tensor data must be contiguous, without gaps or overlaps)`,
      );
    }
    expectedBegin = extent.end;
  }
  if (expectedBegin !== data.length) {
    throw corrupt(
      `data section is ${data.length} bytes but the tensors cover ${expectedBegin}, expected them to cover it exactly`,
    );
  }
  return { tensors, metadata };
}

/** Number of elements of a shape; 1 for a scalar (shape []). */
export function elementCount(shape: readonly number[]): number {
  return shape.reduce((count, dimension) => count * dimension, 1);
}

function checkTensorForWriting(name: string, tensor: NamedTensor): void {
  if (!isSupportedDtype(tensor.dtype)) {
    throw outOfRange(`tensor "${name}" dtype is ${JSON.stringify(tensor.dtype)}, expected one of ${supportedDtypes()}`);
  }
  const bytesPerElement = DTYPE_BYTES[tensor.dtype];
  if (!isShape(tensor.shape)) {
    throw outOfRange(`tensor "${name}" shape is ${JSON.stringify(tensor.shape)}, expected an array of non-negative integers`);
  }
  const expectedBytes = elementCount(tensor.shape) * bytesPerElement;
  if (tensor.data.byteLength !== expectedBytes) {
    throw outOfRange(
      `tensor "${name}" data is ${tensor.data.byteLength} bytes, expected ${expectedBytes} ` +
        `(shape ${JSON.stringify(tensor.shape)} x ${bytesPerElement} bytes per ${tensor.dtype})`,
    );
  }
}

function readMetadata(value: unknown, corrupt: (detail: string) => CheckpointError): Record<string, string> {
  if (value === undefined) return {};
  if (!isPlainObject(value)) {
    throw corrupt(`"${METADATA_KEY}" is ${describeJson(value)}, expected an object of strings`);
  }
  const metadata: Record<string, string> = {};
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry !== 'string') {
      throw corrupt(`"${METADATA_KEY}"."${key}" is ${describeJson(entry)}, expected a string`);
    }
    setOwn(metadata, key, entry);
  }
  return metadata;
}

function readTensorEntry(
  name: string,
  entry: unknown,
  dataLength: number,
  corrupt: (detail: string) => CheckpointError,
): { dtype: TensorDtype; shape: number[]; begin: number; end: number } {
  if (!isPlainObject(entry)) {
    throw corrupt(`tensor "${name}" is ${describeJson(entry)}, expected {dtype, shape, data_offsets}`);
  }
  const { dtype, shape, data_offsets: offsets } = entry;
  if (!isSupportedDtype(dtype)) {
    throw corrupt(`tensor "${name}" dtype is ${describeJson(dtype)}, expected one of ${supportedDtypes()}`);
  }
  if (!isShape(shape)) {
    throw corrupt(`tensor "${name}" shape is ${describeJson(shape)}, expected an array of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeInteger) || offsets[0] > offsets[1]) {
    throw corrupt(`tensor "${name}" data_offsets is ${describeJson(offsets)}, expected [begin, end] with 0 <= begin <= end`);
  }
  const [begin, end] = offsets as [number, number];
  if (end > dataLength) {
    throw corrupt(
      `tensor "${name}" data_offsets ${JSON.stringify(offsets)} end past the data section of ${dataLength} bytes ` +
        `(truncated file?)`,
    );
  }
  const bytesPerElement = DTYPE_BYTES[dtype];
  const expectedBytes = elementCount(shape) * bytesPerElement;
  if (end - begin !== expectedBytes) {
    throw corrupt(
      `tensor "${name}" data_offsets ${JSON.stringify(offsets)} span ${end - begin} bytes, expected ${expectedBytes} ` +
        `(shape ${JSON.stringify(shape)} x ${bytesPerElement} bytes per ${dtype})`,
    );
  }
  return { dtype, shape, begin, end };
}

/** Plain assignment would treat a name such as "__proto__" from an untrusted header as the prototype. */
function setOwn<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isSupportedDtype(value: unknown): value is TensorDtype {
  return typeof value === 'string' && Object.hasOwn(DTYPE_BYTES, value);
}

function isNonNegativeInteger(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function isShape(value: unknown): value is number[] {
  return Array.isArray(value) && value.every(isNonNegativeInteger);
}

function supportedDtypes(): string {
  return Object.keys(DTYPE_BYTES).join(', ');
}

/** A short rendering of a header value for messages; long values are cut. */
function describeJson(value: unknown): string {
  if (value === undefined) return 'missing';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
