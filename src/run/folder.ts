/**
 * A run folder on disk: checkpoint.safetensors (the last epoch, written atomically), best.safetensors (the epoch
 * with the highest robust accuracy on the evaluation subset) and metrics.jsonl (one line per epoch).
 */
import fs from 'fs';
import path from 'path';

import { writeFileAtomic } from '../checkpoint';
import { ClasswiseError } from '../errors';

export const CHECKPOINT_FILE = 'checkpoint.safetensors';
export const BEST_CHECKPOINT_FILE = 'best.safetensors';
export const METRICS_FILE = 'metrics.jsonl';

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

/** Every epoch of a run, in order; a torn last line (killed run) is skipped. */
export function readMetrics(runDir: string): EpochMetrics[] {
  const file = path.join(runDir, METRICS_FILE);
  if (!fs.existsSync(file)) {
    throw new ClasswiseError('ERR_RUN_MISSING', `${file} not found: pass --run with a run folder written by \`classwise-at train --out DIR\``);
  }
  const lines: EpochMetrics[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      lines.push(JSON.parse(line) as EpochMetrics);
    } catch {
      // An interrupted append leaves at most one partial line; resume rewrites it.
    }
  }
  if (lines.length === 0) throw new ClasswiseError('ERR_RUN_MISSING', `${file} holds no finished epoch yet`);
  return lines.sort((a, b) => a.epoch - b.epoch);
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
  writeFileAtomic(metricsPath, kept.map((line) => line + '\n').join(''));
}

/**
 * The checkpoint file a target names: a .safetensors file as given, or a run folder's last or best checkpoint.
 */
export function checkpointPath(target: string, choice: CheckpointChoice = 'last'): string {
  if (!(fs.existsSync(target) && fs.statSync(target).isDirectory())) return target;
  const file = path.join(target, choice === 'best' ? BEST_CHECKPOINT_FILE : CHECKPOINT_FILE);
  if (choice === 'best' && !fs.existsSync(file)) {
    throw new ClasswiseError('ERR_CHECKPOINT_MISSING', `${file} not found: the run has no best checkpoint (runs written before best.safetensors existed, or with no finished epoch); use the last one`);
  }
  return file;
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
