/** Experiment 7's summary: per-class changes, where the worst class moved, intervals in the table. */
import { mitigationSection, MitigationStudy } from '../../src/study/mitigation';

function study(): MitigationStudy {
  const side = (label: string, robust: number[]) => {
    const worst = robust.indexOf(Math.min(...robust));
    return { label, counts: [100, 100, 100], clean: [0.9, 0.8, 0.7], robust, worst: { classIndex: worst, robust: robust[worst] }, meanRobust: robust.reduce((a, b) => a + b) / 3, meanClean: 0.8 };
  };
  // Coat is the worst before (32%); after, Pullover falls to 0% and Coat too: the worst-class share stays near, the classes do not.
  return { classNames: ['Pullover', 'Coat', 'Bag'], attack: 'PGD-10', mitigation: 'logit bias', before: side('before', [0.59, 0.32, 0.8]), after: side('after', [0, 0.35, 0.9]) };
}

test('the summary says where the worst class moved and gives the per-class changes', () => {
  const section = mitigationSection(study());
  expect(section.findings[0]).toBe(
    'the worst class moved from Coat (32.0% -> 35.0%, +3.0 points) to Pullover (59.0% -> 0.0%, -59.0 points); worst-class robust accuracy 32.0% -> 0.0% (-32.0 points).',
  );
  expect(section.findings[1]).toBe('per-class robust change: largest gains Bag +10.0 points, Coat +3.0 points; largest losses Pullover -59.0 points.');
  expect(section.description).toContain('300 test examples, 100 per class');
});

test('the table gives every share its 95% Wilson interval and the change in points', () => {
  const [table] = mitigationSection(study()).tables;
  expect(table.columns).toEqual([
    'class', 'n', 'clean before', 'clean before 95% low', 'clean before 95% high', 'clean after', 'clean after 95% low', 'clean after 95% high', 'clean change (points)',
    'robust before', 'robust before 95% low', 'robust before 95% high', 'robust after', 'robust after 95% low', 'robust after 95% high', 'robust change (points)',
  ]);
  // 59 of 100: scipy's Wilson interval [0.4920, 0.6812]; 0 of 100: [0, 0.0370].
  expect(table.rows[0]).toEqual(['Pullover', 100, 90, 82.56, 94.48, 90, 82.56, 94.48, 0, 59, 49.2, 68.13, 0, 0, 3.7, -59]);
});
