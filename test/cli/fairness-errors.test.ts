/** `train --fairness` mistakes: one line naming the value and the fix, exit code 1, before any training. */
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

const root = path.resolve(__dirname, '../..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-fairness-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

let runs = 0;
const quick = ['--dataset', 'mnist', '--epochs', '1', '--train-per-class', '5', '--eval-per-class', '2', '--train-steps', '1', '--eval-steps', '1', '--threads', '1'];

test.each([
  ['an unknown kind', ['--fairness', 'frl'], "error: option '--fairness <kind>' argument 'frl' is invalid. accepted: frl-rw, frl-rm, frl-rwrm, cfa, wat, dafa, faal"],
  ['a base method the kind is not defined on', ['--method', 'pgd', '--fairness', 'wat'], 'error: --fairness wat is defined on --method trades, not pgd; pass --method trades'],
  ['an option the kind does not use', ['--method', 'pgd', '--fairness', 'cfa', '--fairness-options', 'tau=0.1'],
    'error: fairness cfa does not use tau; its options are l1, l2, alpha, delta, begin, validationPerClass, validationSteps'],
  ['a malformed option', ['--method', 'trades', '--fairness', 'wat', '--fairness-options', 'eta'], 'error: --fairness-options: "eta" is not name=number (e.g. "tau=0.05")'],
  ['options without a kind', ['--fairness-options', 'tau=0.1'], 'error: --fairness-options needs --fairness KIND (frl-rw, frl-rm, frl-rwrm, cfa, wat, dafa, faal)'],
  ['a validation split larger than a class', ['--method', 'pgd', '--fairness', 'cfa', '--validation-per-class', '5000'],
    'error: the validation split of 5000 per class is not smaller than class "5" (690 training images); pass --validation-per-class below 690'],
  ['--init-from a missing file', ['--init-from', path.join(dir, 'none.safetensors')],
    `error: --init-from ${path.join(dir, 'none.safetensors')}: ${path.join(dir, 'none.safetensors')} not found; pass a run folder or a .safetensors checkpoint`],
])('%s', (_, args, message) => {
  const out = path.join(dir, `run-${runs++}`);
  const result = spawnSync(process.execPath, ['dist/cli/main.js', 'train', ...quick, ...args, '--out', out], { cwd: root, encoding: 'utf8' });
  expect(result.status).toBe(1);
  expect(result.stderr.trim().split('\n').slice(-1)[0]).toBe(message);
  expect(result.stderr).not.toContain('    at ');
  expect(fs.existsSync(path.join(out, 'checkpoint.safetensors'))).toBe(false);
});
