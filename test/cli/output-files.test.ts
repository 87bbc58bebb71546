/** No output option overwrites an input of the command or a file of a run folder; other existing files need --force. */
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { FASHION_MNIST_CLASSES, Model } from '../../src';

const root = path.resolve(__dirname, '../..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'output-files-'));
const run = path.join(dir, 'run');
const checkpoint = path.join(run, 'checkpoint.safetensors');
const metrics = path.join(run, 'metrics.jsonl');
const quick = ['--per-class', '1', '--attack', 'none', '--threads', '1'];

function cli(args: string[]) {
  const result = spawnSync(process.execPath, ['dist/cli/main.js', ...args], { cwd: root, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(async () => {
  fs.mkdirSync(run);
  const model = Model.create({ architecture: 'smallcnn', inputShape: [1, 28, 28], classNames: [...FASHION_MNIST_CLASSES], mean: [0.3], std: [0.35], device: 'cpu' });
  await model.save(checkpoint);
  fs.writeFileSync(metrics, '{"epoch":1}\n');
});

test.each([
  ['the checkpoint it evaluates', ['--checkpoint', checkpoint], checkpoint, 'is a file this command reads; choose another output file'],
  ['the checkpoint of the run folder it evaluates', ['--checkpoint', run], path.join(run, '..', 'run', 'checkpoint.safetensors'), 'is a file this command reads; choose another output file'],
  ['the run folder\'s metrics.jsonl', ['--checkpoint', checkpoint], metrics, 'would replace a checkpoint or run-folder file; choose another output file, e.g. result.json'],
  ['any .safetensors file', ['--checkpoint', checkpoint], path.join(dir, 'other.safetensors'), 'would replace a checkpoint or run-folder file; choose another output file, e.g. result.json'],
])('evaluate --json onto %s is refused before any work and the file is kept', (_, source, json, why) => {
  const before = fs.existsSync(json) ? fs.readFileSync(json) : undefined;
  const result = cli(['evaluate', ...source, ...quick, '--json', json]);
  expect(result.stderr).toBe(`error: --json ${json} ${why}\n`);
  expect(result.status).toBe(1);
  expect(result.stdout).toBe('');
  if (before) expect(fs.readFileSync(json).equals(before)).toBe(true);
  else expect(fs.existsSync(json)).toBe(false);
});

test('an existing file of another kind needs --force; an earlier result is replaced without it', () => {
  const notes = path.join(dir, 'notes.json');
  fs.writeFileSync(notes, 'my notes');
  const refused = cli(['evaluate', '--checkpoint', checkpoint, ...quick, '--json', notes]);
  expect(refused.stderr).toBe(`error: --json ${notes} exists and is not a result this command wrote; choose another file or pass --force to replace it\n`);
  expect(fs.readFileSync(notes, 'utf8')).toBe('my notes');

  const forced = cli(['evaluate', '--checkpoint', checkpoint, ...quick, '--json', notes, '--force']);
  expect(forced.status).toBe(0);
  expect(JSON.parse(fs.readFileSync(notes, 'utf8')).classNames).toHaveLength(10);

  const again = cli(['evaluate', '--checkpoint', checkpoint, ...quick, '--json', notes]);
  expect(again.status).toBe(0);
});

test('train without --out puts a second run beside the first (runs/<dataset>-<method>-2) instead of refusing or overwriting', () => {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'default-out-'));
  const tiny = ['--train-per-class', '3', '--eval-per-class', '2', '--epochs', '1', '--train-steps', '1', '--eval-steps', '1', '--threads', '1', '--device', 'cpu'];
  const train = () => spawnSync(process.execPath, [path.join(root, 'train.js'), ...tiny], { cwd, encoding: 'utf8' });
  const first = train();
  expect(first.status).toBe(0);
  const firstCheckpoint = fs.readFileSync(path.join(cwd, 'runs/fashion-mnist-pgd/checkpoint.safetensors'));
  const second = train();
  expect(second.stderr).not.toContain('error');
  expect(second.status).toBe(0);
  expect(second.stdout).toContain('note: runs/fashion-mnist-pgd holds an earlier run; this one goes to runs/fashion-mnist-pgd-2 (--out chooses the folder, --resume continues runs/fashion-mnist-pgd)');
  expect(second.stdout).toContain('run folder: runs/fashion-mnist-pgd-2');
  expect(fs.existsSync(path.join(cwd, 'runs/fashion-mnist-pgd-2/checkpoint.safetensors'))).toBe(true);
  expect(fs.readFileSync(path.join(cwd, 'runs/fashion-mnist-pgd/checkpoint.safetensors')).equals(firstCheckpoint)).toBe(true);
  fs.rmSync(cwd, { recursive: true, force: true });
});
