import { CheckpointError, decodeSafetensors, encodeSafetensors, NamedTensor } from '../../src/checkpoint/safetensors';

function float32Tensor(shape: number[], values: number[]): NamedTensor {
  return { dtype: 'F32', shape, data: new Uint8Array(new Float32Array(values).buffer) };
}

function int64Tensor(shape: number[], values: bigint[]): NamedTensor {
  return { dtype: 'I64', shape, data: new Uint8Array(new BigInt64Array(values).buffer) };
}

/** A file from a hand-written header and data section, to feed the decoder exactly the bytes a test needs. */
function fileWithHeader(header: string, data: Uint8Array = new Uint8Array(0)): Buffer {
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(Buffer.byteLength(header)));
  return Buffer.concat([length, Buffer.from(header, 'utf8'), data]);
}

function decodeError(buf: Buffer): CheckpointError {
  try {
    decodeSafetensors(buf, 'model.safetensors');
  } catch (error) {
    return error as CheckpointError;
  }
  throw new Error('expected decodeSafetensors to throw');
}

describe('encodeSafetensors', () => {
  test('writes the known bytes of a one-tensor file, as Python save_file would', () => {
    // save_file({"a": torch.tensor([1.0, 2.0])}, "x.safetensors", metadata={"k": "v"}):
    // compact JSON, "__metadata__" first, 79 bytes padded with one space to 80 (a multiple of 8).
    const headerJson = '{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} ';
    expect(headerJson).toHaveLength(80);
    const expected = Buffer.concat([
      Buffer.from([80, 0, 0, 0, 0, 0, 0, 0]), // u64 little-endian header length
      Buffer.from(headerJson, 'utf8'),
      Buffer.from([0x00, 0x00, 0x80, 0x3f]), // 1.0f little-endian
      Buffer.from([0x00, 0x00, 0x00, 0x40]), // 2.0f little-endian
    ]);

    const encoded = encodeSafetensors({ a: float32Tensor([2], [1, 2]) }, { k: 'v' });

    expect(encoded.equals(expected)).toBe(true);
  });

  test('lays out tensors in insertion order, contiguously, with the data section 8-byte aligned', () => {
    const encoded = encodeSafetensors(
      { weight: float32Tensor([3], [1, 2, 3]), step: int64Tensor([], [7n]) },
      {},
    );
    const headerLength = Number(encoded.readBigUInt64LE(0));
    const header = JSON.parse(encoded.toString('utf8', 8, 8 + headerLength));

    expect(headerLength % 8).toBe(0);
    expect(Object.keys(header)).toEqual(['weight', 'step']);
    expect(header.weight.data_offsets).toEqual([0, 12]);
    expect(header.step.data_offsets).toEqual([12, 20]);
    expect(encoded.length).toBe(8 + headerLength + 20);
  });

  test('omits "__metadata__" when there is none, as Python does for metadata=None', () => {
    const encoded = encodeSafetensors({ a: float32Tensor([1], [0]) }, {});
    expect(encoded.toString('utf8', 8, 8 + Number(encoded.readBigUInt64LE(0)))).not.toContain('__metadata__');
  });

  test('rejects data whose size does not match shape and dtype', () => {
    expect(() => encodeSafetensors({ a: float32Tensor([3], [1, 2]) }, {})).toThrow(
      new RangeError('tensor "a" data is 8 bytes, expected 12 (shape [3] x 4 bytes per F32)'),
    );
  });

  test('rejects a tensor named "__metadata__"', () => {
    expect(() => encodeSafetensors({ __metadata__: float32Tensor([1], [0]) }, {})).toThrow(
      'tensor name "__metadata__" is reserved for metadata',
    );
  });
});

describe('decodeSafetensors', () => {
  test('round-trips F32 and I64 tensors and metadata byte for byte', () => {
    const tensors = {
      'conv1.weight': float32Tensor([2, 2], [0.5, -1.25, 3e-8, 42]),
      'optimizer.step': int64Tensor([2], [1234567890123n, -5n]),
      empty: float32Tensor([0, 3], []),
    };
    const metadata = { format: 'classwise-at/1', note: 'ünïcode ✓' };

    const decoded = decodeSafetensors(encodeSafetensors(tensors, metadata), 'model.safetensors');

    expect(decoded.metadata).toEqual(metadata);
    expect(Object.keys(decoded.tensors)).toEqual(Object.keys(tensors));
    for (const [name, tensor] of Object.entries(tensors)) {
      expect(decoded.tensors[name].dtype).toBe(tensor.dtype);
      expect(decoded.tensors[name].shape).toEqual(tensor.shape);
      expect(Buffer.from(decoded.tensors[name].data).equals(Buffer.from(tensor.data))).toBe(true);
    }
  });

  test('returns views into the file buffer, not copies', () => {
    const file = encodeSafetensors({ a: float32Tensor([2], [1, 2]) }, {});
    const { tensors } = decodeSafetensors(file, 'model.safetensors');

    expect(tensors.a.data.buffer).toBe(file.buffer);
    // A plain Uint8Array, so data.slice() makes a real copy as it does for any typed array.
    expect(Buffer.isBuffer(tensors.a.data)).toBe(false);
    expect(tensors.a.data.byteOffset).toBe(file.byteOffset + file.length - 8);
  });

  test('reads a file without "__metadata__" as empty metadata', () => {
    const file = fileWithHeader('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', new Uint8Array([9]));
    expect(decodeSafetensors(file, 'model.safetensors').metadata).toEqual({});
  });

  test('a file shorter than the length field is corrupt', () => {
    const error = decodeError(Buffer.from([1, 2, 3]));
    expect(error).toBeInstanceOf(CheckpointError);
    expect(error.code).toBe('ERR_CHECKPOINT_CORRUPT');
    expect(error.message).toBe(
      'model.safetensors: file is 3 bytes, too short for the 8-byte header length (empty or truncated file)',
    );
  });

  test('a header length past the end of the file is corrupt', () => {
    const file = Buffer.alloc(16);
    file.writeBigUInt64LE(1000n);
    expect(decodeError(file).message).toBe(
      'model.safetensors: header length is 1000 bytes but only 8 bytes follow it (truncated file, or not a safetensors file)',
    );
  });

  test('a file truncated inside the tensor data names the tensor and the offsets', () => {
    const file = encodeSafetensors({ a: float32Tensor([2], [1, 2]) }, { k: 'v' });
    const error = decodeError(file.subarray(0, file.length - 3));
    expect(error.code).toBe('ERR_CHECKPOINT_CORRUPT');
    expect(error.message).toBe(
      'model.safetensors: tensor "a" data_offsets [0,8] end past the data section of 5 bytes (truncated file?)',
    );
  });

  test('a header that is not JSON is corrupt', () => {
    expect(decodeError(fileWithHeader('{"a": nope}')).message).toMatch(
      /^model\.safetensors: header is not valid JSON \(.+\), expected a safetensors JSON header$/,
    );
  });

  test('offsets that disagree with shape x dtype size are corrupt', () => {
    const file = fileWithHeader('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', new Uint8Array(8));
    expect(decodeError(file).message).toBe(
      'model.safetensors: tensor "a" data_offsets [0,8] span 8 bytes, expected 12 (shape [3] x 4 bytes per F32)',
    );
  });

  test('overlapping tensors are corrupt', () => {
    const header =
      '{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}';
    expect(decodeError(fileWithHeader(header, new Uint8Array(6))).message).toBe(
      'model.safetensors: tensor "b" data_offsets start at 2, expected 4 (tensor data must be contiguous, without gaps or overlaps)',
    );
  });

  test('bytes after the last tensor are corrupt', () => {
    const file = fileWithHeader('{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}', new Uint8Array(5));
    expect(decodeError(file).message).toBe(
      'model.safetensors: data section is 5 bytes but the tensors cover 2, expected them to cover it exactly',
    );
  });

  test('an unsupported dtype names the supported ones', () => {
    const file = fileWithHeader('{"a":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}}', new Uint8Array(2));
    expect(decodeError(file).message).toBe(
      'model.safetensors: tensor "a" dtype is "BF16", expected one of F32, F64, I64, I32, U8',
    );
  });

  test('a negative or fractional shape is corrupt', () => {
    const file = fileWithHeader('{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,0]}}');
    expect(decodeError(file).message).toBe(
      'model.safetensors: tensor "a" shape is [-1], expected an array of non-negative integers',
    );
  });

  test('non-string metadata values are corrupt', () => {
    expect(decodeError(fileWithHeader('{"__metadata__":{"epoch":3}}')).message).toBe(
      'model.safetensors: "__metadata__"."epoch" is 3, expected a string',
    );
  });
});

describe('decodeSafetensors on untrusted headers', () => {
  test('a tensor named "__proto__" is an ordinary entry, not the prototype', () => {
    const file = fileWithHeader('{"__proto__":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', new Uint8Array([7]));
    const { tensors } = decodeSafetensors(file, 'model.safetensors');

    expect(Object.getPrototypeOf(tensors)).toBe(Object.prototype);
    expect(Object.keys(tensors)).toEqual(['__proto__']);
    expect(Array.from(tensors['__proto__'].data)).toEqual([7]);
  });
});
