/**
 * Experiment 6 (claim 6, Temperature-PGD): PGD whose loss is the cross-entropy of logits / T, swept over T,
 * per class, beside plain PGD (T = 1). The attack is built by `attackForTemperature`, by default the base
 * attack as kind 'tpgd' with that temperature.
 */
import { availableMean, unavailableClasses } from '../class-shares';
import { invalidArgument } from '../errors';
import { AttackOptions } from '../attack';
import { ImageDataset } from '../data/dataset';
import { Model } from '../model';
import { classCurvesChart } from '../report/charts';
import { untestedWarning } from '../report/class-table';
import { evaluateTestImages, StreamedTestImages } from './test-images';
import { ReportSection } from '../report/study-report';
import { describeAttack as attackLabel } from '../attack';
import { describeCounts, displayNames, intervalCells, percent, percentValue, percentWithInterval } from './format';

export interface TemperatureOptions {
  base: AttackOptions;
  temperatures: number[];
  attackForTemperature?: (base: AttackOptions, temperature: number) => AttackOptions;
  seed?: number;
  batchSize?: number;
  onStage?: (text: string) => void;
}

export interface TemperatureStudy {
  classNames: string[];
  baseAttack: string;
  /** Test examples per class behind every share (absent in studies written before). */
  counts?: number[];
  pgd: number[];
  rows: { temperature: number; attack: string; robust: number[] }[];
}

export function withTemperature(base: AttackOptions, temperature: number): AttackOptions {
  return { ...base, kind: 'tpgd', temperature };
}

export async function temperatureSweep(model: Model, data: Pick<ImageDataset, 'images' | 'labels' | 'count'> | StreamedTestImages, options: TemperatureOptions): Promise<TemperatureStudy> {
  const build = options.attackForTemperature ?? withTemperature;
  // An empty sweep would write a section with a PGD baseline and no temperature: refused before any attack.
  if (!Array.isArray(options.temperatures) || options.temperatures.length === 0) {
    throw invalidArgument('temperatures is empty; give at least one value of T, e.g. --temperatures 0.5,2,5,10');
  }
  options.temperatures.forEach((t, k) => {
    if (typeof t !== 'number' || !Number.isFinite(t) || t <= 0) throw invalidArgument(`temperatures[${k}] is ${t}; every temperature must be a finite number above 0, e.g. 0.5,2,5,10`);
  });
  options.onStage?.(`PGD: ${attackLabel(options.base)} on ${data.count} examples`);
  const base = await evaluateTestImages(model, data, { attack: options.base, seed: options.seed, batchSize: options.batchSize });
  const pgd = base.robustAccuracy;
  const rows: TemperatureStudy['rows'] = [];
  for (const temperature of options.temperatures) {
    const attackOptions = build(options.base, temperature);
    options.onStage?.(`T = ${temperature}: ${attackLabel(attackOptions)}`);
    const evaluation = await evaluateTestImages(model, data, { attack: attackOptions, seed: options.seed, batchSize: options.batchSize });
    rows.push({ temperature, attack: attackLabel(attackOptions), robust: evaluation.robustAccuracy });
  }
  return { classNames: model.config.classNames, baseAttack: attackLabel(options.base), counts: base.counts, pgd, rows };
}

export function temperatureSection(study: TemperatureStudy): ReportSection {
  const names = displayNames(study.classNames);
  // Means over the classes with test examples (null in report.json, NaN in memory: not available).
  const mean = availableMean;
  const findings: string[] = [];
  const counts = study.counts;
  const intervals = (value: number, k: number) => (counts ? intervalCells(value, counts[k]) : []);
  const best = study.rows.reduce((a, b) => (mean(b.robust) < mean(a.robust) ? b : a), study.rows[0]);
  findings.push(`PGD (T = 1): mean robust ${percent(mean(study.pgd))}; strongest T = ${best?.temperature}: ${percent(mean(best?.robust ?? study.pgd))}.`);
  const warning = untestedWarning(unavailableClasses(study.pgd).map((k) => study.classNames[k]));
  if (warning) findings.push(warning);
  const curves = [{ temperature: 1, robust: study.pgd }, ...study.rows].flatMap((row) => names.map((name, k) => ({ className: name, x: row.temperature, ...(counts ? percentWithInterval(row.robust[k], counts[k]) : { value: percentValue(row.robust[k]) }) })));
  return {
    id: 'temperature',
    title: '6. Temperature-PGD',
    description: `PGD on the cross-entropy of logits / T (our reading of the study), swept over T, beside PGD (${study.baseAttack}, T = 1), on the study's test subset${counts ? ` (${describeCounts(counts)})` : ''}.`,
    findings,
    charts: study.rows.length ? [{ spec: classCurvesChart({ title: 'Robust accuracy per class over T (%)', points: curves, xTitle: 'temperature T', yTitle: 'robust accuracy (%)' }) }] : [],
    tables: [
      {
        title: 'Robust accuracy per class and temperature (%)',
        columns: ['class', ...(counts ? ['n'] : []), 'PGD (T = 1)', ...(counts ? ['PGD 95% low', 'PGD 95% high'] : []), ...study.rows.flatMap((r) => [`T = ${r.temperature}`, ...(counts ? [`T = ${r.temperature} 95% low`, `T = ${r.temperature} 95% high`] : [])])],
        rows: names.map((name, k) => [name, ...(counts ? [counts[k]] : []), percentValue(study.pgd[k]), ...intervals(study.pgd[k], k), ...study.rows.flatMap((r) => [percentValue(r.robust[k]), ...intervals(r.robust[k], k)])]),
      },
    ],
    data: study,
  };
}
