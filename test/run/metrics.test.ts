/** readMetrics: a torn last line (a killed run) is skipped; any other bad or duplicate line is refused by number. */
import fs from 'fs';
import os from 'os';
import path from 'path';

import { readMetrics } from '../../src/run';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'metrics-'));
const line = (epoch: number) => JSON.stringify({ epoch, attack: 'PGD-1', classNames: ['a'], counts: [1], cleanAccuracy: [1], robustAccuracy: [0.5], weightNorms: [1] });

function runWith(name: string, text: string): string {
  const run = path.join(dir, name);
  fs.mkdirSync(run);
  fs.writeFileSync(path.join(run, 'metrics.jsonl'), text);
  return run;
}

test('a torn last line is skipped', () => {
  const run = runWith('torn', `${line(1)}\n${line(2)}\n{"epoch":3,"cla`);
  expect(readMetrics(run).map((m) => m.epoch)).toEqual([1, 2]);
});

test.each([
  ['an unparseable line before the last', `${line(1)}\n{"epoch":2,"cla\n${line(3)}\n`, 'line 2 is not JSON'],
  ['a null line', `${line(1)}\nnull\n`, 'line 2 is null, expected an object with an integer epoch'],
  ['a line without an epoch', `${line(1)}\n{"attack":"x"}\n`, 'line 2 is {"attack":"x"}, expected an object with an integer epoch'],
  ['a duplicate epoch', `${line(1)}\n${line(2)}\n${line(2)}\n`, 'line 3 repeats epoch 2 (line 2)'],
  ['a line missing per-class fields', `${line(1)}\n{"epoch":2}\n`, 'line 2 (epoch 2) has no classNames, counts, cleanAccuracy or robustAccuracy arrays'],
])('%s is refused naming the line', (_, text, why) => {
  const run = runWith(_.replace(/\W+/g, '-'), text);
  const file = path.join(run, 'metrics.jsonl');
  expect(() => readMetrics(run)).toThrow(expect.objectContaining({
    code: 'ERR_RUN_CORRUPT',
    message: `${file}: ${why}; the file was edited or two runs wrote it: restore it, or train again into a new --out`,
  }));
});
