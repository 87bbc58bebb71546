/**
 * A run folder on disk: checkpoint.safetensors (the last epoch, written atomically), best.safetensors (the epoch
 * with the highest robust accuracy on the evaluation subset) and metrics.jsonl (one line per epoch).
 */
import fs from 'fs';
import path from 'path';

import { shareOrNaN } from '../class-shares';
import { writeFileAtomic } from '../checkpoint';
import { ClasswiseError } from '../errors';
import { LOCK_FILE } from './lock';

export const CHECKPOINT_FILE = 'checkpoint.safetensors';
export const BEST_CHECKPOINT_FILE = 'best.safetensors';
export const METRICS_FILE = 'metrics.jsonl';
/** CFA's FAWA weight average, a checkpoint Model.load opens (written once a model has passed FAWA's gate). */
export const FAWA_CHECKPOINT_FILE = 'fawa.safetensors';

/** Which checkpoint of a run folder to open. */
export type CheckpointChoice = 'last' | 'best';

/** The fields of a metrics.jsonl line that readers use (see metricsLine in run/train.ts). */
export interface EpochMetrics {
  epoch: number;
  attack: string;
  classNames: string[];
  counts: number[];
  cleanAccuracy: number[];
  robustAccuracy: number[];
  weightNorms: number[];
  meanLoss?: number[];
  meanGradientNorm?: number[];
  adversarialConfusion?: number[][];
  /** Mean robust accuracy over classes, as the per-class table prints it (runs before it lack it). */
  meanRobust?: number;
  /** Robust accuracy over all evaluated examples (runs before best.safetensors lack it). */
  overallRobust?: number;
  /** The epoch with the highest meanRobust so far, this one included, and whether it is this one. */
  bestEpoch?: number;
  isBestEpoch?: boolean;
  /** The split and rule that chose best.safetensors, and this epoch's score by them (absent: test, robust). */
  selectOn?: 'validation' | 'test';
  selectRule?: 'robust' | 'robust+worst';
  selectScore?: number;
}

/**
 * A folder that will hold a run: created when missing; a file in its place is refused with the option's name.
 */
export function prepareRunFolder(out: string, option = '--out'): void {
  if (fs.existsSync(out) && !fs.statSync(out).isDirectory()) {
    throw new ClasswiseError('ERR_INVALID_ARGUMENT', `${option} ${out} is a file; expected a run folder (created when missing)`);
  }
  try {
    fs.mkdirSync(out, { recursive: true });
  } catch (error) {
    throw new ClasswiseError('ERR_INVALID_ARGUMENT', `${option} ${out} cannot be created (${(error as Error).message})`);
  }
}

/**
 * Every epoch of a run, in order. Only the last line may be torn (a killed append; resume rewrites it) and is
 * skipped; any other line that is not an epoch's record, or repeats an epoch, is refused with its line number.
 */
export function readMetrics(runDir: string): EpochMetrics[] {
  const file = path.join(runDir, METRICS_FILE);
  if (!fs.existsSync(file)) {
    throw new ClasswiseError('ERR_RUN_MISSING', `${file} not found: pass --run with a run folder written by \`classwise-at train --out DIR\`; ${runsHint(runDir)}`);
  }
  const refuse = (why: string) => new ClasswiseError('ERR_RUN_CORRUPT', `${file}: ${why}; the file was edited or two runs wrote it: restore it, or train again into a new --out`);
  const text = fs.readFileSync(file, 'utf8');
  const rows = text.split('\n');
  // The index of the last non-empty line: the only one a killed append can leave torn.
  let lastLine = rows.length - 1;
  while (lastLine >= 0 && rows[lastLine].trim() === '') lastLine--;
  const lines: EpochMetrics[] = [];
  const lineOfEpoch = new Map<number, number>();
  for (let index = 0; index <= lastLine; index++) {
    const row = rows[index];
    if (row.trim() === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(row);
    } catch {
      if (index === lastLine && !text.endsWith('\n')) continue;
      throw refuse(`line ${index + 1} is not JSON`);
    }
    const metrics = parsed as EpochMetrics | null;
    if (!metrics || typeof metrics !== 'object' || !Number.isInteger(metrics.epoch) || metrics.epoch < 1) {
      throw refuse(`line ${index + 1} is ${row.length > 60 ? row.slice(0, 60) + '...' : row}, expected an object with an integer epoch`);
    }
    if (!['classNames', 'counts', 'cleanAccuracy', 'robustAccuracy'].every((field) => Array.isArray((metrics as unknown as Record<string, unknown>)[field]))) {
      throw refuse(`line ${index + 1} (epoch ${metrics.epoch}) has no classNames, counts, cleanAccuracy or robustAccuracy arrays`);
    }
    const earlier = lineOfEpoch.get(metrics.epoch);
    if (earlier !== undefined) throw refuse(`line ${index + 1} repeats epoch ${metrics.epoch} (line ${earlier})`);
    lineOfEpoch.set(metrics.epoch, index + 1);
    lines.push(withUnavailableShares(metrics));
  }
  if (lines.length === 0) throw new ClasswiseError('ERR_RUN_MISSING', `${file} holds no finished epoch yet`);
  return lines.sort((a, b) => a.epoch - b.epoch);
}

/**
 * A class without test examples has no accuracy: JSON holds null for it (runs before wrote 0); in memory it is
 * NaN, so no reader counts it as a share of 0.
 */
function withUnavailableShares(metrics: EpochMetrics): EpochMetrics {
  const share = (values: (number | null)[]) => values.map((value, k) => (metrics.counts[k] === 0 ? NaN : shareOrNaN(value)));
  return { ...metrics, cleanAccuracy: share(metrics.cleanAccuracy), robustAccuracy: share(metrics.robustAccuracy) };
}

/** Keeps metrics lines of finished epochs only, so a resumed run appends where its checkpoint stands. */
export function trimMetrics(metricsPath: string, keepEpochs: number): void {
  if (!fs.existsSync(metricsPath)) return;
  const kept = fs
    .readFileSync(metricsPath, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .filter((line) => {
      try {
        return (JSON.parse(line) as { epoch: number }).epoch <= keepEpochs;
      } catch {
        return false;
      }
    });
  const text = kept.map((line) => line + '\n').join('');
  // Nothing to drop: no write (a finished run resumed on a read-only folder writes nothing).
  if (text === fs.readFileSync(metricsPath, 'utf8')) return;
  writeFileAtomic(metricsPath, text);
}

/**
 * The checkpoint file a target names: a .safetensors file as given, or a run folder's last or best checkpoint.
 */
export function checkpointPath(target: string, choice: CheckpointChoice = 'last'): string {
  if (!fs.existsSync(target)) throw new ClasswiseError('ERR_CHECKPOINT_MISSING', `${target} does not exist; ${runsHint(target)}`);
  if (!fs.statSync(target).isDirectory()) return target;
  const file = path.join(target, choice === 'best' ? BEST_CHECKPOINT_FILE : CHECKPOINT_FILE);
  if (choice === 'best' && !fs.existsSync(file)) {
    throw new ClasswiseError('ERR_CHECKPOINT_MISSING', `${file} not found: the run has no best checkpoint (runs written before best.safetensors existed, or with no finished epoch); use the last one`);
  }
  return file;
}

/** Run folders (holding a checkpoint) in `folder`, sorted, as paths. */
export function runFolders(folder: string): string[] {
  if (!fs.existsSync(folder) || !fs.statSync(folder).isDirectory()) return [];
  return fs.readdirSync(folder)
    .map((name) => path.join(folder, name))
    .filter((candidate) => fs.existsSync(path.join(candidate, CHECKPOINT_FILE)))
    .sort();
}

/** The runs that do exist beside a path that does not (and in runs/), for the message that refuses it. */
export function runsHint(target: string): string {
  const places = [...new Set([path.dirname(target), 'runs'])];
  const found = [...new Set(places.flatMap(runFolders))];
  if (found.length === 0) return `no run folders in ${places.join(' or ')}; train one with \`npm start\` or \`classwise-at train --out DIR\``;
  const shown = found.slice(0, 8);
  return `runs that exist: ${shown.join(', ')}${found.length > shown.length ? `, ... (${found.length} in all)` : ''}`;
}

/** A file an option will write: refused up front when it names a folder or its folder is missing or a file. */
export function writableFile(file: string, option: string): void {
  if (fs.existsSync(file) && fs.statSync(file).isDirectory()) {
    throw new ClasswiseError('ERR_INVALID_ARGUMENT', `${option} ${file} is a folder; expected a file name`);
  }
  const folder = path.dirname(path.resolve(file));
  if (!fs.existsSync(folder) || !fs.statSync(folder).isDirectory()) {
    throw new ClasswiseError('ERR_INVALID_ARGUMENT', `${option} ${file}: ${path.dirname(file)} is not a folder; create it or choose another path`);
  }
}

/** Real path of a file, or of its folder when the file does not exist yet, so links and ../ compare equal. */
function canonical(file: string): string {
  const resolved = path.resolve(file);
  try {
    return fs.realpathSync(resolved);
  } catch {
    try {
      return path.join(fs.realpathSync(path.dirname(resolved)), path.basename(resolved));
    } catch {
      return resolved;
    }
  }
}

export interface OutputFileCheck {
  /** Files the command reads (its checkpoint, its model): never its output. */
  inputs: readonly string[];
  /** Whether an existing file already holds this command's kind of output (then replacing it is expected). */
  isOwnKind: (bytes: Buffer) => boolean;
  /** Replace an existing file of another kind. */
  force?: boolean;
}

/**
 * A file an option will write, checked before the work: not one of the command's inputs, not a file of a run
 * folder (a checkpoint, metrics.jsonl, its lock), and not an existing file of another kind unless forced.
 */
export function checkOutputFile(file: string, option: string, check: OutputFileCheck): void {
  writableFile(file, option);
  const target = canonical(file);
  if (check.inputs.some((input) => canonical(input) === target)) {
    throw new ClasswiseError('ERR_INVALID_ARGUMENT', `${option} ${file} is a file this command reads; choose another output file`);
  }
  const name = path.basename(target);
  const inRunFolder = [CHECKPOINT_FILE, BEST_CHECKPOINT_FILE, METRICS_FILE].some((runFile) => fs.existsSync(path.join(path.dirname(target), runFile)));
  if (name.endsWith('.safetensors') || name === METRICS_FILE || name === LOCK_FILE || (inRunFolder && [CHECKPOINT_FILE, BEST_CHECKPOINT_FILE, METRICS_FILE].includes(name))) {
    throw new ClasswiseError('ERR_INVALID_ARGUMENT', `${option} ${file} would replace a checkpoint or run-folder file; choose another output file, e.g. result.json`);
  }
  if (!check.force && fs.existsSync(target)) {
    let own = false;
    try {
      own = check.isOwnKind(fs.readFileSync(target));
    } catch {
      own = false;
    }
    if (!own) {
      throw new ClasswiseError('ERR_INVALID_ARGUMENT', `${option} ${file} exists and is not a result this command wrote; choose another file or pass --force to replace it`);
    }
  }
}
