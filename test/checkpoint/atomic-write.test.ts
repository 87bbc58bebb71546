// The module object itself (not an import-star copy), so that jest.spyOn can replace its functions.
import fs = require('fs');
import * as os from 'os';
import * as path from 'path';
import { appendLineDurable, writeFileAtomic } from '../../src/checkpoint/atomic-write';

let folder: string;

beforeEach(() => {
  folder = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-write-'));
});

afterEach(() => {
  jest.restoreAllMocks();
  fs.rmSync(folder, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  test('creates the file with the given content and leaves no temp file', () => {
    const target = path.join(folder, 'checkpoint.safetensors');
    writeFileAtomic(target, Buffer.from([1, 2, 3]));

    expect(fs.readFileSync(target)).toEqual(Buffer.from([1, 2, 3]));
    expect(fs.readdirSync(folder)).toEqual(['checkpoint.safetensors']);
  });

  test('replaces existing content', () => {
    const target = path.join(folder, 'config.json');
    writeFileAtomic(target, 'old');
    writeFileAtomic(target, 'new');

    expect(fs.readFileSync(target, 'utf8')).toBe('new');
    expect(fs.readdirSync(folder)).toEqual(['config.json']);
  });

  test('writes the temp file next to the target, so the rename stays on one filesystem', () => {
    const target = path.join(folder, 'checkpoint.safetensors');
    const rename = jest.spyOn(fs, 'renameSync');
    writeFileAtomic(target, 'x');

    const [tempPath] = rename.mock.calls[0];
    expect(path.dirname(String(tempPath))).toBe(folder);
    expect(path.basename(String(tempPath))).toMatch(new RegExp(`^checkpoint\\.safetensors\\.tmp-${process.pid}-[0-9a-f]+$`));
  });

  test('keeps the old content and removes the temp file when the write fails midway', () => {
    const target = path.join(folder, 'checkpoint.safetensors');
    fs.writeFileSync(target, 'previous checkpoint');
    // A failing flush stands in for a full disk: the temp file exists by then and must not be left behind.
    jest.spyOn(fs, 'fsyncSync').mockImplementation(() => {
      throw Object.assign(new Error('ENOSPC: no space left on device, fsync'), { code: 'ENOSPC' });
    });

    expect(() => writeFileAtomic(target, 'new checkpoint')).toThrow(expect.objectContaining({ code: 'ERR_IO', message: `cannot write ${target}: no space left on the device; free space or choose a folder on another disk (ENOSPC)` }));
    expect(fs.readFileSync(target, 'utf8')).toBe('previous checkpoint');
    expect(fs.readdirSync(folder)).toEqual(['checkpoint.safetensors']);
  });

  test('fails with ENOENT, creating nothing, when the folder does not exist', () => {
    const target = path.join(folder, 'missing-run', 'checkpoint.safetensors');

    expect(() => writeFileAtomic(target, 'x')).toThrow(expect.objectContaining({ code: 'ERR_IO', message: expect.stringMatching(/its folder does not exist; create it first or choose another path \(ENOENT\)$/) }));
    expect(fs.readdirSync(folder)).toEqual([]);
  });
});

describe('appendLineDurable', () => {
  test('appends one newline-terminated line per call', () => {
    const metrics = path.join(folder, 'metrics.jsonl');
    appendLineDurable(metrics, JSON.stringify({ epoch: 0, loss: 1.5 }));
    appendLineDurable(metrics, JSON.stringify({ epoch: 1, loss: 0.9 }));

    expect(fs.readFileSync(metrics, 'utf8')).toBe('{"epoch":0,"loss":1.5}\n{"epoch":1,"loss":0.9}\n');
  });

  test('rejects a line with a line break, which would split one record in two', () => {
    const metrics = path.join(folder, 'metrics.jsonl');
    expect(() => appendLineDurable(metrics, 'a\nb')).toThrow(
      new RangeError(`line to append to ${metrics} contains a line break, expected a single line: "a\\nb"`),
    );
    expect(fs.existsSync(metrics)).toBe(false);
  });
});
