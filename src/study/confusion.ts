/**
 * Experiment 2 (claim 2, semantic targets): the adversarial confusion matrix (row = true class, column =
 * class of the adversarial example, row-normalised), the top target classes of every class, and per
 * example the set of classes it was attacked into over several attacks and random restarts (seeds).
 * Examples whose successful attacks only ever land in one class are grouped by (class, target).
 */
import { isAvailable, shareOrNaN, unavailableClasses } from '../class-shares';
import { CollapsedClass, collapsedClasses } from '../collapsed-classes';
import { AttackOptions } from '../attack';
import { ImageDataset } from '../data/dataset';
import { Model } from '../model';
import { heatmapChart } from '../report/charts';
import { untestedWarning } from '../report/class-table';
import { ReportSection } from '../report/study-report';
import { describeAttack as attackLabel } from '../attack';
import { describeCounts, displayNames, intervalCells, percent, percentValue } from './format';
import { loadIntoNative } from '../data/native-dataset';
import { DatasetError, invalidArgument } from '../errors';
import { studyError } from './run-folder';
import { evaluateTestImages, isStreamedTestImages, StreamedTestImages } from './test-images';

export interface ConfusionOptions {
  /** The first attack gives the confusion matrix; all of them feed the per-example target sets. */
  attacks: AttackOptions[];
  /** Independent runs (seeds) of each attack; default 3. */
  seeds?: number;
  seed?: number;
  batchSize?: number;
  /** Top target classes listed per class; default 3. */
  topTargets?: number;
  onStage?: (text: string) => void;
}

export interface TargetShare {
  target: number;
  count: number;
  /** Share of the class's successful adversarial examples (under the first attack) that land in `target`. */
  share: number;
}

export interface SingleTargetGroup {
  source: number;
  target: number;
  /** Indices into the studied examples. */
  examples: number[];
  /** Share of the source class's attackable examples (nonempty target set) that form this group. */
  shareOfAttackable: number;
}

export interface ConfusionStudy {
  classNames: string[];
  labels: number[];
  attacks: string[];
  seeds: number;
  /** Per example: classified correctly without attack (absent when not measured). */
  cleanCorrect?: boolean[];
  /** Counts [true][adversarial prediction] under the first attack (first seed). */
  confusion: number[][];
  /** Each row divided by its total. */
  rowNormalised: number[][];
  /** Studied examples per class (the rows' totals), behind every share. */
  counts?: number[];
  robustAccuracy: number[];
  /** Robust accuracy when an example counts as broken if any attack and seed broke it. */
  robustAccuracyUnion: number[];
  /** Per class, the first attack's robust accuracy of each seed (random start), [class][seed]. */
  robustAccuracyPerSeed?: number[][];
  topTargets: TargetShare[][];
  /** Per example, sorted classes other than its own that some attack run predicted. */
  targetSets: number[][];
  singleTargetGroups: SingleTargetGroup[];
  /** Per class: clean-correct examples broken at least once, and how many of them always went to one class. */
  attackable: number[];
  singleTarget: number[];
  /** Classes the model (almost) never predicts clean on these examples: their targets say nothing about attacks. */
  collapsed?: CollapsedClass[];
}

/** `data`: in memory, or streamed (every image decoded again for each attack run, memory bounded). */
export async function adversarialConfusion(model: Model, data: ImageDataset | StreamedTestImages, options: ConfusionOptions): Promise<ConfusionStudy> {
  if (!(model instanceof Model)) throw invalidArgument('adversarialConfusion needs a Model as its first argument');
  if (!data || !(data.labels instanceof Int32Array)) throw invalidArgument('adversarialConfusion needs a dataset { images, labels, shape } as its second argument');
  if (!options || !Array.isArray(options.attacks)) throw invalidArgument('adversarialConfusion options must be { attacks: AttackOptions[] }');
  if (options.attacks.length === 0) throw studyError('the confusion study needs at least one attack', 'ERR_INVALID_ARGUMENT');
  const seeds = options.seeds ?? 3;
  // The images go into the addon once; each attack run reads them there (uint8, no float copy in JavaScript).
  const resident = isStreamedTestImages(data) ? data : loadIntoNative(data);
  const clean = await evaluateTestImages(model, resident, { batchSize: options.batchSize });
  if (clean.cleanPredictions.length !== data.count) {
    // Predictions are matched to images by position: a file skipped while streaming would shift every later one.
    throw new DatasetError('ERR_DATASET_CORRUPT', `${data.count - clean.cleanPredictions.length} of the ${data.count} test images of ${data.source} could not be decoded (the warnings name them); the confusion study follows each image through every attack: remove or replace those files, or pass --per-class N to study a subset decoded into memory`);
  }
  const runs: Int32Array[] = [];
  for (const attackOptions of options.attacks) {
    for (let s = 0; s < seeds; s++) {
      options.onStage?.(`attack ${attackLabel(attackOptions)}, seed ${s + 1}/${seeds}, ${data.count} examples`);
      const result = await evaluateTestImages(model, resident, { attack: attackOptions, seed: (options.seed ?? 0) + s, batchSize: options.batchSize });
      runs.push(result.adversarialPredictions);
    }
  }
  return {
    classNames: model.config.classNames,
    attacks: options.attacks.map(attackLabel),
    seeds,
    ...targetStatistics(data.labels, runs, model.numClasses, options.topTargets ?? 3, clean.cleanPredictions),
    robustAccuracyPerSeed: robustAccuracyPerRun(data.labels, runs.slice(0, seeds), model.numClasses),
    collapsed: collapsedClasses(model.config.classNames, clean.cleanConfusion),
  };
}

/** Per class, the robust accuracy of each run: [class][run]. */
export function robustAccuracyPerRun(labels: Int32Array, runs: Int32Array[], classes: number): number[][] {
  const totals = new Array<number>(classes).fill(0);
  labels.forEach((label) => totals[label]++);
  return Array.from({ length: classes }, (_, k) =>
    runs.map((predictions) => {
      let correct = 0;
      for (let i = 0; i < labels.length; i++) if (labels[i] === k && predictions[i] === k) correct++;
      return totals[k] ? correct / totals[k] : NaN;
    }),
  );
}

/** Mean and sample standard deviation (n - 1; 0 for one value). */
export function meanAndStd(values: readonly number[]): { mean: number; std: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const squares = values.reduce((sum, value) => sum + (value - mean) ** 2, 0);
  return { mean, std: values.length > 1 ? Math.sqrt(squares / (values.length - 1)) : 0 };
}

/**
 * Everything of the study that follows from the predictions of each attack run; runs[0] gives the matrix.
 * With clean predictions, examples misclassified without attack have no adversarial example to speak of:
 * they count in the matrix and robust accuracy but not as attackable or in single-target groups.
 */
export function targetStatistics(
  labels: Int32Array,
  runs: Int32Array[],
  classes: number,
  topCount = 3,
  cleanPredictions?: Int32Array,
): Omit<ConfusionStudy, 'classNames' | 'attacks' | 'seeds'> {
  const targetSets = Array.from({ length: labels.length }, () => new Set<number>());
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  runs.forEach((predictions, run) => {
    for (let i = 0; i < labels.length; i++) {
      if (run === 0) confusion[labels[i]][predictions[i]]++;
      if (predictions[i] !== labels[i]) targetSets[i].add(predictions[i]);
    }
  });
  const rowTotals = confusion.map((row) => row.reduce((x, y) => x + y, 0));
  const rowNormalised = confusion.map((row, k) => row.map((count) => (rowTotals[k] ? count / rowTotals[k] : 0)));
  // A class without test examples has no robust accuracy: NaN (null in report.json), n/a in the tables.
  const robustAccuracy = confusion.map((row, k) => (rowTotals[k] ? row[k] / rowTotals[k] : NaN));
  const topTargets = confusion.map((row, k) => {
    const broken = rowTotals[k] - row[k];
    return row
      .map((count, target) => ({ target, count, share: broken ? count / broken : 0 }))
      .filter((entry) => entry.target !== k && entry.count > 0)
      .sort((x, y) => y.count - x.count || x.target - y.target)
      .slice(0, topCount);
  });
  const attackable = new Array<number>(classes).fill(0);
  const singleTarget = new Array<number>(classes).fill(0);
  const unbroken = new Array<number>(classes).fill(0);
  const groups = new Map<string, SingleTargetGroup>();
  targetSets.forEach((set, i) => {
    const source = labels[i];
    if (set.size === 0) {
      unbroken[source]++;
      return;
    }
    if (cleanPredictions && cleanPredictions[i] !== source) return;
    attackable[source]++;
    if (set.size !== 1) return;
    singleTarget[source]++;
    const target = [...set][0];
    const key = `${source}:${target}`;
    if (!groups.has(key)) groups.set(key, { source, target, examples: [], shareOfAttackable: 0 });
    groups.get(key)!.examples.push(i);
  });
  const singleTargetGroups = [...groups.values()]
    .map((group) => ({ ...group, shareOfAttackable: group.examples.length / attackable[group.source] }))
    .sort((x, y) => y.examples.length - x.examples.length || x.source - y.source);
  return {
    labels: Array.from(labels),
    cleanCorrect: cleanPredictions ? Array.from(labels, (label, i) => cleanPredictions[i] === label) : undefined,
    confusion,
    rowNormalised,
    counts: rowTotals,
    robustAccuracy,
    robustAccuracyUnion: rowTotals.map((total, k) => (total ? unbroken[k] / total : NaN)),
    topTargets,
    targetSets: targetSets.map((set) => [...set].sort((x, y) => x - y)),
    singleTargetGroups,
    attackable,
    singleTarget,
  };
}

/** Per class, mean and std of the first attack's robust accuracy over seeds; undefined with one seed. */
function seedSpread(study: ConfusionStudy): { mean: number; std: number }[] | undefined {
  const perSeed = study.robustAccuracyPerSeed;
  if (!perSeed || study.seeds < 2) return undefined;
  return perSeed.map((values) => (values.every(isAvailable) ? meanAndStd(values) : { mean: NaN, std: NaN }));
}

export function confusionSection(saved: ConfusionStudy): ReportSection {
  // report.json holds null for a share not available (a class without test examples): NaN again.
  const study: ConfusionStudy = {
    ...saved,
    robustAccuracy: saved.robustAccuracy.map(shareOrNaN),
    robustAccuracyUnion: saved.robustAccuracyUnion.map(shareOrNaN),
    robustAccuracyPerSeed: saved.robustAccuracyPerSeed?.map((values) => values.map(shareOrNaN)),
  };
  const names = displayNames(study.classNames);
  // Studies written before the counts were kept: the rows of the confusion matrix hold them.
  const counts = study.counts ?? study.confusion.map((row) => row.reduce((a, b) => a + b, 0));
  const order = study.robustAccuracy.map((robust, k) => ({ k, robust })).filter(({ robust }) => isAvailable(robust)).sort((a, b) => a.robust - b.robust);
  // Collapsed classes first, each named as such; the weakest of the others follow with their targets.
  const collapsed = new Set((study.collapsed ?? []).map((entry) => entry.index));
  const findings = (study.collapsed ?? []).map((entry) => collapsedFinding(entry, names));
  findings.push(...order.filter(({ k }) => !collapsed.has(k)).slice(0, 3).map(({ k, robust }) => {
    const top = study.topTargets[k][0];
    return top
      ? `${names[k]}: robust ${percent(robust)}, ${percent(top.share)} of its adversarial examples go to ${names[top.target]}` +
          (study.topTargets[k][1] ? `, ${percent(study.topTargets[k][1].share)} to ${names[study.topTargets[k][1].target]}.` : '.')
      : `${names[k]}: robust ${percent(robust)}, never attacked successfully.`;
  }));
  const pairs = study.singleTargetGroups.slice(0, 3).map((g) => `${names[g.source]} -> ${names[g.target]} (${g.examples.length})`);
  const totalAttackable = study.attackable.reduce((a, b) => a + b, 0);
  const totalSingle = study.singleTarget.reduce((a, b) => a + b, 0);
  findings.push(
    `${totalSingle} of ${totalAttackable} attackable (clean-correct, broken at least once) examples (${percent(totalAttackable ? totalSingle / totalAttackable : 0)}) only ever went to one class over ` +
      `${study.attacks.length} attack(s) x ${study.seeds} seeds; largest groups: ${pairs.join(', ') || 'none'}.`,
  );
  const warning = untestedWarning(unavailableClasses(study.robustAccuracy).map((k) => study.classNames[k]));
  if (warning) findings.push(warning);
  const spread = seedSpread(study);
  const firstMeasured = order[0]?.k;
  if (spread && firstMeasured !== undefined) {
    const widest = spread.reduce((best, entry, k) => (entry.std > spread[best].std ? k : best), firstMeasured);
    findings.push(
      `Over ${study.seeds} seeds (random starts) of ${study.attacks[0]}, per-class robust accuracy varies by a standard deviation of at most ` +
        `${(100 * spread[widest].std).toFixed(1)} points (${names[widest]}: ${(100 * spread[widest].mean).toFixed(1)} ± ${(100 * spread[widest].std).toFixed(1)}%).`,
    );
  }
  return {
    id: 'confusion',
    title: '2. Adversarial confusion and semantic targets',
    description:
      `On the study's test subset (${describeCounts(counts)}). Row = true class, column = class predicted for the adversarial example under ${study.attacks[0]} (a clean mistake stays in its clean column), each row divided by the class's examples. ` +
      `Target sets per example collect every wrong class predicted over the attacks ${study.attacks.join('; ')} with ${study.seeds} seeds each.`,
    findings,
    charts: [
      {
        spec: heatmapChart({ title: 'Adversarial confusion (row-normalised, %)', classNames: names, rows: study.rowNormalised, xTitle: 'predicted class of the adversarial example', yTitle: 'true class' }),
        caption: `Diagonal = robust accuracy of the class. Attack: ${study.attacks[0]}.`,
      },
    ],
    tables: [
      {
        title: 'Top target classes per class',
        columns: [
          'class', 'n', 'robust %', 'robust 95% low', 'robust 95% high',
          ...(spread ? [`robust % mean over ${study.seeds} seeds`, 'std over seeds'] : []),
          'robust % (all attacks, seeds)', 'target 1', 'share 1 %', 'target 2', 'share 2 %', 'target 3', 'share 3 %',
        ],
        rows: names.map((name, k) => {
          const n = counts[k];
          const cells: (string | number)[] = [
            name, n, percentValue(study.robustAccuracy[k]), ...intervalCells(study.robustAccuracy[k], n),
            ...(spread ? [percentValue(spread[k].mean), percentValue(spread[k].std)] : []),
            percentValue(study.robustAccuracyUnion[k]),
          ];
          for (let t = 0; t < 3; t++) {
            const entry = study.topTargets[k][t];
            cells.push(entry ? names[entry.target] : '', entry ? percentValue(entry.share) : '');
          }
          return cells;
        }),
        note:
          'robust % and its interval: the first attack, first seed; ' +
          (spread ? `mean and sample standard deviation: the first attack over its ${study.seeds} seeds (random starts); ` : '') +
          'share = part of the class\'s successful adversarial examples (first attack) predicted as that class.',
      },
      {
        title: 'Examples that only ever go to one target class',
        columns: ['class', 'target', 'examples', '% of attackable examples of the class'],
        rows: study.singleTargetGroups.slice(0, 25).map((g) => [names[g.source], names[g.target], g.examples.length, percentValue(g.shareOfAttackable)]),
        note: 'Attackable: classified correctly without attack and broken by at least one attack run. The full list of example indices is in report.json.',
      },
    ],
    data: study,
  };
}

/**
 * A class the model (almost) never predicts clean: where its images go without attack, so that its 0% robust
 * accuracy is not read as an adversarial finding.
 */
function collapsedFinding(entry: CollapsedClass, names: readonly string[]): string {
  const goesTo = entry.goesTo.map(([target, share]) => `${names[target]} (${percent(share)})`).join(', ') || 'no other class';
  return `${names[entry.index]}: collapsed, not an adversarial finding: the model predicts it for ${entry.predicted} of the studied images ` +
    `(${entry.count} of them ${names[entry.index]}); clean, its images already go to ${goesTo}.`;
}
