/** `npm start` on a tiny setting: training, the quick study, and the closing lines (report, reading, next commands). */
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { closingLines, readingOf } from '../../src/cli/first-run';

const root = path.resolve(__dirname, '../..');

test('npm start trains, then studies the run with the quick preset', () => {
  const start = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).scripts.start as string;
  expect(start).toBe('bash scripts/setup.sh && node train.js --study quick');
});

test('train --study quick ends in the report, its reading and the next commands with this run', () => {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'npm-start-')), 'run');
  const tiny = ['--train-per-class', '20', '--eval-per-class', '10', '--epochs', '1', '--train-steps', '1', '--batch-size', '128', '--eval-steps', '2', '--device', 'cpu'];
  const result = spawnSync(process.execPath, [path.join(root, 'train.js'), ...tiny, '--study', 'quick', '--out', out], { cwd: root, encoding: 'utf8' });
  expect(result.status).toBe(0);
  const lines = result.stdout.trimEnd().split('\n');
  expect(result.stdout).toContain(`study: node dist/cli/main.js study all --quick --run ${out} --device cpu`);
  expect(result.stdout).toContain('[study] quick preset: --per-class 50 --seeds 1 --attacks fgsm,pgd@10 --temperatures 2,10 --retrain-per-class 100 --retrain-epochs 1');
  const closing = lines.slice(lines.indexOf(`report: ${out}/study-all/report.html (open it in a browser)`));
  expect(closing[1]).toMatch(/^Reading: the weakest classes are .+ \(robust \d+\.\d%.*; .+\. The most robust is .+ \(\d+\.\d%\)\. /);
  expect(closing.slice(2)).toEqual([
    'next:',
    `  node dist/cli/main.js study all --run ${out}            # the full study (all test images, 3 seeds; tens of minutes)`,
    `  node dist/cli/main.js evaluate --checkpoint ${out} --attack autoattack   # the standard AutoAttack`,
    `  node scripts/screenshot-report.js ${out}/study-all/report.html ${out}/study-all/report.png   # a PNG of the report`,
  ]);
  expect(fs.existsSync(path.join(out, 'study-all', 'report.html'))).toBe(true);
  expect(closingLines(out)).toEqual(['', ...closing]);
});

/** A report whose only section is a confusion study of Coat, Shirt and Bag with these fields. */
function confusionReport(data: Record<string, unknown>) {
  return { sections: [{ id: 'confusion', data: { classNames: ['Coat', 'Shirt', 'Bag'], ...data } }] };
}

test('the reading names the weakest classes and their main adversarial targets', () => {
  const report = confusionReport({
    robustAccuracy: [0.4, 0.2, 0.9],
    topTargets: [[{ target: 1, share: 0.5 }], [{ target: 0, share: 0.6 }, { target: 2, share: 0.1 }], []],
  });
  expect(readingOf(report)).toBe('Reading: the weakest classes are Shirt (robust 20.0%, its adversarial examples going mostly to Coat (60.0%) and Bag (10.0%)); ' +
    'Coat (robust 40.0%, its adversarial examples going mostly to Shirt (50.0%)). The most robust is Bag (90.0%). ' +
    'Confusions between visually similar classes point to semantic targets (the removal section tests whether removing the target helps); ' +
    'a class the model never predicts clean is a collapsed class, not an adversarial finding.');
  expect(readingOf({ sections: [] })).toBeUndefined();
});

test('the reading calls a collapsed weakest class collapsed, with where its images go clean', () => {
  const report = confusionReport({
    robustAccuracy: [0.4, 0, 0.9],
    topTargets: [[{ target: 1, share: 0.5 }], [{ target: 0, share: 0.6 }], []],
    collapsed: [{ index: 1, goesTo: [[0, 0.7], [2, 0.2]] }],
  });
  expect(readingOf(report)).toMatch(/^Reading: the weakest classes are Shirt \(robust 0\.0%: a collapsed class, which the model almost never predicts even without attack; clean, its images go to Coat \(70\.0%\) and Bag \(20\.0%\)\); Coat \(robust 40\.0%, its adversarial examples going mostly to Shirt \(50\.0%\)\)\. /);
});
