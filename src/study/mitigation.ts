/**
 * Experiment 7 (claim 7, mitigation): worst-class and mean robust accuracy before and after a mitigation.
 * "After" is any model: another run trained with a mitigation setting, or this model with a per-class
 * logit bias at inference (the addon adds it to the logits of any architecture, so the attack sees it too).
 */
import { availableMean, isAvailable, shareOrNaN } from '../class-shares';
import { classIndexByName } from '../train/mitigation';
import { AttackOptions } from '../attack';
import { ImageDataset } from '../data/dataset';
import { Model } from '../model';
import { NativeDatasetHandle } from '../native';
import { groupedBarsChart } from '../report/charts';
import { untestedWarning } from '../report/class-table';
import { ReportSection } from '../report/study-report';
import { describeAttack as attackLabel } from '../attack';
import { describeCounts, displayNames, intervalCells, percent, percentValue, percentWithInterval, points } from './format';
import { studyError } from './run-folder';
import { evaluateTestImages, StreamedTestImages } from './test-images';

type EvaluationData = (Pick<ImageDataset, 'images' | 'labels'> & { native?: NativeDatasetHandle }) | StreamedTestImages;

export interface MitigationSide {
  label: string;
  /** Test examples per class (for the 95% intervals); absent in studies written before. */
  counts?: number[];
  clean: number[];
  robust: number[];
  worst: { classIndex: number; robust: number };
  meanRobust: number;
  meanClean: number;
}

export interface MitigationStudy {
  classNames: string[];
  attack: string;
  mitigation: string;
  before: MitigationSide;
  after: MitigationSide;
}

/** "shirt=0.5,coat=0.2" -> one bias per class (0 elsewhere). */
export function parseLogitBias(text: string, classNames: string[]): number[] {
  const bias = new Array<number>(classNames.length).fill(0);
  for (const part of text.split(',').filter((p) => p.trim() !== '')) {
    const at = part.lastIndexOf('=');
    const name = part.slice(0, at).trim();
    const value = Number(part.slice(at + 1));
    const k = /^\d+$/.test(name) ? Number(name) : classIndexByName(classNames, name);
    if (at < 0 || !Number.isFinite(value) || k < 0 || k >= classNames.length) {
      throw studyError(`--logit-bias "${part}" is not CLASS=VALUE with a class of this model (${classNames.join(', ')})`, 'ERR_INVALID_ARGUMENT');
    }
    bias[k] = value;
  }
  return bias;
}

/** One side of the comparison: a model, optionally with a per-class logit bias at inference. */
export interface MitigationModel {
  label: string;
  model: Model;
  logitBias?: number[];
}

async function side({ label, model, logitBias }: MitigationModel, data: EvaluationData, attackOptions: AttackOptions, seed?: number): Promise<MitigationSide> {
  const evaluation = await evaluateTestImages(model, data, { attack: attackOptions, seed, logitBias });
  const robust = evaluation.robustAccuracy;
  // Classes without test examples (NaN: not available) are left out of the worst class and the means.
  const tested = robust.flatMap((value, k) => (isAvailable(value) ? [k] : []));
  if (tested.length === 0) throw studyError('none of the classes has a test example; evaluate on a test set that holds images', 'ERR_INVALID_ARGUMENT');
  let worst = tested[0];
  for (const k of tested) if (robust[k] < robust[worst]) worst = k;
  return { label, counts: evaluation.counts, clean: evaluation.cleanAccuracy, robust, worst: { classIndex: worst, robust: robust[worst] }, meanRobust: availableMean(robust), meanClean: availableMean(evaluation.cleanAccuracy) };
}

export async function mitigationComparison(
  before: MitigationModel,
  after: MitigationModel,
  data: EvaluationData,
  options: { attack: AttackOptions; mitigation: string; seed?: number },
): Promise<MitigationStudy> {
  if (JSON.stringify(before.model.config.classNames) !== JSON.stringify(after.model.config.classNames)) {
    throw studyError('the models before and after the mitigation must have the same classes', 'ERR_INVALID_ARGUMENT');
  }
  return {
    classNames: before.model.config.classNames,
    attack: attackLabel(options.attack),
    mitigation: options.mitigation,
    before: await side(before, data, options.attack, options.seed),
    after: await side(after, data, options.attack, options.seed),
  };
}

export function mitigationSection(saved: MitigationStudy): ReportSection {
  // report.json holds null for a share not available: NaN again, so no difference reads it as 0.
  const revive = (side: MitigationSide): MitigationSide => ({ ...side, clean: side.clean.map(shareOrNaN), robust: side.robust.map(shareOrNaN) });
  const study = { ...saved, before: revive(saved.before), after: revive(saved.after) };
  const names = displayNames(study.classNames);
  const { before, after } = study;
  const counts = before.counts;
  const signed = (delta: number) => `${delta >= 0 ? '+' : ''}${points(delta)}`;
  const worstBefore = before.worst.classIndex;
  const worstAfter = after.worst.classIndex;
  const deltas = names.map((name, k) => ({ name, k, robust: after.robust[k] - before.robust[k], clean: after.clean[k] - before.clean[k] }));
  // A delta with either side not available is NaN: n/a in the table, in no list of gains or losses.
  const byDelta = deltas.filter((d) => isAvailable(d.robust)).sort((a, b) => a.robust - b.robust);
  const listed = (entries: typeof deltas) => (entries.length ? entries.map((d) => `${d.name} ${signed(d.robust)}`).join(', ') : 'none');
  const moved = worstAfter === worstBefore
    ? `${names[worstBefore]} stays the worst class: ${percent(before.worst.robust)} -> ${percent(after.robust[worstBefore])} (${signed(after.robust[worstBefore] - before.worst.robust)})`
    : `the worst class moved from ${names[worstBefore]} (${percent(before.worst.robust)} -> ${percent(after.robust[worstBefore])}, ${signed(after.robust[worstBefore] - before.robust[worstBefore])}) ` +
      `to ${names[worstAfter]} (${percent(before.robust[worstAfter])} -> ${percent(after.worst.robust)}, ${signed(after.worst.robust - before.robust[worstAfter])})`;
  const findings = [
    `${moved}; worst-class robust accuracy ${percent(before.worst.robust)} -> ${percent(after.worst.robust)} (${signed(after.worst.robust - before.worst.robust)}).`,
    `per-class robust change: largest gains ${listed(byDelta.filter((d) => d.robust > 0).slice(-3).reverse())}; largest losses ${listed(byDelta.filter((d) => d.robust < 0).slice(0, 3))}.`,
    `mean robust ${percent(before.meanRobust)} -> ${percent(after.meanRobust)}; mean clean ${percent(before.meanClean)} -> ${percent(after.meanClean)}.`,
  ];
  const untested = names.flatMap((_, k) => (isAvailable(before.robust[k]) && isAvailable(after.robust[k]) ? [] : [study.classNames[k]]));
  const warning = untestedWarning(untested);
  if (warning) findings.push(warning);
  // Classes not available sort last.
  const sortable = (value: number) => (isAvailable(value) ? value : Infinity);
  const share = (value: number, k: number) => (counts ? percentWithInterval(value, counts[k]) : { value: percentValue(value) });
  const intervalColumns = (label: string) => (counts ? [`${label} 95% low`, `${label} 95% high`] : []);
  const intervals = (value: number, k: number) => (counts ? intervalCells(value, counts[k]) : []);
  return {
    id: 'mitigation',
    title: '7. Mitigation',
    description: `Mitigation: ${study.mitigation}. Both models attacked with ${study.attack} on the same examples${counts ? ` (${describeCounts(counts)})` : ''}.`,
    findings,
    charts: [
      {
        spec: groupedBarsChart({
          title: 'Robust accuracy per class before and after (%)',
          rows: [before, after].flatMap((s) => names.map((name, k) => ({ className: name, group: s.label, ...share(s.robust[k], k) }))),
          yTitle: 'robust accuracy (%)',
          classOrder: names.map((_, k) => k).sort((a, b) => sortable(before.robust[a]) - sortable(before.robust[b]) || 0).map((k) => names[k]),
        }),
      },
    ],
    tables: [
      {
        title: 'Per class before and after (%)',
        columns: [
          'class', ...(counts ? ['n'] : []),
          'clean before', ...intervalColumns('clean before'), 'clean after', ...intervalColumns('clean after'), 'clean change (points)',
          'robust before', ...intervalColumns('robust before'), 'robust after', ...intervalColumns('robust after'), 'robust change (points)',
        ],
        rows: names.map((name, k) => [
          name, ...(counts ? [counts[k]] : []),
          percentValue(before.clean[k]), ...intervals(before.clean[k], k), percentValue(after.clean[k]), ...intervals(after.clean[k], k), percentValue(deltas[k].clean),
          percentValue(before.robust[k]), ...intervals(before.robust[k], k), percentValue(after.robust[k]), ...intervals(after.robust[k], k), percentValue(deltas[k].robust),
        ]),
      },
    ],
    data: study,
  };
}
