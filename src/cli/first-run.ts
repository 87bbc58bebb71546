/**
 * What `npm start` adds after training: the quick study on the run just trained, a one-paragraph reading of its
 * report and the commands to run next, each with this run's folder.
 */
import fs from 'fs';
import path from 'path';

import { isAvailable } from '../class-shares';
import { ClasswiseError } from '../errors';

/** The parts of report.json the reading uses (the confusion section's data is a ConfusionStudy). */
interface ReportJson {
  sections: { id: string; data: unknown }[];
}

interface ConfusionData {
  classNames: string[];
  robustAccuracy: number[];
  topTargets: { target: number; share: number }[][];
  /** Reports written before collapsed classes were recorded have none. */
  collapsed?: { index: number; goesTo: [number, number][] }[];
}

const percent = (value: number) => `${(100 * value).toFixed(1)}%`;

/**
 * Reads a study report's weakest classes (lowest robust accuracy under the main attack) and where their
 * adversarial examples go, as one paragraph; undefined when the report has no confusion section.
 */
export function readingOf(report: ReportJson, weakest = 2): string | undefined {
  const confusion = report.sections.find((section) => section.id === 'confusion')?.data as ConfusionData | undefined;
  if (!confusion || !Array.isArray(confusion.robustAccuracy)) return undefined;
  const names = confusion.classNames;
  // Classes without test examples (null in JSON) have no robust accuracy: left out of the weakest and the best.
  const order = confusion.robustAccuracy.map((robust, k) => ({ k, robust })).filter(({ robust }) => isAvailable(robust)).sort((a, b) => a.robust - b.robust);
  if (order.length === 0) return undefined;
  const best = order[order.length - 1];
  const collapsed = new Map((confusion.collapsed ?? []).map((entry) => [entry.index, entry]));
  const parts = order.slice(0, weakest).map(({ k, robust }) => {
    const gaveUp = collapsed.get(k);
    if (gaveUp) {
      const goesTo = gaveUp.goesTo.slice(0, 2).map(([target, share]) => `${names[target]} (${percent(share)})`).join(' and ');
      return `${names[k]} (robust ${percent(robust)}: a collapsed class, which the model almost never predicts even without attack${goesTo ? `; clean, its images go to ${goesTo}` : ''})`;
    }
    const [first, second] = confusion.topTargets[k] ?? [];
    const targets = first
      ? `, its adversarial examples going mostly to ${names[first.target]} (${percent(first.share)})${second ? ` and ${names[second.target]} (${percent(second.share)})` : ''}`
      : ', never broken';
    return `${names[k]} (robust ${percent(robust)}${targets})`;
  });
  return `Reading: the weakest classes are ${parts.join('; ')}. The most robust is ${names[best.k]} (${percent(best.robust)}). ` +
    'Confusions between visually similar classes point to semantic targets (the removal section tests whether removing the target helps); ' +
    'a class the model never predicts clean is a collapsed class, not an adversarial finding.';
}

/** The commands that follow a first run, with its folder. */
export function nextCommands(run: string): string[] {
  return [
    `node dist/cli/main.js study all --run ${run}            # the full study (all test images, 3 seeds; tens of minutes)`,
    `node dist/cli/main.js evaluate --checkpoint ${run} --attack autoattack   # the standard AutoAttack`,
    `node scripts/screenshot-report.js ${path.join(run, 'study-all', 'report.html')} ${path.join(run, 'study-all', 'report.png')}   # a PNG of the report`,
  ];
}

/** The closing lines of `npm start`: the report, its reading, the next commands. */
export function closingLines(run: string): string[] {
  const folder = path.join(run, 'study-all');
  const file = path.join(folder, 'report.json');
  if (!fs.existsSync(file)) throw new ClasswiseError('ERR_RUN_MISSING', `${file} not found: the quick study did not write its report; run \`node dist/cli/main.js study all --quick --run ${run}\``);
  const reading = readingOf(JSON.parse(fs.readFileSync(file, 'utf8')) as ReportJson);
  return [
    '',
    `report: ${path.join(folder, 'report.html')} (open it in a browser)`,
    ...(reading ? [reading] : []),
    'next:',
    ...nextCommands(run).map((line) => `  ${line}`),
  ];
}
