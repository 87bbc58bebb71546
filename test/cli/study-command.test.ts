/** `classwise-at study` as a user meets it: a report from a run's metrics, and one-line errors. */
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

const root = path.resolve(__dirname, '../..');

function run(args: string[]) {
  const result = spawnSync(process.execPath, ['dist/cli/main.js', 'study', ...args], { cwd: root, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function fakeRun(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'study-cli-'));
  const classNames = ['T-shirt/top', 'Shirt <b>', 'Trouser'];
  const lines = [1, 2].map((epoch) =>
    JSON.stringify({
      epoch,
      attack: 'PGD-20 Linf eps=0.1 step=0.0125',
      classNames,
      counts: [10, 10, 10],
      cleanAccuracy: [0.8, 0.6, 0.95],
      robustAccuracy: [0.5, 0.2 + 0.1 * epoch, 0.9],
      weightNorms: [0.7, 0.5, 0.9],
    }),
  );
  fs.writeFileSync(path.join(dir, 'metrics.jsonl'), lines.join('\n') + '\n');
  return dir;
}

test('study epochs writes the report and prints each finding with its numbers', () => {
  const dir = fakeRun();
  const result = run(['epochs', '--run', dir]);
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  expect(result.stdout).toContain('  - epoch 2: robust accuracy ranges from 40.0% (Shirt <b>) to 90.0% (Trouser), a class-wise gap of 50.0 points; mean 60.0% robust, 78.3% clean.');
  const html = fs.readFileSync(path.join(dir, 'study-epochs', 'report.html'), 'utf8');
  expect(html).toContain('Shirt &lt;b&gt;');
  expect(html).not.toContain('Shirt <b>');
  expect(fs.readdirSync(path.join(dir, 'study-epochs', 'csv')).sort()).toEqual(['epochs-best-to-worst-band.csv', 'epochs-robust-accuracy-per-class-and-epoch.csv']);
});

test('study weight-norm reports Pearson and Spearman with p-values', () => {
  const result = run(['weight-norm', '--run', fakeRun()]);
  expect(result.status).toBe(0);
  expect(result.stdout).toMatch(/epoch 2: Pearson r = [-0-9.]+ \(p = [0-9.e-]+\), Spearman rho = 1\.000 \(p = 0\)/);
});

test('a missing run folder and a bad attack spec are one line each', () => {
  const missing = run(['epochs', '--run', '/nonexistent/run']);
  expect(missing.status).toBe(1);
  // The rest of the line lists the runs in runs/, which depend on this checkout.
  expect(missing.stderr.trim()).toMatch(/^error: \/nonexistent\/run\/metrics\.jsonl not found: pass --run with a run folder written by `classwise-at train --out DIR`; (runs that exist: |no run folders in \/nonexistent or runs; )/);
});
