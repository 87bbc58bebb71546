/**
 * The robust-fairness comparison: several runs (methods, seeds) evaluated on the same test images with the same
 * attacks, each at its best and last checkpoint (and CFA's weight average, fawa.safetensors, where there is one),
 * reported as average and worst-class clean and robust accuracy, the class-wise standard deviation, the mean of
 * the worst 10% of classes (20 or more classes), DAFA's trade-off score rho against a baseline, and mean +- std
 * over the runs that share a method and its settings (seeds).
 */
import { createHash } from 'crypto';
import fs from 'fs';
import path from 'path';

import { availableMean, availableMin, isAvailable } from '../class-shares';
import { AttackOptions, describeAttack as attackLabel } from '../attack';
import { loadCheckpoint } from '../checkpoint';
import { ClasswiseError } from '../errors';
import { DeviceName, Model } from '../model';
import { groupedBarsChart, classCurvesChart, tradeoffScatterChart } from '../report/charts';
import { ReportSection, ReportTable, StudyReport } from '../report/study-report';
import { BEST_CHECKPOINT_FILE, CHECKPOINT_FILE, parseAttackList, readMetrics, RunConfig } from '../run';
import { skipWarnings } from '../run/data';
import { defaultProcessGroup } from '../distributed/group';
import { displayNames, percent, percentValue, points } from './format';
import { describeStreamed, evaluateTestImages, isStreamedTestImages, loadTestImages } from './test-images';

export const FAWA_CHECKPOINT_FILE = 'fawa.safetensors';
/** The worst-10% mean is reported from this many classes on (DAFA's and CFA's CIFAR-100 tables). */
export const WORST_SHARE_MIN_CLASSES = 20;
export const WORST_SHARE = 0.1;
export const DEFAULT_FAIRNESS_ATTACKS = 'pgd@20';

export const FAIRNESS_CHECKPOINTS = ['best', 'last', 'fawa'] as const;
export type FairnessCheckpoint = (typeof FAIRNESS_CHECKPOINTS)[number];
const CHECKPOINT_FILES: Record<FairnessCheckpoint, string> = { best: BEST_CHECKPOINT_FILE, last: CHECKPOINT_FILE, fawa: FAWA_CHECKPOINT_FILE };

/** The run config's robust-fairness method (absent: the plain method). */
export interface FairnessSetting {
  kind: string;
  [option: string]: unknown;
}

export interface FairnessOptions {
  /** Run folders written by `train`. */
  runs: string[];
  /** One of `runs` (as given or its folder name); default the first. */
  baseline?: string;
  /** AttackOptions, or the text form "pgd@20,autoattack"; default pgd@20 at the runs' eps. */
  attacks?: AttackOptions[] | string;
  /** Test images per class (null: all); default the runs' evaluation subset size, which must then agree. */
  perClass?: number | null;
  /** Attack budget; default the runs' eps, which must then agree. */
  eps?: number;
  /** Attack noise; the test subset is drawn with seed + 1, as `evaluate --seed` draws it. */
  seed?: number;
  /** Which of each run's checkpoints to evaluate (default all: best, last and fawa where there is one). */
  checkpoints?: FairnessCheckpoint[];
  batchSize?: number;
  device?: DeviceName;
  /**
   * A folder of finished evaluations: one whose checkpoint bytes, attack, test subset, seed, batch size and
   * device match is read back instead of run again, and each new one is written there as it finishes, so a study
   * interrupted and run again redoes only what is missing.
   */
  cache?: string;
  onStage?: (text: string) => void;
}

interface CachedEvaluation {
  counts: number[];
  cleanAccuracy: number[];
  robustAccuracy: number[];
}

/** The cache file of one evaluation: a hash of the checkpoint's bytes and of everything else that sets the numbers. */
function cacheFile(cache: string, checkpoint: string, settings: Record<string, unknown>): string {
  const hash = createHash('sha256').update(fs.readFileSync(checkpoint)).update(JSON.stringify(settings)).digest('hex');
  return path.join(cache, `${hash.slice(0, 32)}.json`);
}

function readCached(file: string): CachedEvaluation | undefined {
  if (!fs.existsSync(file)) return undefined;
  try {
    const cached = JSON.parse(fs.readFileSync(file, 'utf8')) as CachedEvaluation;
    return Array.isArray(cached.counts) && Array.isArray(cached.cleanAccuracy) && Array.isArray(cached.robustAccuracy) ? cached : undefined;
  } catch {
    // A file cut short by a kill: evaluated again and rewritten.
    return undefined;
  }
}

/** Written whole or not at all (renamed into place), so a kill never leaves a partial entry that reads as finished. */
function writeCached(file: string, evaluation: CachedEvaluation): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const partial = `${file}.${process.pid}.partial`;
  fs.writeFileSync(partial, JSON.stringify(evaluation));
  fs.renameSync(partial, file);
}

/** Summary numbers of one class-wise accuracy vector. */
export interface ClasswiseSummary {
  /** Share of all test images (the usual "average" accuracy). */
  average: number;
  worstClass: number;
  /** Population standard deviation over classes. */
  std: number;
  /** Mean of the worst ceil(10%) classes; null under 20 classes. */
  worst10: number | null;
}

export interface FairnessRow {
  run: string;
  /** Method and its settings (runs in one group differ only in seed). */
  group: string;
  method: string;
  fairness: FairnessSetting | null;
  seed: number;
  checkpoint: FairnessCheckpoint;
  epoch: number;
  /** Which split chose best.safetensors ('test' for runs that predate the choice). */
  selectOn: string;
  attack: string;
  cleanAccuracy: number[];
  robustAccuracy: number[];
  clean: ClasswiseSummary;
  robust: ClasswiseSummary;
  /** DAFA's score against the baseline group's mean at the same checkpoint and attack; null where a base is 0. */
  rho: { clean: number | null; robust: number | null };
}

export interface FairnessGroupRow {
  group: string;
  runs: string[];
  checkpoint: FairnessCheckpoint;
  attack: string;
  /** Mean and sample standard deviation (null with one run) over the group's runs. */
  stats: Record<'averageClean' | 'worstClassClean' | 'averageRobust' | 'worstClassRobust' | 'rhoClean' | 'rhoRobust', { mean: number | null; std: number | null }>;
  /** Mean per-class robust accuracy over the group's runs. */
  robustAccuracy: number[];
}

export interface FairnessStudy {
  classNames: string[];
  dataset: string;
  testCount: number;
  testPerClass: number | null;
  attacks: string[];
  baseline: string;
  baselineGroup: string;
  runs: FairnessRow[];
  groups: FairnessGroupRow[];
  /** Worst-class and mean robust accuracy after every epoch of each run (its metrics.jsonl, its own evaluation subset). */
  epochs: { run: string; group: string; attack: string; points: { epoch: number; worstRobust: number; meanRobust: number }[] }[];
}

function fairnessError(message: string, code = 'ERR_INVALID_ARGUMENT'): ClasswiseError {
  return new ClasswiseError(code, message);
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** Average (over all images, from the class counts), worst class, class-wise std and worst-10% mean. */
export function summarizeClasswise(all: number[], allCounts: number[]): ClasswiseSummary {
  // Over the classes with test examples: one without any has no accuracy (NaN) and weighs nothing.
  const measured = all.flatMap((value, k) => (allCounts[k] > 0 && isAvailable(value) ? [k] : []));
  const accuracy = measured.map((k) => all[k]);
  const counts = measured.map((k) => allCounts[k]);
  const total = counts.reduce((a, b) => a + b, 0);
  const average = accuracy.reduce((sum, value, k) => sum + value * counts[k], 0) / total;
  const classMean = mean(accuracy);
  const std = Math.sqrt(mean(accuracy.map((value) => (value - classMean) ** 2)));
  const sorted = [...accuracy].sort((a, b) => a - b);
  const worst10 = accuracy.length >= WORST_SHARE_MIN_CLASSES ? mean(sorted.slice(0, Math.ceil(WORST_SHARE * accuracy.length))) : null;
  return { average, worstClass: sorted[0], std, worst10 };
}

/** DAFA's trade-off score: relative change of the worst class plus relative change of the average. */
export function tradeoffScore(worst: number, average: number, baseWorst: number, baseAverage: number): number | null {
  if (!(baseWorst > 0) || !(baseAverage > 0)) return null;
  return (worst - baseWorst) / baseWorst + (average - baseAverage) / baseAverage;
}

function meanStd(values: (number | null)[]): { mean: number | null; std: number | null } {
  const finite = values.filter((v): v is number => v !== null && Number.isFinite(v));
  if (finite.length === 0 || finite.length < values.length) return { mean: null, std: null };
  const m = mean(finite);
  const std = finite.length > 1 ? Math.sqrt(finite.reduce((s, v) => s + (v - m) ** 2, 0) / (finite.length - 1)) : null;
  return { mean: m, std };
}

function methodLabel(run: RunConfig): string {
  const fairness = (run as RunConfig & { fairness?: FairnessSetting }).fairness;
  return fairness ? `${run.method}+${fairness.kind}` : run.method;
}

/**
 * Every setting of a run but the seed and the data folder: runs equal here are seeds of one method. A fine-tune's
 * starting point (`initFrom`) counts by the settings of the run it started from, so that fine-tunes of each seed of
 * one base method group as seeds; a starting point that is no readable checkpoint counts by its path.
 */
function settingsKey(run: RunConfig): Record<string, unknown> {
  const { seed: _seed, dataDir: _dataDir, initFrom, ...rest } = run as RunConfig & Record<string, unknown>;
  return typeof initFrom === 'string' ? { ...rest, initFrom: startingPoint(initFrom) } : rest;
}

function startingPoint(initFrom: string): unknown {
  const file = fs.existsSync(path.join(initFrom, CHECKPOINT_FILE)) ? path.join(initFrom, CHECKPOINT_FILE) : initFrom;
  try {
    const run = loadCheckpoint(file).meta.config.run as RunConfig | undefined;
    if (run) return settingsKey(run);
  } catch {
    // Moved or deleted since the fine-tune: the path is all there is.
  }
  return initFrom;
}

/** Group labels: the method, and where two groups share it, the settings in which they differ. */
export function groupLabels(configs: RunConfig[]): string[] {
  // Once per run: a fine-tune's key reads the checkpoint it started from.
  const settings = configs.map(settingsKey);
  const keys = settings.map((s) => JSON.stringify(s));
  const labels = configs.map(methodLabel);
  return configs.map((_, i) => {
    const rivals = settings.filter((_, j) => labels[j] === labels[i] && keys[j] !== keys[i]);
    if (rivals.length === 0) return labels[i];
    const mine = settings[i];
    const differing = Object.keys(mine).filter((key) => rivals.some((other) => JSON.stringify(other[key]) !== JSON.stringify(mine[key])));
    return `${labels[i]} (${differing.map((key) => `${key} ${JSON.stringify(mine[key])}`).join(', ')})`;
  });
}

interface OpenedRun {
  dir: string;
  label: string;
  config: RunConfig;
  classNames: string[];
  checkpoints: { kind: FairnessCheckpoint; file: string; epoch: number }[];
  selectOn: string;
}

function openRun(dir: string, label: string): OpenedRun {
  const last = path.join(dir, CHECKPOINT_FILE);
  if (!fs.existsSync(last)) throw fairnessError(`study fairness: ${last} not found; --runs takes run folders written by \`classwise-at train --out DIR\``, 'ERR_RUN_MISSING');
  const checkpoints: OpenedRun['checkpoints'] = [];
  let config: RunConfig | undefined;
  let classNames: string[] = [];
  for (const kind of ['best', 'last', 'fawa'] as FairnessCheckpoint[]) {
    const file = path.join(dir, CHECKPOINT_FILES[kind]);
    if (!fs.existsSync(file)) continue;
    const { meta } = loadCheckpoint(file);
    if (kind === 'last') {
      config = meta.config.run as RunConfig | undefined;
      classNames = (meta.config.model as { classNames: string[] }).classNames;
    }
    checkpoints.push({ kind, file, epoch: meta.epoch });
  }
  if (!config) throw fairnessError(`study fairness: ${last} holds no run settings; --runs takes run folders written by \`classwise-at train\``);
  let selectOn = 'test';
  try {
    const lines = readMetrics(dir);
    const chosenOn = (lines[lines.length - 1] as { selectOn?: unknown }).selectOn ?? 'test';
    selectOn = typeof chosenOn === 'string' ? chosenOn : JSON.stringify(chosenOn);
  } catch {
    // A run folder without metrics still has checkpoints to compare.
  }
  return { dir, label, config, classNames, checkpoints, selectOn };
}

/** Refuses runs that would not be compared on the same test images, naming the first difference. */
export function checkComparable(runs: { label: string; config: RunConfig; classNames: string[] }[], options: { perClass?: number | null; eps?: number }): void {
  const [first, ...others] = runs;
  const fields: { key: string; value: (r: (typeof runs)[number]) => unknown; fix: string; skip?: boolean }[] = [
    { key: 'dataset', value: (r) => r.config.dataset, fix: 'compare runs of one dataset' },
    { key: 'cifar100Labels', value: (r) => r.config.cifar100Labels ?? null, fix: 'compare runs of one label set' },
    { key: 'imageSize', value: (r) => r.config.imageSize ?? null, fix: 'compare runs of one image size' },
    { key: 'classes', value: (r) => r.config.classes ?? null, fix: 'compare runs trained on the same class list' },
    { key: 'class names', value: (r) => r.classNames, fix: 'compare runs trained on the same class list' },
    { key: 'evalPerClass', value: (r) => r.config.evalPerClass, fix: 'pass --per-class N to evaluate every run on the same N test images per class', skip: options.perClass !== undefined },
    { key: 'eps', value: (r) => r.config.eps, fix: 'pass --eps E to attack every run with the same budget', skip: options.eps !== undefined },
  ];
  for (const other of others) {
    for (const field of fields) {
      if (field.skip) continue;
      const a = JSON.stringify(field.value(first));
      const b = JSON.stringify(field.value(other));
      if (a !== b) {
        throw fairnessError(`study fairness: run ${other.label} has ${field.key} ${b}, run ${first.label} has ${a}; ${field.fix}`, 'ERR_RUN_MISMATCH');
      }
    }
  }
}

function runLabels(dirs: string[]): string[] {
  const names = dirs.map((dir) => path.basename(path.resolve(dir)));
  return names.map((name, i) => (names.indexOf(name) !== names.lastIndexOf(name) ? dirs[i] : name));
}

/** Evaluates every run's checkpoints under every attack on one shared test subset. */
export async function fairnessStudy(options: FairnessOptions): Promise<FairnessStudy> {
  if (!options || !Array.isArray(options.runs) || options.runs.length === 0) {
    throw fairnessError('study fairness needs runs: one or more run folders, e.g. { runs: ["runs/pgd", "runs/trades"] }');
  }
  const bad = options.runs.find((dir) => typeof dir !== 'string' || dir.trim() === '');
  if (bad !== undefined) throw fairnessError(`study fairness: runs holds ${JSON.stringify(bad)}; each entry is a run folder written by train`);
  const integer = (name: string, value: unknown, min: number) => {
    if (value !== undefined && value !== null && !(Number.isInteger(value) && (value as number) >= min)) {
      throw fairnessError(`study fairness: ${name} is ${JSON.stringify(value)}; expected an integer >= ${min}`);
    }
  };
  integer('perClass', options.perClass, 1);
  integer('seed', options.seed, 0);
  integer('batchSize', options.batchSize, 1);
  if (options.eps !== undefined && !(Number.isFinite(options.eps) && options.eps >= 0)) {
    throw fairnessError(`study fairness: eps is ${String(options.eps)}; expected a finite number >= 0`);
  }
  const kinds = options.checkpoints ?? FAIRNESS_CHECKPOINTS;
  const unknown = Array.isArray(kinds) ? kinds.find((kind) => !FAIRNESS_CHECKPOINTS.includes(kind)) : kinds;
  if (!Array.isArray(kinds) || kinds.length === 0 || unknown !== undefined) {
    throw fairnessError(`study fairness: checkpoints is ${JSON.stringify(unknown ?? kinds)}; name one or more of ${FAIRNESS_CHECKPOINTS.join(', ')}`);
  }
  const labels = runLabels(options.runs);
  const baselineIndex = options.baseline === undefined ? 0 : options.runs.findIndex((dir, i) => dir === options.baseline || labels[i] === options.baseline);
  if (baselineIndex < 0) throw fairnessError(`--baseline ${options.baseline} is not one of --runs ${options.runs.join(',')}; name one of them`);
  if (new Set(options.runs.map((dir) => path.resolve(dir))).size !== options.runs.length) {
    throw fairnessError(`--runs ${options.runs.join(',')} names a run twice; name each run folder once`);
  }
  const opened = options.runs.map((dir, i) => openRun(dir, labels[i]));
  checkComparable(opened, options);
  const first = opened[0].config;
  const eps = options.eps ?? first.eps;
  const attacks = typeof options.attacks === 'string' || options.attacks === undefined
    ? parseAttackList(options.attacks ?? DEFAULT_FAIRNESS_ATTACKS, { eps }, '--attacks')
    : options.attacks;
  const seed = options.seed ?? 0;
  const perClass = options.perClass !== undefined ? options.perClass : first.evalPerClass;
  // Every test image of a streamed dataset (ImageNet) is decoded at each evaluation instead of held in memory.
  const report = (line: string) => options.onStage?.(line);
  const test = await loadTestImages(first, perClass, seed + 1, skipWarnings(report));
  if (isStreamedTestImages(test)) report(`test set: ${describeStreamed(test)}`);
  const groups = groupLabels(opened.map((r) => r.config));
  const rows: Omit<FairnessRow, 'rho'>[] = [];
  for (const [i, run] of opened.entries()) {
    for (const attack of attacks) {
      const byEpoch = new Map<number, Omit<FairnessRow, 'rho' | 'checkpoint'>>();
      for (const checkpoint of run.checkpoints.filter((c) => kinds.includes(c.kind))) {
        // best and last of the same epoch hold the same weights: evaluated once.
        let measured = checkpoint.kind === 'fawa' ? undefined : byEpoch.get(checkpoint.epoch);
        if (!measured) {
          const batchSize = options.batchSize ?? 256;
          const cached = options.cache
            ? cacheFile(options.cache, checkpoint.file, {
              attack, dataset: first.dataset, classes: test.classNames, perClass, seed, batchSize, device: options.device ?? 'auto',
              // A streamed evaluation seeds its attack per chunk of one batch per rank: another result under random starts.
              ...(isStreamedTestImages(test) ? { streamedChunk: batchSize * (defaultProcessGroup()?.worldSize ?? 1) } : {}),
            })
            : undefined;
          let evaluation = cached ? readCached(cached) : undefined;
          const stage = `${run.label} ${checkpoint.kind} (epoch ${checkpoint.epoch}): ${attackLabel(attack)} on ${test.count} test images`;
          if (evaluation) {
            options.onStage?.(`${stage}: read from ${cached}`);
          } else {
            options.onStage?.(stage);
            const { model } = await Model.load(checkpoint.file, { device: options.device });
            const { counts, cleanAccuracy, robustAccuracy } = await evaluateTestImages(model, test, { attack, seed, batchSize });
            evaluation = { counts, cleanAccuracy, robustAccuracy };
            if (cached) writeCached(cached, evaluation);
          }
          measured = {
            run: run.label,
            group: groups[i],
            method: run.config.method,
            fairness: (run.config as RunConfig & { fairness?: FairnessSetting }).fairness ?? null,
            seed: run.config.seed,
            epoch: checkpoint.epoch,
            selectOn: run.selectOn,
            attack: attackLabel(attack),
            cleanAccuracy: evaluation.cleanAccuracy,
            robustAccuracy: evaluation.robustAccuracy,
            clean: summarizeClasswise(evaluation.cleanAccuracy, evaluation.counts),
            robust: summarizeClasswise(evaluation.robustAccuracy, evaluation.counts),
          };
          if (checkpoint.kind !== 'fawa') byEpoch.set(checkpoint.epoch, measured);
        }
        rows.push({ ...measured, checkpoint: checkpoint.kind });
      }
    }
  }
  const epochs = opened.map((run, i) => {
    let lines: ReturnType<typeof readMetrics> = [];
    try {
      lines = readMetrics(run.dir);
    } catch {
      // No finished epoch recorded: the run has no curve.
    }
    return {
      run: run.label,
      group: groups[i],
      attack: lines.length ? lines[lines.length - 1].attack : '',
      points: lines.map((line) => ({ epoch: line.epoch, worstRobust: availableMin(line.robustAccuracy), meanRobust: availableMean(line.robustAccuracy) })),
    };
  });
  return fairnessFromRows(test.classNames, { dataset: first.dataset, testCount: test.count, testPerClass: perClass, attacks: attacks.map(attackLabel), baseline: labels[baselineIndex], baselineGroup: groups[baselineIndex] }, rows, epochs);
}

/** The study from measured rows: rho against the baseline group's mean, and the groups' mean +- std. */
export function fairnessFromRows(
  classNames: string[],
  about: Pick<FairnessStudy, 'dataset' | 'testCount' | 'testPerClass' | 'attacks' | 'baseline' | 'baselineGroup'>,
  measured: Omit<FairnessRow, 'rho'>[],
  epochs: FairnessStudy['epochs'] = [],
): FairnessStudy {
  const baseFor = (checkpoint: FairnessCheckpoint, attack: string) => {
    let base = measured.filter((r) => r.group === about.baselineGroup && r.attack === attack && r.checkpoint === checkpoint);
    // A baseline without that checkpoint (fawa): its best one.
    if (base.length === 0) base = measured.filter((r) => r.group === about.baselineGroup && r.attack === attack && r.checkpoint === 'best');
    if (base.length === 0) return undefined;
    return {
      worstClean: mean(base.map((r) => r.clean.worstClass)),
      averageClean: mean(base.map((r) => r.clean.average)),
      worstRobust: mean(base.map((r) => r.robust.worstClass)),
      averageRobust: mean(base.map((r) => r.robust.average)),
    };
  };
  const runs: FairnessRow[] = measured.map((row) => {
    const base = baseFor(row.checkpoint, row.attack);
    return {
      ...row,
      rho: base
        ? { clean: tradeoffScore(row.clean.worstClass, row.clean.average, base.worstClean, base.averageClean), robust: tradeoffScore(row.robust.worstClass, row.robust.average, base.worstRobust, base.averageRobust) }
        : { clean: null, robust: null },
    };
  });
  const groups: FairnessGroupRow[] = [];
  for (const group of [...new Set(runs.map((r) => r.group))]) {
    for (const checkpoint of ['best', 'last', 'fawa'] as FairnessCheckpoint[]) {
      for (const attack of about.attacks) {
        const members = runs.filter((r) => r.group === group && r.checkpoint === checkpoint && r.attack === attack);
        if (members.length === 0) continue;
        groups.push({
          group,
          runs: members.map((r) => r.run),
          checkpoint,
          attack,
          stats: {
            averageClean: meanStd(members.map((r) => r.clean.average)),
            worstClassClean: meanStd(members.map((r) => r.clean.worstClass)),
            averageRobust: meanStd(members.map((r) => r.robust.average)),
            worstClassRobust: meanStd(members.map((r) => r.robust.worstClass)),
            rhoClean: meanStd(members.map((r) => r.rho.clean)),
            rhoRobust: meanStd(members.map((r) => r.rho.robust)),
          },
          robustAccuracy: classNames.map((_, k) => mean(members.map((r) => r.robustAccuracy[k]))),
        });
      }
    }
  }
  return { classNames, ...about, runs, groups, epochs };
}

/** report.json's `runs`: one entry per run, checkpoint and attack. */
export function fairnessJsonRuns(study: FairnessStudy): Record<string, unknown>[] {
  return study.runs.map((row) => ({
    run: row.run,
    group: row.group,
    method: row.method,
    fairness: row.fairness,
    seed: row.seed,
    checkpoint: row.checkpoint,
    epoch: row.epoch,
    selectOn: row.selectOn,
    attack: row.attack,
    averageClean: row.clean.average,
    worstClassClean: row.clean.worstClass,
    averageRobust: row.robust.average,
    worstClassRobust: row.robust.worstClass,
    stdClean: row.clean.std,
    stdRobust: row.robust.std,
    worst10Clean: row.clean.worst10,
    worst10Robust: row.robust.worst10,
    rho: row.rho,
    cleanAccuracy: row.cleanAccuracy,
    robustAccuracy: row.robustAccuracy,
  }));
}

const pct = (value: number | null) => (value === null ? null : percentValue(value));
const score = (value: number | null) => (value === null ? null : Number(value.toFixed(4)));
const plusMinus = (stat: { mean: number | null; std: number | null }, scale: number, digits: number) =>
  stat.mean === null ? 'n/a' : `${(scale * stat.mean).toFixed(digits)}${stat.std === null ? '' : ` ± ${(scale * stat.std).toFixed(digits)}`}`;

/** One point per run and checkpoint; checkpoints of a run at the same place share a point ("pgd best/last"). */
function tradeoffPoints(rows: FairnessRow[]): { label: string; group: string; x: number; y: number }[] {
  const byPlace = new Map<string, { run: string; checkpoints: string[]; group: string; x: number; y: number }>();
  for (const r of rows) {
    const x = percentValue(r.clean.average);
    const y = percentValue(r.robust.average);
    const key = JSON.stringify([r.run, x, y]);
    const point = byPlace.get(key) ?? { run: r.run, checkpoints: [], group: r.group, x, y };
    point.checkpoints.push(r.checkpoint);
    byPlace.set(key, point);
  }
  return [...byPlace.values()].map((p) => ({ label: `${p.run} ${p.checkpoints.join('/')}`, group: p.group, x: p.x, y: p.y }));
}

export function fairnessSection(study: FairnessStudy): ReportSection {
  const names = displayNames(study.classNames);
  const main = study.attacks[study.attacks.length - 1];
  // Charts and findings: the best checkpoint where every run has one, else the last.
  const chosen: FairnessCheckpoint = study.runs.filter((r) => r.checkpoint === 'best').length === study.runs.filter((r) => r.checkpoint === 'last').length ? 'best' : 'last';
  const shown = study.groups.filter((g) => g.checkpoint === chosen && g.attack === main);
  const base = shown.find((g) => g.group === study.baselineGroup);
  const findings: string[] = [];
  if (base) {
    findings.push(`baseline ${study.baselineGroup} (${chosen} checkpoint, ${main}): average robust ${percent(base.stats.averageRobust.mean!)}, worst class ${percent(base.stats.worstClassRobust.mean!)}.`);
  }
  for (const g of shown.filter((g) => g.group !== study.baselineGroup)) {
    findings.push(
      `${g.group}: average robust ${plusMinus(g.stats.averageRobust, 100, 1)}%, worst class ${plusMinus(g.stats.worstClassRobust, 100, 1)}%, ` +
        `rho robust ${plusMinus(g.stats.rhoRobust, 1, 3)}, rho clean ${plusMinus(g.stats.rhoClean, 1, 3)} (${g.runs.length} run${g.runs.length > 1 ? 's' : ''}).`,
    );
  }
  const fairest = [...shown].sort((a, b) => (b.stats.worstClassRobust.mean ?? -1) - (a.stats.worstClassRobust.mean ?? -1))[0];
  if (fairest && base && shown.length > 1) {
    const lift = fairest.stats.worstClassRobust.mean! - base.stats.worstClassRobust.mean!;
    findings.push(lift > 0
      ? `highest worst-class robust accuracy: ${fairest.group}, ${percent(fairest.stats.worstClassRobust.mean!)}, ${points(lift)} above the baseline.`
      : `no method lifts the worst-class robust accuracy above the baseline's ${percent(base.stats.worstClassRobust.mean!)}.`);
  }
  if (shown.some((g) => g.stats.rhoRobust.mean === null)) findings.push("rho is n/a where the baseline's worst class (or average) is at 0%.");
  const baseRobust = base?.robustAccuracy ?? shown[0]?.robustAccuracy ?? [];
  // Classes without test examples (n/a) sort last.
  const sortable = (value: number) => (isAvailable(value) ? value : Infinity);
  const classOrder = names.map((_, k) => k).sort((a, b) => sortable(baseRobust[a]) - sortable(baseRobust[b]) || 0).map((k) => names[k]);
  const worst10 = study.classNames.length >= WORST_SHARE_MIN_CLASSES;
  const charts = [
    {
      spec: groupedBarsChart({
        title: `Robust accuracy per class and method, ${main} (%)`,
        rows: shown.flatMap((g) => names.map((name, k) => ({ className: name, group: g.group, value: percentValue(g.robustAccuracy[k]) }))),
        yTitle: 'robust accuracy (%)',
        classOrder,
      }),
      caption: `Mean over each method's runs, ${chosen} checkpoint; classes sorted by the baseline's robust accuracy.`,
    },
    {
      spec: classCurvesChart({
        title: 'Worst-class robust accuracy per epoch',
        points: study.epochs.flatMap((e) => e.points.map((p) => ({ className: e.run, x: p.epoch, value: percentValue(p.worstRobust) }))),
        xTitle: 'epoch',
        integerX: true,
        yTitle: 'worst-class robust accuracy (%)',
        legendTitle: 'run',
      }),
      caption: "From each run's metrics.jsonl: its own evaluation subset and attack during training.",
    },
    {
      spec: tradeoffScatterChart({
        title: `Clean vs robust accuracy, ${main}`,
        points: tradeoffPoints(study.runs.filter((r) => r.attack === main)),
        xTitle: 'average clean accuracy (%)',
        yTitle: 'average robust accuracy (%)',
      }),
      caption: 'One point per run and checkpoint.',
    },
  ];
  const tables: ReportTable[] = [
    {
      title: 'Per run, checkpoint and attack',
      columns: ['run', 'method', 'seed', 'checkpoint', 'epoch', 'best chosen on', 'attack', 'avg clean %', 'worst clean %', 'std clean', ...(worst10 ? ['worst-10% clean %'] : []),
        'avg robust %', 'worst robust %', 'std robust', ...(worst10 ? ['worst-10% robust %'] : []), 'rho clean', 'rho robust'],
      rows: study.runs.map((r) => [r.run, r.group, r.seed, r.checkpoint, r.epoch, r.selectOn, r.attack,
        pct(r.clean.average), pct(r.clean.worstClass), pct(r.clean.std), ...(worst10 ? [pct(r.clean.worst10)] : []),
        pct(r.robust.average), pct(r.robust.worstClass), pct(r.robust.std), ...(worst10 ? [pct(r.robust.worst10)] : []), score(r.rho.clean), score(r.rho.robust)]),
      note: `std: population standard deviation of the per-class accuracies (points). rho = (worst - worst_base)/worst_base + (avg - avg_base)/avg_base against the mean of the baseline ${study.baselineGroup} at the same checkpoint and attack.`,
    },
    {
      title: 'Mean ± std over seeds',
      columns: ['method', 'runs', 'checkpoint', 'attack', 'avg clean %', 'worst clean %', 'avg robust %', 'worst robust %', 'rho clean', 'rho robust'],
      rows: study.groups.map((g) => [g.group, g.runs.length, g.checkpoint, g.attack, plusMinus(g.stats.averageClean, 100, 2), plusMinus(g.stats.worstClassClean, 100, 2),
        plusMinus(g.stats.averageRobust, 100, 2), plusMinus(g.stats.worstClassRobust, 100, 2), plusMinus(g.stats.rhoClean, 1, 4), plusMinus(g.stats.rhoRobust, 1, 4)]),
      note: 'Sample standard deviation over the runs that share a method and every setting but the seed.',
    },
    {
      title: `Robust accuracy per class, ${main} (%)`,
      columns: ['class', ...study.runs.filter((r) => r.attack === main).map((r) => `${r.run} ${r.checkpoint}`)],
      rows: names.map((name, k) => [name, ...study.runs.filter((r) => r.attack === main).map((r) => percentValue(r.robustAccuracy[k]))]),
    },
  ];
  return {
    id: 'fairness',
    title: 'Robust fairness: methods class by class',
    description:
      `Every run's best and last checkpoint (and its FAWA weight average where there is one) on the same ${study.testCount} ${study.dataset} test images ` +
      `(${study.testPerClass === null ? 'all' : study.testPerClass} per class) under ${study.attacks.join('; ')}. Robust accuracy of a class = share of ALL its test images classified correctly under the attack. ` +
      `Average = share of all test images.${worst10 ? ` Worst-10% = mean of the worst ${Math.ceil(WORST_SHARE * study.classNames.length)} classes.` : ''}`,
    findings,
    charts,
    tables,
    data: study,
  };
}

/** The whole report (write it with writeReport): the settings on top, the section, and report.json's `runs`. */
export function fairnessReport(study: FairnessStudy): StudyReport {
  const settings: Record<string, string> = {
    runs: [...new Set(study.runs.map((r) => `${r.run} (${r.group}, seed ${r.seed})`))].join('; '),
    baseline: `${study.baseline} (${study.baselineGroup}; rho against the mean of its group)`,
    'test images': `${study.testCount} ${study.dataset} test images, ${study.testPerClass === null ? 'all' : study.testPerClass} per class, the same for every run`,
    attacks: study.attacks.join('; '),
    'best checkpoint chosen on': [...new Set(study.runs.map((r) => r.selectOn))].join(', '),
    'robust accuracy': 'share of ALL test examples of a class still classified correctly under attack',
  };
  return { title: `Robust fairness: ${study.runs.length ? [...new Set(study.runs.map((r) => r.group))].join(' vs ') : ''}`, settings, sections: [fairnessSection(study)], fields: { runs: fairnessJsonRuns(study) } };
}
