/**
 * `study fairness`: runs compared class by class on one test subset. Known answers for the summary numbers and
 * DAFA's rho, equality with `evaluate` of the same checkpoints (tiny PGD-AT and TRADES runs trained here), and
 * the refusals of runs that would not be compared on the same images.
 */
import { spawnSync } from 'child_process';
import fs from 'fs';
import os from 'os';
import path from 'path';

import { evaluate, loadCheckpoint, loadRunTestSet, Model, RunConfig, runTraining, saveCheckpoint, study } from '../../src';
import { groupLabels, type FairnessRow } from '../../src/study/fairness';

const root = path.resolve(__dirname, '../..');
// Two digits (0 and 1), which one epoch on 100 images learns, so every class is above 0 and rho is defined.
const CLASSES = [0, 1];
const PER_CLASS = 5;
const ATTACK = 'pgd@3';

function cli(args: string[]) {
  const result = spawnSync(process.execPath, ['dist/cli/main.js', ...args], { cwd: root, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function tinyConfig(method: 'pgd' | 'trades', seed: number): RunConfig {
  return {
    dataset: 'mnist', method, epochs: 1, batchSize: 64, learningRate: 0.05, schedule: 'constant', momentum: 0.9, weightDecay: 5e-4,
    nesterov: false, seed, eps: 0.1, trainSteps: 2, trainStepSize: 0.05, evalSteps: 2, evalStepSize: 0.05, evalRestarts: 1,
    trainPerClass: 50, evalPerClass: 4, classes: CLASSES, ...(method === 'trades' ? { beta: 6 } : {}),
  };
}

/** A copy of a run folder whose checkpoints carry other run settings (what another training would have written). */
function withSettings(source: string, target: string, change: (run: Record<string, unknown>) => void): string {
  fs.mkdirSync(target, { recursive: true });
  for (const file of fs.readdirSync(source)) {
    const from = path.join(source, file);
    if (!file.endsWith('.safetensors')) {
      fs.copyFileSync(from, path.join(target, file));
      continue;
    }
    const checkpoint = loadCheckpoint(from);
    change(checkpoint.meta.config.run as Record<string, unknown>);
    saveCheckpoint(path.join(target, file), checkpoint);
  }
  return target;
}

let dir: string;
let pgd: string;
let pgdSeed1: string;
let trades: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fairness-'));
  pgd = path.join(dir, 'pgd');
  pgdSeed1 = path.join(dir, 'pgd-seed1');
  trades = path.join(dir, 'trades');
  await runTraining(tinyConfig('pgd', 0), { out: pgd, device: 'cpu' });
  await runTraining(tinyConfig('pgd', 1), { out: pgdSeed1, device: 'cpu' });
  await runTraining(tinyConfig('trades', 0), { out: trades, device: 'cpu' });
}, 120_000);

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('summary numbers', () => {
  test('average over all images, worst class, population std; no worst-10% under 20 classes', () => {
    const summary = study.summarizeClasswise([0.5, 1, 0.25], [2, 2, 4]);
    expect(summary.average).toBeCloseTo((1 + 2 + 1) / 8, 12);
    expect(summary.worstClass).toBe(0.25);
    const classMean = 1.75 / 3;
    expect(summary.std).toBeCloseTo(Math.sqrt(((0.5 - classMean) ** 2 + (1 - classMean) ** 2 + (0.25 - classMean) ** 2) / 3), 12);
    expect(summary.worst10).toBeNull();
    expect(study.summarizeClasswise(Array.from({ length: 19 }, (_, k) => k / 19), new Array(19).fill(1)).worst10).toBeNull();
  });

  test('the worst-10% mean of 20 classes is the mean of the two worst; of 25 classes, of the three worst', () => {
    const twenty = Array.from({ length: 20 }, (_, k) => (k * 7) % 20 / 20);
    expect(study.summarizeClasswise(twenty, new Array(20).fill(5)).worst10).toBeCloseTo((0 + 0.05) / 2, 12);
    const twentyFive = Array.from({ length: 25 }, (_, k) => 1 - k / 25);
    expect(study.summarizeClasswise(twentyFive, new Array(25).fill(1)).worst10).toBeCloseTo((1 / 25 + 2 / 25 + 3 / 25) / 3, 12);
  });

  test("DAFA's rho by hand: (0.3 - 0.2)/0.2 + (0.5 - 0.4)/0.4 = 0.75; a zero base gives null, not Infinity", () => {
    expect(study.tradeoffScore(0.3, 0.5, 0.2, 0.4)).toBeCloseTo(0.75, 12);
    expect(study.tradeoffScore(0.2, 0.4, 0.2, 0.4)).toBe(0);
    expect(study.tradeoffScore(0.3, 0.5, 0, 0.4)).toBeNull();
  });

  test('rho is measured against the mean of the baseline group; seeds of one method give mean and sample std', () => {
    const row = (run: string, group: string, worst: number, average: number): Omit<FairnessRow, 'rho'> => ({
      run, group, method: group, fairness: null, seed: 0, checkpoint: 'best', epoch: 1, selectOn: 'test', attack: 'A',
      cleanAccuracy: [1, 1], robustAccuracy: [worst, 2 * average - worst],
      clean: { average: 0.9, worstClass: 0.8, std: 0, worst10: null }, robust: { average, worstClass: worst, std: 0, worst10: null },
    });
    const result = study.fairnessFromRows(['a', 'b'], { dataset: 'mnist', testCount: 4, testPerClass: 2, attacks: ['A'], baseline: 'b1', baselineGroup: 'base' },
      [row('b1', 'base', 0.2, 0.4), row('b2', 'base', 0.4, 0.6), row('m1', 'fair', 0.45, 0.5), row('m2', 'fair', 0.3, 0.5)]);
    // Baseline means: worst 0.3, average 0.5.
    const rho = Object.fromEntries(result.runs.map((r) => [r.run, r.rho.robust]));
    expect(rho.b1).toBeCloseTo(-1 / 3 - 0.2, 12);
    expect(rho.m1).toBeCloseTo(0.5, 12);
    expect(rho.m2).toBeCloseTo(0, 12);
    expect(result.runs.every((r) => r.rho.clean === 0)).toBe(true);
    const fair = result.groups.find((g) => g.group === 'fair')!;
    expect(fair.runs).toEqual(['m1', 'm2']);
    expect(fair.stats.worstClassRobust.mean).toBeCloseTo(0.375, 12);
    expect(fair.stats.worstClassRobust.std).toBeCloseTo(Math.sqrt(2 * 0.075 ** 2), 12);
    expect(fair.stats.rhoRobust.mean).toBeCloseTo(0.25, 12);
  });

  test('with 20 classes the report adds the worst-10% columns; with fewer it leaves them out', () => {
    const rows = (classes: number) => {
      const robust = Array.from({ length: classes }, (_, k) => k / classes);
      const summary = study.summarizeClasswise(robust, new Array(classes).fill(1));
      return study.fairnessFromRows(Array.from({ length: classes }, (_, k) => `c${k}`),
        { dataset: 'cifar100', testCount: classes, testPerClass: 1, attacks: ['A'], baseline: 'r', baselineGroup: 'trades' },
        [{ run: 'r', group: 'trades', method: 'trades', fairness: null, seed: 0, checkpoint: 'best', epoch: 1, selectOn: 'validation', attack: 'A',
          cleanAccuracy: robust, robustAccuracy: robust, clean: summary, robust: summary }]);
    };
    const [perRun] = study.fairnessSection(rows(20)).tables;
    const column = perRun.columns.indexOf('worst-10% robust %');
    expect(column).toBeGreaterThan(0);
    expect(perRun.rows[0][column]).toBe(2.5);
    expect(perRun.rows[0][perRun.columns.indexOf('best chosen on')]).toBe('validation');
    expect(study.fairnessSection(rows(19)).tables[0].columns).not.toContain('worst-10% robust %');
  });
});

describe('tiny runs trained here', () => {
  test('the numbers equal evaluate of the same checkpoints on the same test images', async () => {
    const result = await study.fairness({ runs: [pgd, trades], attacks: ATTACK, perClass: PER_CLASS, seed: 0, device: 'cpu' });
    expect(result.runs.map((r) => `${r.run} ${r.checkpoint}`)).toEqual(['pgd best', 'pgd last', 'trades best', 'trades last']);
    expect(result.testCount).toBe(CLASSES.length * PER_CLASS);
    const test = await loadRunTestSet(tinyConfig('pgd', 0), PER_CLASS, 1);
    for (const row of result.runs) {
      const file = path.join(row.run === 'pgd' ? pgd : trades, row.checkpoint === 'best' ? 'best.safetensors' : 'checkpoint.safetensors');
      const { model } = await Model.load(file, { device: 'cpu' });
      const expected = await evaluate(model, test, { attack: { kind: 'pgd', eps: 0.1, steps: 3 }, seed: 0, batchSize: 256 });
      expect(row.robustAccuracy).toEqual(expected.robustAccuracy);
      expect(row.cleanAccuracy).toEqual(expected.cleanAccuracy);
      expect(row.robust.average).toBeCloseTo(expected.overall.robust, 12);
      expect(row.clean.average).toBeCloseTo(expected.overall.clean, 12);
      expect(row.robust.worstClass).toBe(Math.min(...expected.robustAccuracy));
    }
    // The first run is the baseline: its rho is 0 wherever its numbers are above zero.
    for (const row of result.runs.filter((r) => r.run === 'pgd')) {
      if (row.robust.worstClass > 0) expect(row.rho.robust).toBe(0);
      else expect(row.rho.robust).toBeNull();
    }
    expect(result.epochs.map((e) => e.points.length)).toEqual([1, 1]);
  }, 120_000);

  test('with a cache, a second study reads every evaluation back with the same numbers; a cut-short entry is redone', async () => {
    const cache = path.join(dir, 'cache');
    const stages: string[] = [];
    const options = { runs: [pgd, trades], attacks: ATTACK, perClass: PER_CLASS, seed: 0, device: 'cpu' as const, cache };
    const first = await study.fairness({ ...options, onStage: (text) => stages.push(text) });
    // best and last are one epoch: one evaluation per run.
    const files = fs.readdirSync(cache).filter((name) => name.endsWith('.json'));
    expect(files).toHaveLength(2);
    expect(stages.filter((text) => text.includes('read from'))).toEqual([]);
    stages.length = 0;
    const second = await study.fairness({ ...options, onStage: (text) => stages.push(text) });
    expect(second.runs).toEqual(first.runs);
    expect(stages).toHaveLength(2);
    expect(stages.every((text) => text.includes(`read from ${cache}`))).toBe(true);
    // A kill mid-write leaves at most a cut-short file: it is evaluated again and rewritten.
    fs.writeFileSync(path.join(cache, files[0]), '{"counts": [5,');
    stages.length = 0;
    const third = await study.fairness({ ...options, onStage: (text) => stages.push(text) });
    expect(third.runs).toEqual(first.runs);
    expect(stages.filter((text) => !text.includes('read from'))).toHaveLength(1);
    expect(JSON.parse(fs.readFileSync(path.join(cache, files[0]), 'utf8')).counts).toEqual([5, 5]);
    // Another seed is another evaluation.
    await study.fairness({ ...options, seed: 1 });
    expect(fs.readdirSync(cache).filter((name) => name.endsWith('.json'))).toHaveLength(4);
  }, 120_000);

  test("fine-tunes of one method's seeds group as seeds; fine-tunes of different methods do not", () => {
    const fineTune = (initFrom: string, seed: number): RunConfig => ({ ...tinyConfig('trades', seed), fairness: { kind: 'faal' }, initFrom } as RunConfig);
    const labels = groupLabels([fineTune(pgd, 0), fineTune(pgdSeed1, 1), fineTune(trades, 0)]);
    expect(labels[0]).toBe(labels[1]);
    expect(labels[2]).not.toBe(labels[0]);
    expect(labels[0]).toMatch(/^trades\+faal \(initFrom /);
    // A starting point that is no checkpoint counts by its path.
    const moved = groupLabels([fineTune('/nonexistent/a', 0), fineTune('/nonexistent/b', 1)]);
    expect(moved[0]).not.toBe(moved[1]);
  });

  test('checkpoints: ["best"] evaluates each run\'s best checkpoint only; an unknown kind is refused', async () => {
    const result = await study.fairness({ runs: [pgd, trades], attacks: ATTACK, perClass: PER_CLASS, seed: 0, device: 'cpu', checkpoints: ['best'] });
    expect(result.runs.map((r) => `${r.run} ${r.checkpoint}`)).toEqual(['pgd best', 'trades best']);
    await expect(study.fairness({ runs: [pgd], checkpoints: ['first' as 'best'] }))
      .rejects.toThrow('study fairness: checkpoints is "first"; name one or more of best, last, fawa');
  }, 120_000);

  test('the CLI writes report.html, report.json runs[] and CSV, and its numbers equal `evaluate --json`', () => {
    const out = path.join(dir, 'report');
    const fawaRun = withSettings(pgdSeed1, path.join(dir, 'cfa'), (run) => { run.fairness = { kind: 'cfa', l1: 0.5 }; });
    fs.copyFileSync(path.join(fawaRun, 'checkpoint.safetensors'), path.join(fawaRun, 'fawa.safetensors'));
    // A run whose best checkpoint was chosen on validation says so in its metrics lines.
    const metricsFile = path.join(fawaRun, 'metrics.jsonl');
    fs.writeFileSync(metricsFile, fs.readFileSync(metricsFile, 'utf8').trim().split('\n').map((line) => JSON.stringify({ ...JSON.parse(line), selectOn: 'validation' })).join('\n') + '\n');
    const result = cli(['study', 'fairness', '--runs', [pgd, pgdSeed1, trades, fawaRun].join(','), '--baseline', 'trades', '--attacks', ATTACK,
      '--per-class', String(PER_CLASS), '--device', 'cpu', '--out', out]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/  - baseline trades \(best checkpoint, PGD-3 [^)]*\): average robust [0-9.]+%, worst class [0-9.]+%\./);
    expect(result.stdout).toMatch(/  - pgd: average robust [0-9.]+ ± [0-9.]+%, worst class [0-9.]+ ± [0-9.]+%, rho robust (-?[0-9.]+ ± [0-9.]+|n\/a), rho clean (-?[0-9.]+ ± [0-9.]+|n\/a) \(2 runs\)\./);
    const saved = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8'));
    const runs = saved.runs as Record<string, unknown>[];
    for (const key of ['method', 'fairness', 'checkpoint', 'attack', 'averageClean', 'worstClassClean', 'averageRobust', 'worstClassRobust', 'rho']) {
      expect(runs.every((r) => key in r)).toBe(true);
    }
    expect(runs.map((r) => `${r.run} ${r.method} ${r.checkpoint}`)).toEqual([
      'pgd pgd best', 'pgd pgd last', 'pgd-seed1 pgd best', 'pgd-seed1 pgd last', 'trades trades best', 'trades trades last', 'cfa pgd best', 'cfa pgd last', 'cfa pgd fawa',
    ]);
    const cfa = runs.filter((r) => r.run === 'cfa');
    expect(cfa.every((r) => (r.fairness as { kind: string }).kind === 'cfa' && r.group === 'pgd+cfa')).toBe(true);
    expect(runs.filter((r) => r.run === 'pgd').every((r) => r.fairness === null && r.selectOn === 'test')).toBe(true);
    expect(cfa.every((r) => r.selectOn === 'validation')).toBe(true);
    const evaluated = path.join(dir, 'evaluate.json');
    const single = cli(['evaluate', '--checkpoint', trades, '--best', '--attack', ATTACK, '--per-class', String(PER_CLASS), '--device', 'cpu', '--json', evaluated]);
    expect(single.status).toBe(0);
    const expected = JSON.parse(fs.readFileSync(evaluated, 'utf8'));
    const tradesBest = runs.find((r) => r.run === 'trades' && r.checkpoint === 'best')!;
    expect(tradesBest.robustAccuracy).toEqual(expected.robustAccuracy);
    expect(tradesBest.cleanAccuracy).toEqual(expected.cleanAccuracy);
    expect(tradesBest.averageRobust).toBeCloseTo(expected.overall.robust, 12);
    // rho by hand from the saved numbers: against trades (the baseline) at the same checkpoint; fawa against its best.
    for (const row of runs) {
      const base = runs.find((r) => r.run === 'trades' && r.checkpoint === (row.checkpoint === 'fawa' ? 'best' : row.checkpoint))! as Record<string, number>;
      const byHand = (worst: number, average: number, baseWorst: number, baseAverage: number) =>
        baseWorst > 0 ? (worst - baseWorst) / baseWorst + (average - baseAverage) / baseAverage : null;
      const r = row as Record<string, number> & { rho: { clean: number | null; robust: number | null } };
      const clean = byHand(r.worstClassClean, r.averageClean, base.worstClassClean, base.averageClean);
      const robust = byHand(r.worstClassRobust, r.averageRobust, base.worstClassRobust, base.averageRobust);
      if (clean !== null) expect(r.rho.clean).toBeCloseTo(clean, 12);
      else expect(r.rho.clean).toBeNull();
      if (robust !== null) expect(r.rho.robust).toBeCloseTo(robust, 12);
      else expect(r.rho.robust).toBeNull();
    }
    // Redrawn from report.json alone, the report keeps its runs[].
    const redrawn = path.join(dir, 'redrawn');
    expect(cli(['study', 'render', '--from', path.join(out, 'report.json'), '--out', redrawn]).status).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(redrawn, 'report.json'), 'utf8')).runs).toEqual(runs);
    const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
    expect(html).toContain('Worst-class robust accuracy per epoch');
    expect(html).toContain('Clean vs robust accuracy');
    expect(fs.readdirSync(path.join(out, 'csv')).map((file) => file.replace(/-linf-.*/, '')).sort()).toEqual([
      'fairness-mean-std-over-seeds.csv', 'fairness-per-run-checkpoint-and-attack.csv', 'fairness-robust-accuracy-per-class-pgd-3',
    ]);
  }, 120_000);
});

describe('runs that would not be compared on the same images are refused, naming the difference', () => {
  test('another dataset', async () => {
    const other = withSettings(trades, path.join(dir, 'fashion'), (run) => { run.dataset = 'fashion-mnist'; });
    await expect(study.fairness({ runs: [pgd, other], attacks: ATTACK })).rejects.toThrow(
      'study fairness: run fashion has dataset "fashion-mnist", run pgd has "mnist"; compare runs of one dataset');
  });

  test('another class list', async () => {
    const other = withSettings(trades, path.join(dir, 'three-classes'), (run) => { run.classes = [0, 1, 2]; });
    await expect(study.fairness({ runs: [pgd, other], attacks: ATTACK })).rejects.toThrow(
      'study fairness: run three-classes has classes [0,1,2], run pgd has [0,1]; compare runs trained on the same class list');
  });

  test('another test subset, unless --per-class sets one for all', async () => {
    const other = withSettings(trades, path.join(dir, 'eval-8'), (run) => { run.evalPerClass = 8; });
    const message = 'study fairness: run eval-8 has evalPerClass 8, run pgd has 4; pass --per-class N to evaluate every run on the same N test images per class';
    await expect(study.fairness({ runs: [pgd, other], attacks: ATTACK })).rejects.toThrow(message);
    const result = cli(['study', 'fairness', '--runs', `${pgd},${other}`, '--attacks', ATTACK, '--out', path.join(dir, 'refused')]);
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe(`error: ${message}`);
    expect(fs.existsSync(path.join(dir, 'refused'))).toBe(false);
  });

  test('another eps, a baseline not among the runs, a folder that is no run', async () => {
    const other = withSettings(trades, path.join(dir, 'eps-0.2'), (run) => { run.eps = 0.2; });
    await expect(study.fairness({ runs: [pgd, other], attacks: ATTACK })).rejects.toThrow(
      'study fairness: run eps-0.2 has eps 0.2, run pgd has 0.1; pass --eps E to attack every run with the same budget');
    await expect(study.fairness({ runs: [pgd, trades], baseline: 'cfa-run' })).rejects.toThrow(
      `--baseline cfa-run is not one of --runs ${pgd},${trades}; name one of them`);
    await expect(study.fairness({ runs: [pgd, dir] })).rejects.toThrow(
      `study fairness: ${path.join(dir, 'checkpoint.safetensors')} not found; --runs takes run folders written by \`classwise-at train --out DIR\``);
    await expect(study.fairness({ runs: [pgd, pgd] })).rejects.toThrow(`--runs ${pgd},${pgd} names a run twice; name each run folder once`);
    await expect(study.fairness({ runs: [pgd, 7 as unknown as string] })).rejects.toThrow('study fairness: runs holds 7; each entry is a run folder written by train');
    await expect(study.fairness({ runs: [pgd], perClass: 0 })).rejects.toThrow('study fairness: perClass is 0; expected an integer >= 1');
    await expect(study.fairness({ runs: [pgd], eps: NaN })).rejects.toThrow('study fairness: eps is NaN; expected a finite number >= 0');
    await expect(study.fairness(undefined as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
  });
});
