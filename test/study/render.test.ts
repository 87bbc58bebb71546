/** report.json keeps every section's numbers: a report can be redrawn and merged without the model. */
import fs from 'fs';
import os from 'os';
import path from 'path';

import { writeReport } from '../../src/report/study-report';
import { robustnessOverEpochs, robustnessOverEpochsSection } from '../../src/study/epochs';
import { reportFromJson } from '../../src/study/render';
import { weightNormSection, weightNormStudy } from '../../src/study/weight-norm';

const metrics = [1, 2].map((epoch) => ({
  epoch,
  attack: 'PGD-20',
  classNames: ['0', '1', '2'],
  counts: [5, 5, 5],
  cleanAccuracy: [0.9, 0.8, 0.7],
  robustAccuracy: [0.5, 0.1 * epoch, 0.3],
  weightNorms: [1, 0.5, 0.7],
}));

test('sections are rebuilt from report.json, later files replacing earlier sections, in experiment order', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'render-'));
  const epochs = robustnessOverEpochsSection(robustnessOverEpochs(metrics));
  const weights = weightNormSection(weightNormStudy(metrics));
  const a = await writeReport({ title: 'a', settings: { run: 'x' }, sections: [weights, epochs] }, path.join(dir, 'a'));
  const b = await writeReport({ title: 'b', settings: {}, sections: [weightNormSection(weightNormStudy(metrics.slice(0, 1)))] }, path.join(dir, 'b'));
  const merged = reportFromJson([a.json, b.json]);
  expect(merged.title).toBe('a');
  expect(merged.sections.map((s) => s.id)).toEqual(['epochs', 'weight-norm']);
  expect(merged.sections[0].findings).toEqual(epochs.findings);
  expect(merged.sections[1].findings[0]).toMatch(/^epoch 1: /);
  expect(() => reportFromJson([path.join(dir, 'none.json')])).toThrow(`${path.join(dir, 'none.json')} not found`);
});
