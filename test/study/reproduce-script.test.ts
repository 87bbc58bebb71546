/**
 * `npm run reproduce:fashion-mnist` (scripts/reproduce-fashion-mnist.sh) on a tiny budget in two lanes: three runs,
 * the seven experiments and one report; a second invocation keeps everything; a wrong LANES is refused.
 */
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

const root = path.resolve(__dirname, '../..');
const script = path.join(root, 'scripts', 'reproduce-fashion-mnist.sh');
const tiny = {
  LANES: '2', EPOCHS: '1', TRAIN_STEPS: '2', TRAIN_STEP_SIZE: '0.05', LR: '0.1',
  TRAIN_PER_CLASS: '30', EVAL_PER_CLASS: '10', STUDY_PER_CLASS: '10', SEEDS: '1',
};
const experiments = ['epochs', 'confusion', 'removal', 'weight-norm', 'attacks', 'temperature', 'mitigation'];

function reproduce(out: string, env: Record<string, string>) {
  return spawnSync('bash', [script, out], { cwd: root, encoding: 'utf8', env: { ...process.env, ...env } });
}

test('the tiny budget in two lanes trains three runs, runs the seven experiments and renders one report; a rerun keeps it all', () => {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'reproduce-')), 'fm');
  const first = reproduce(out, tiny);
  expect(first.stderr).toBe('');
  expect(first.status).toBe(0);
  expect(first.stdout.split('\n')[0]).toBe('[reproduce] budget: --dataset fashion-mnist --train-per-class 30 --eval-per-class 10 --epochs 1 ' +
    '--train-steps 2 --train-step-size 0.05 --lr 0.1 --batch-size 128 --schedule cyclic  --threads 1; study on 10 test images per class, 1 seeds; 2 lane(s)');
  for (const run of ['pgd', 'trades', 'mitigated']) {
    const epochs = fs.readFileSync(path.join(out, run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(epochs.filter((record) => record.epoch === 1)).toHaveLength(1);
  }
  for (const log of ['training-1', 'training-2', 'studies-1', 'studies-2']) expect(fs.existsSync(path.join(out, `lane-${log}.log`))).toBe(true);
  const report = JSON.parse(fs.readFileSync(path.join(out, 'report', 'report.json'), 'utf8'));
  expect(report.sections.map((section: { id: string }) => section.id).sort())
    .toEqual(['attack-strength', 'class-removal', 'confusion', 'epochs', 'mitigation', 'temperature', 'weight-norm']);
  expect(fs.existsSync(path.join(out, 'report', 'report.html'))).toBe(true);

  const stamp = (experiment: string) => fs.statSync(path.join(out, 'study', experiment, 'report.json')).mtimeMs;
  const before = experiments.map(stamp);
  const second = reproduce(out, tiny);
  expect(second.status).toBe(0);
  // With two lanes, most studies print into the lane logs, which the second invocation rewrote.
  const printed = second.stdout + ['studies-1', 'studies-2'].map((log) => fs.readFileSync(path.join(out, `lane-${log}.log`), 'utf8')).join('');
  for (const experiment of experiments) expect(printed).toContain(`[reproduce] study ${experiment}: kept (${out}/study/${experiment}/report.json)`);
  expect(experiments.map(stamp)).toEqual(before);
}, 300_000);

test('LANES other than 1 or 2 is refused, naming the two choices', () => {
  const result = reproduce(path.join(os.tmpdir(), 'never-written'), { LANES: '3' });
  expect(result.status).toBe(2);
  expect(result.stderr).toBe('reproduce-fashion-mnist: LANES=3: use 1 (one process) or 2 (two 1-thread processes)\n');
  expect(fs.existsSync(path.join(os.tmpdir(), 'never-written'))).toBe(false);
});
