/**
 * Experiment 5 (claim 5, attack strength): per-class robust accuracy under a list of attacks (weakest
 * first), per class the drop from each attack to the next and from the weakest to the strongest, the
 * correlation of that drop with the class's robustness, and the consistency of the per-class ranking
 * (Spearman, Kendall tau-b) across attacks and across models or defenses.
 */
import { AttackOptions } from '../attack';
import { availableMean, isAvailable, measuredPairs, unavailableClasses } from '../class-shares';
import { ImageDataset } from '../data/dataset';
import { Model } from '../model';
import { groupedBarsChart, scatterWithFitChart } from '../report/charts';
import { untestedWarning } from '../report/class-table';
import { evaluateTestImages, StreamedTestImages } from './test-images';
import { ReportSection, ReportTable } from '../report/study-report';
import { describeAttack as attackLabel } from '../attack';
import { coefficient, describeCounts, displayNames, intervalCells, percent, percentValue, percentWithInterval, points, pValue } from './format';
import { studyError } from './run-folder';
import { Correlation, kendallTauB, pearson, spearman } from './statistics';

export interface RankAgreement {
  a: string;
  b: string;
  spearman: Correlation;
  kendall: Correlation;
}

export interface AttackStrengthStudy {
  classNames: string[];
  attacks: string[];
  /** Test examples per class behind every share (for the 95% intervals); absent in studies written before. */
  counts?: number[];
  clean: number[];
  /** [attack][class] for the first model. */
  robust: number[][];
  /** Per class: robust under the weakest minus robust under the strongest attack. */
  drop: number[];
  /** Drop against the class's robust accuracy under the strongest attack. */
  dropVsRobustness: { pearson: Correlation; spearman: Correlation };
  rankAcrossAttacks: RankAgreement[];
  /** Per-class robust accuracy of every model under the strongest attack (empty with one model). */
  models: { label: string; robust: number[] }[];
  rankAcrossModels: RankAgreement[];
}

export interface AttackStrengthOptions {
  /** Weakest first. */
  attacks: AttackOptions[];
  seed?: number;
  batchSize?: number;
  onStage?: (text: string) => void;
}

function pairwise(series: { label: string; values: number[] }[]): RankAgreement[] {
  const agreements: RankAgreement[] = [];
  for (let i = 0; i < series.length; i++) {
    for (let j = i + 1; j < series.length; j++) {
      // Ranked over the classes with test examples (a class without any has no accuracy: NaN).
      const [a, b] = measuredPairs(series[i].values, series[j].values);
      agreements.push({ a: series[i].label, b: series[j].label, spearman: spearman(a, b), kendall: kendallTauB(a, b) });
    }
  }
  return agreements;
}

/** The study from per-class numbers (also how tests and other tools feed it). */
export function attackStrengthFromAccuracies(
  classNames: string[],
  attacks: string[],
  clean: number[],
  robust: number[][],
  models: { label: string; robust: number[] }[] = [],
  counts?: number[],
): AttackStrengthStudy {
  if (attacks.length < 2) throw studyError('the attack-strength study needs at least two attacks, weakest first', 'ERR_INVALID_ARGUMENT');
  const weakest = robust[0];
  const strongest = robust[robust.length - 1];
  const drop = weakest.map((value, k) => value - strongest[k]);
  const [measuredDrop, measuredStrongest] = measuredPairs(drop, strongest);
  return {
    classNames,
    attacks,
    ...(counts ? { counts } : {}),
    clean,
    robust,
    drop,
    dropVsRobustness: { pearson: pearson(measuredDrop, measuredStrongest), spearman: spearman(measuredDrop, measuredStrongest) },
    rankAcrossAttacks: pairwise(attacks.map((label, a) => ({ label, values: robust[a] }))),
    models,
    rankAcrossModels: models.length > 1 ? pairwise(models.map((m) => ({ label: m.label, values: m.robust }))) : [],
  };
}

/** Evaluates `models[0]` under every attack, the other models under the strongest one. */
export async function attackStrength(models: { label: string; model: Model }[], data: Pick<ImageDataset, 'images' | 'labels' | 'count'> | StreamedTestImages, options: AttackStrengthOptions): Promise<AttackStrengthStudy> {
  const [first, ...others] = models;
  const robust: number[][] = [];
  let clean: number[] = [];
  let counts: number[] = [];
  for (const attackOptions of options.attacks) {
    options.onStage?.(`${first.label}: ${attackLabel(attackOptions)} on ${data.count} examples`);
    const evaluation = await evaluateTestImages(first.model, data, { attack: attackOptions, seed: options.seed, batchSize: options.batchSize });
    robust.push(evaluation.robustAccuracy);
    clean = evaluation.cleanAccuracy;
    counts = evaluation.counts;
  }
  const strongest = options.attacks[options.attacks.length - 1];
  const modelRows = [{ label: first.label, robust: robust[robust.length - 1] }];
  for (const other of others) {
    options.onStage?.(`${other.label}: ${attackLabel(strongest)} on ${data.count} examples`);
    const evaluation = await evaluateTestImages(other.model, data, { attack: strongest, seed: options.seed, batchSize: options.batchSize });
    modelRows.push({ label: other.label, robust: evaluation.robustAccuracy });
  }
  return attackStrengthFromAccuracies(first.model.config.classNames, options.attacks.map(attackLabel), clean, robust, others.length ? modelRows : [], counts);
}

function agreementTable(title: string, rows: RankAgreement[]): ReportTable {
  const r = (c: Correlation) => (Number.isFinite(c.coefficient) ? Number(c.coefficient.toFixed(4)) : null);
  const p = (c: Correlation) => (Number.isFinite(c.pValue) ? Number(c.pValue.toPrecision(3)) : null);
  return {
    title,
    columns: ['A', 'B', 'Spearman rho', 'Spearman p', 'Kendall tau-b', 'Kendall p'],
    rows: rows.map((row) => [row.a, row.b, r(row.spearman), p(row.spearman), r(row.kendall), p(row.kendall)]),
    note: 'Per-class robust accuracies ranked; Kendall p from the normal approximation with tie correction.',
  };
}

export function attackStrengthSection(study: AttackStrengthStudy): ReportSection {
  const names = displayNames(study.classNames);
  const weakest = study.attacks[0];
  const strongest = study.attacks[study.attacks.length - 1];
  // Classes without test examples (NaN, null in report.json) are left out of the means and the drops.
  const mean = availableMean;
  const byDrop = study.drop.map((drop, k) => ({ k, drop })).filter(({ drop }) => isAvailable(drop)).sort((a, b) => b.drop - a.drop);
  const minRho = Math.min(...study.rankAcrossAttacks.map((r) => r.spearman.coefficient));
  const findings = [
    `mean robust accuracy falls from ${percent(mean(study.robust[0]))} (${weakest}) to ${percent(mean(study.robust[study.robust.length - 1]))} (${strongest}).`,
    `largest drops: ${byDrop.slice(0, 3).map(({ k, drop }) => `${names[k]} ${points(drop)}`).join(', ')}; smallest: ${byDrop.slice(-2).map(({ k, drop }) => `${names[k]} ${points(drop)}`).join(', ')}.`,
    `drop vs robustness under ${strongest}: Pearson r = ${coefficient(study.dropVsRobustness.pearson.coefficient)} (p = ${pValue(study.dropVsRobustness.pearson.pValue)}), Spearman rho = ${coefficient(study.dropVsRobustness.spearman.coefficient)} (p = ${pValue(study.dropVsRobustness.spearman.pValue)}); negative = weaker classes lose more.`,
    `the per-class ranking agrees across the ${study.attacks.length} attacks: Spearman rho >= ${coefficient(minRho)} for every pair.`,
  ];
  const warning = untestedWarning(unavailableClasses(study.robust[study.robust.length - 1]).map((k) => study.classNames[k]));
  if (warning) findings.push(warning);
  if (study.rankAcrossModels.length) {
    const rhos = study.rankAcrossModels.map((r) => r.spearman.coefficient);
    const [only] = study.rankAcrossModels;
    findings.push(
      study.rankAcrossModels.length === 1
        ? `the per-class ranking of ${only.a} and ${only.b} under ${strongest}: Spearman rho = ${coefficient(only.spearman.coefficient)} (p = ${pValue(only.spearman.pValue)}), Kendall tau-b = ${coefficient(only.kendall.coefficient)} (p = ${pValue(only.kendall.pValue)}).`
        : `across ${study.models.length} models under ${strongest}: Spearman rho from ${coefficient(Math.min(...rhos))} to ${coefficient(Math.max(...rhos))}.`,
    );
  }
  const counts = study.counts;
  // With the counts, every share carries its 95% Wilson interval (error bars, table columns).
  const share = (value: number, k: number) => (counts ? percentWithInterval(value, counts[k]) : { value: percentValue(value) });
  const intervalColumns = (label: string) => (counts ? [`${label} 95% low`, `${label} 95% high`] : []);
  const intervals = (value: number, k: number) => (counts ? intervalCells(value, counts[k]) : []);
  const sortable = (value: number) => (isAvailable(value) ? value : Infinity);
  const order = names.map((_, k) => k).sort((a, b) => sortable(study.robust[study.robust.length - 1][a]) - sortable(study.robust[study.robust.length - 1][b]) || 0).map((k) => names[k]);
  const charts = [
    {
      spec: groupedBarsChart({
        title: 'Robust accuracy per class under each attack (%)',
        rows: study.attacks.flatMap((label, a) => names.map((name, k) => ({ className: name, group: label, ...share(study.robust[a][k], k) }))),
        yTitle: 'robust accuracy (%)',
        classOrder: order,
      }),
      caption: `Classes sorted by robust accuracy under the strongest attack.${counts ? ' Error bars: 95% Wilson intervals.' : ''}`,
    },
    {
      spec: scatterWithFitChart({
        title: `Drop (${weakest} -> strongest) vs robustness`,
        points: names.map((name, k) => ({ className: name, x: percentValue(study.robust[study.robust.length - 1][k]), y: percentValue(study.drop[k]) })),
        xTitle: `robust accuracy under ${strongest} (%)`,
        yTitle: 'drop (points)',
      }),
    },
  ];
  if (study.models.length) {
    charts.push({
      spec: groupedBarsChart({
        title: `Robust accuracy per class and model under ${strongest} (%)`,
        rows: study.models.flatMap((m) => names.map((name, k) => ({ className: name, group: m.label, ...share(m.robust[k], k) }))),
        yTitle: 'robust accuracy (%)',
        classOrder: order,
      }),
      caption: '',
    });
  }
  const tables: ReportTable[] = [
    {
      title: 'Robust accuracy per class and attack (%)',
      columns: ['class', ...(counts ? ['n'] : []), 'clean', ...intervalColumns('clean'), ...study.attacks.flatMap((label) => [label, ...intervalColumns(label)]), 'drop weakest -> strongest (points)'],
      rows: names.map((name, k) => [
        name, ...(counts ? [counts[k]] : []),
        percentValue(study.clean[k]), ...intervals(study.clean[k], k),
        ...study.robust.flatMap((row) => [percentValue(row[k]), ...intervals(row[k], k)]),
        percentValue(study.drop[k]),
      ]),
    },
    agreementTable('Rank consistency across attacks', study.rankAcrossAttacks),
  ];
  if (study.rankAcrossModels.length) tables.push(agreementTable('Rank consistency across models', study.rankAcrossModels));
  return {
    id: 'attack-strength',
    title: '5. Attack strength',
    description: `Per-class robust accuracy of the same examples${counts ? ` (${describeCounts(counts)})` : ''} under ${study.attacks.join('; ')} (weakest first). Drop = robust under the weakest minus robust under the strongest attack.`,
    findings,
    charts,
    tables,
    data: study,
  };
}
