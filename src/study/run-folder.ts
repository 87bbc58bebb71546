/**
 * What the study reads: a run folder (metrics.jsonl + checkpoint.safetensors written by `train`) or a bare
 * checkpoint, and the test examples the run evaluated on.
 */
import fs from 'fs';
import path from 'path';

import { CheckpointMeta } from '../checkpoint';
import { ImageDataset } from '../data/dataset';
import { loadDataset } from '../data/index';
import { takePerClass } from '../data/subset';
import { ClasswiseError } from '../errors';
import { DeviceName, Model } from '../model';
import { CHECKPOINT_FILE, METRICS_FILE, RunConfig } from '../train/run';

/** The fields of a metrics.jsonl line the study uses (see metricsLine in train/run.ts). */
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
}

export function studyError(message: string, code = 'ERR_STUDY'): ClasswiseError {
  return new ClasswiseError(message, code);
}

/** Every epoch of a run, in order; a torn last line (killed run) is skipped. */
export function readMetrics(runDir: string): EpochMetrics[] {
  const file = path.join(runDir, METRICS_FILE);
  if (!fs.existsSync(file)) {
    throw studyError(`${file} not found: pass --run with a run folder written by \`classwise-at train --out DIR\``, 'ERR_RUN_MISSING');
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
  if (lines.length === 0) throw studyError(`${file} holds no finished epoch yet`, 'ERR_RUN_MISSING');
  return lines.sort((a, b) => a.epoch - b.epoch);
}

export interface OpenedModel {
  model: Model;
  meta: CheckpointMeta;
  /** The training settings, when the checkpoint was written by a run. */
  run?: RunConfig;
  checkpointPath: string;
}

/** `target` is a run folder or a .safetensors checkpoint. */
export async function openModel(target: string, device?: DeviceName): Promise<OpenedModel> {
  const checkpointPath = fs.existsSync(target) && fs.statSync(target).isDirectory() ? path.join(target, CHECKPOINT_FILE) : target;
  const { model, meta } = await Model.load(checkpointPath, { device });
  return { model, meta, run: meta.config.run as RunConfig | undefined, checkpointPath };
}

/**
 * The test examples of a study: by default the subset the run evaluated every epoch (same per-class count
 * and seed), so numbers line up with metrics.jsonl.
 */
export function studyTestSet(run: RunConfig | undefined, options: { dataset?: string; dataDir?: string; perClass?: number | null } = {}): ImageDataset {
  const dataset = options.dataset ?? run?.dataset ?? 'fashion-mnist';
  const full = loadDataset(dataset, 'test', { dataDir: options.dataDir ?? run?.dataDir });
  const perClass = options.perClass === undefined ? (run?.evalPerClass ?? null) : options.perClass;
  return perClass === null ? full : takePerClass(full, perClass, (run?.seed ?? 0) + 1);
}

/** Images as floats in [0,1], the form attack() takes. */
export function imagesAsFloats(data: Pick<ImageDataset, 'images'>): Float32Array {
  const floats = new Float32Array(data.images.length);
  for (let i = 0; i < floats.length; i++) floats[i] = data.images[i] / 255;
  return floats;
}
