/** File-system failures are one ERR_IO line naming the path and the fix, never a stack trace. */
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { FASHION_MNIST_CLASSES, Model } from '../../src';
import { appendLineDurable } from '../../src/checkpoint';

const root = path.resolve(__dirname, '../..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'io-errors-'));
const aFile = path.join(dir, 'a-file');
fs.writeFileSync(aFile, 'x');
const checkpoint = path.join(dir, 'model.safetensors');
let model: Model;

function cli(args: string[]) {
  const result = spawnSync(process.execPath, ['dist/cli/main.js', ...args], { cwd: root, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(async () => {
  model = Model.create({ architecture: 'smallcnn', inputShape: [1, 28, 28], classNames: [...FASHION_MNIST_CLASSES], mean: [0.3], std: [0.35], device: 'cpu' });
  await model.save(checkpoint);
});

test.each([
  ['into a missing folder', path.join(dir, 'missing', 'm.safetensors'), 'its folder does not exist; create it first or choose another path (ENOENT)'],
  ['under a file', path.join(aFile, 'm.safetensors'), 'a part of the path is a file, not a folder; choose another path (ENOTDIR)'],
  ['onto a folder', dir, 'it is a folder; name a file (EISDIR)'],
])('model.save %s is ERR_IO naming the path', async (_, file, why) => {
  await expect(model.save(file)).rejects.toMatchObject({ code: 'ERR_IO', message: `cannot write ${file}: ${why}` });
});

test('a full disk while appending a metrics line is ERR_IO (ENOSPC)', () => {
  expect(() => appendLineDurable('/dev/full', '{"epoch":1}')).toThrow(expect.objectContaining({
    code: 'ERR_IO',
    message: 'cannot append to /dev/full: no space left on the device; free space or choose a folder on another disk (ENOSPC)',
  }));
});

test.each([
  ['a file that is not JSON', aFile, 'it is not JSON'],
  ['a checkpoint', checkpoint, 'it is not JSON'],
  ['a folder', dir, 'it is a folder'],
])('study render --from %s is one line', (_, from, why) => {
  const result = cli(['study', 'render', '--from', from, '--out', path.join(dir, 'rendered')]);
  expect(result.stderr).toBe(`error: ${from} is not a report.json written by a study command (${why}); pass the report.json of a study folder\n`);
  expect(result.status).toBe(1);
});

test('study on a checkpoint file writes its default report folder beside the file, not under it', () => {
  const result = cli(['study', 'attacks', '--run', checkpoint, '--attacks', 'fgsm,pgd@2', '--attack', 'pgd@2', '--eps', '0.1', '--per-class', '1', '--threads', '1']);
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  expect(fs.existsSync(path.join(dir, 'model-study-attacks', 'report.html'))).toBe(true);
});
