import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CheckpointError, loadCheckpoint, saveCheckpoint, CheckpointMeta } from '../../src/checkpoint';
import { encodeSafetensors, TensorMap } from '../../src/checkpoint/safetensors';

let folder: string;

beforeEach(() => {
  folder = fs.mkdtempSync(path.join(os.tmpdir(), 'checkpoint-'));
});

afterEach(() => {
  fs.rmSync(folder, { recursive: true, force: true });
});

const tensors: TensorMap = {
  'fc.weight': { dtype: 'F32', shape: [2, 2], data: new Uint8Array(new Float32Array([1, -2, 3.5, 0]).buffer) },
  'optimizer.step': { dtype: 'I64', shape: [], data: new Uint8Array(new BigInt64Array([300n]).buffer) },
};
const meta: CheckpointMeta = {
  format: 'classwise-at/1',
  epoch: 3,
  seed: 42,
  config: { dataset: 'fashion-mnist', eps: 0.1, attack: { kind: 'pgd', steps: 10 } },
};

function loadError(filePath: string): CheckpointError {
  try {
    loadCheckpoint(filePath);
  } catch (error) {
    return error as CheckpointError;
  }
  throw new Error('expected loadCheckpoint to throw');
}

describe('saveCheckpoint and loadCheckpoint', () => {
  test('round-trip tensors and meta', () => {
    const file = path.join(folder, 'checkpoint.safetensors');
    saveCheckpoint(file, { tensors, meta });

    const loaded = loadCheckpoint(file);

    expect(loaded.meta).toEqual(meta);
    expect(Object.keys(loaded.tensors)).toEqual(['fc.weight', 'optimizer.step']);
    expect(Array.from(new Float32Array(loaded.tensors['fc.weight'].data.slice().buffer))).toEqual([1, -2, 3.5, 0]);
    expect(loaded.tensors['optimizer.step'].shape).toEqual([]);
  });

  test('store meta as strings in __metadata__, readable by any safetensors tool', () => {
    const file = path.join(folder, 'checkpoint.safetensors');
    saveCheckpoint(file, { tensors, meta });
    const raw = fs.readFileSync(file);
    const header = JSON.parse(raw.toString('utf8', 8, 8 + Number(raw.readBigUInt64LE(0))));

    expect(header.__metadata__).toEqual({
      format: 'classwise-at/1',
      epoch: '3',
      seed: '42',
      config: '{"dataset":"fashion-mnist","eps":0.1,"attack":{"kind":"pgd","steps":10}}',
    });
  });

  test('saving refuses a fractional epoch', () => {
    expect(() => saveCheckpoint(path.join(folder, 'c.safetensors'), { tensors, meta: { ...meta, epoch: 1.5 } })).toThrow(
      new RangeError('checkpoint meta.epoch is 1.5, expected a non-negative integer'),
    );
  });
});

describe('loadCheckpoint errors', () => {
  test('a missing file says what to pass instead', () => {
    const file = path.join(folder, 'nope.safetensors');
    const error = loadError(file);

    expect(error).toBeInstanceOf(CheckpointError);
    expect(error.code).toBe('ERR_CHECKPOINT_MISSING');
    expect(error.message).toBe(
      `checkpoint not found: ${file} (pass the .safetensors file written by train, e.g. runs/NAME/checkpoint.safetensors)`,
    );
  });

  test('a run folder instead of the file is reported as such', () => {
    const error = loadError(folder);
    expect(error.code).toBe('ERR_CHECKPOINT_MISSING');
    expect(error.message).toBe(
      `checkpoint path is a folder: ${folder} (pass the .safetensors file written by train, e.g. runs/NAME/checkpoint.safetensors)`,
    );
  });

  test('a file that is not safetensors is corrupt', () => {
    const file = path.join(folder, 'model.pt');
    // A PyTorch .pt file is a zip archive; its first 8 bytes read as an absurd header length.
    fs.writeFileSync(file, Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.alloc(60)]));
    const error = loadError(file);

    expect(error.code).toBe('ERR_CHECKPOINT_CORRUPT');
    expect(error.message).toMatch(/^.*model\.pt: header length is \d+ bytes but only 56 bytes follow it \(truncated file, or not a safetensors file\)$/);
  });

  test('a safetensors file from another tool is named as not ours', () => {
    const file = path.join(folder, 'hf-model.safetensors');
    fs.writeFileSync(file, encodeSafetensors(tensors, { format: 'pt' }));

    expect(loadError(file).message).toBe(`${file}: __metadata__.format is "pt", expected 'classwise-at/1'`);
  });

  test('a safetensors file without metadata is named as not ours', () => {
    const file = path.join(folder, 'bare.safetensors');
    fs.writeFileSync(file, encodeSafetensors(tensors, {}));

    expect(loadError(file).message).toBe(
      `${file}: is a safetensors file but not a classwise-at checkpoint: __metadata__.format is missing, ` +
        `expected 'classwise-at/1' (pass the .safetensors file written by train, e.g. runs/NAME/checkpoint.safetensors)`,
    );
  });

  test('an epoch that is not an integer is corrupt', () => {
    const file = path.join(folder, 'checkpoint.safetensors');
    fs.writeFileSync(file, encodeSafetensors(tensors, { format: 'classwise-at/1', epoch: 'three', seed: '1', config: '{}' }));

    const error = loadError(file);
    expect(error.code).toBe('ERR_CHECKPOINT_CORRUPT');
    expect(error.message).toBe(`${file}: __metadata__.epoch is "three", expected an integer`);
  });

  test('a config that is not a JSON object is corrupt', () => {
    const file = path.join(folder, 'checkpoint.safetensors');
    fs.writeFileSync(file, encodeSafetensors(tensors, { format: 'classwise-at/1', epoch: '1', seed: '1', config: '[1]' }));

    expect(loadError(file).message).toBe(`${file}: __metadata__.config is [1], expected a JSON object`);
  });
});
