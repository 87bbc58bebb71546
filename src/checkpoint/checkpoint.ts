/**
 * Training checkpoints: model and optimizer tensors plus what is needed to resume (epoch, seed, config),
 * in one safetensors file so that Python tools can open it too.
 */
import * as fs from 'fs';
import { writeFileAtomic } from './atomic-write';
import { CheckpointError } from './checkpoint-error';
import { decodeSafetensors, encodeSafetensors, TensorMap } from './safetensors';
import { invalidArgument, outOfRange } from '../errors';

export const CHECKPOINT_FORMAT = 'classwise-at/1';

export interface CheckpointMeta {
  format: typeof CHECKPOINT_FORMAT;
  /** Number of finished epochs when the checkpoint was written. */
  epoch: number;
  seed: number;
  config: Record<string, unknown>;
}

export interface Checkpoint {
  tensors: TensorMap;
  meta: CheckpointMeta;
}

const HINT = 'pass the .safetensors file written by train, e.g. runs/NAME/checkpoint.safetensors';

/** Writes atomically: an interrupted save leaves the previous checkpoint intact. */
export function saveCheckpoint(filePath: string, checkpoint: Checkpoint): void {
  if (typeof filePath !== 'string') throw invalidArgument('saveCheckpoint needs the file to write as its first argument');
  if (!checkpoint || typeof checkpoint !== 'object' || !checkpoint.meta || !checkpoint.tensors) throw invalidArgument('saveCheckpoint needs a checkpoint { tensors, meta }');
  const { meta } = checkpoint;
  if (meta.format !== CHECKPOINT_FORMAT) {
    throw outOfRange(`checkpoint meta.format is ${JSON.stringify(meta.format)}, expected '${CHECKPOINT_FORMAT}'`);
  }
  if (!Number.isSafeInteger(meta.epoch) || meta.epoch < 0) {
    throw outOfRange(`checkpoint meta.epoch is ${meta.epoch}, expected a non-negative integer`);
  }
  if (!Number.isSafeInteger(meta.seed)) {
    throw outOfRange(`checkpoint meta.seed is ${meta.seed}, expected an integer`);
  }
  // safetensors metadata is string to string, so numbers and the config travel as text.
  const metadata = {
    format: meta.format,
    epoch: String(meta.epoch),
    seed: String(meta.seed),
    config: JSON.stringify(meta.config),
  };
  writeFileAtomic(filePath, encodeSafetensors(checkpoint.tensors, metadata));
}

/** Reads and validates a checkpoint; every failure is a CheckpointError naming the file and what is wrong. */
export function loadCheckpoint(filePath: string): Checkpoint {
  if (typeof filePath !== 'string') throw invalidArgument('loadCheckpoint needs the checkpoint file, e.g. runs/NAME/checkpoint.safetensors');
  const { tensors, metadata } = decodeSafetensors(readCheckpointFile(filePath), filePath);
  const corrupt = (detail: string) =>
    new CheckpointError('ERR_CHECKPOINT_CORRUPT', `${filePath}: ${detail}`, filePath);

  if (metadata.format === undefined) {
    throw corrupt(
      `is a safetensors file but not a classwise-at checkpoint: __metadata__.format is missing, ` +
        `expected '${CHECKPOINT_FORMAT}' (${HINT})`,
    );
  }
  if (metadata.format !== CHECKPOINT_FORMAT) {
    throw corrupt(`__metadata__.format is ${JSON.stringify(metadata.format)}, expected '${CHECKPOINT_FORMAT}'`);
  }
  const epoch = parseIntegerField('epoch', metadata.epoch, corrupt);
  if (epoch < 0) throw corrupt(`__metadata__.epoch is "${metadata.epoch}", expected a non-negative integer`);
  const seed = parseIntegerField('seed', metadata.seed, corrupt);
  const config = parseConfig(metadata.config, corrupt);
  return { tensors, meta: { format: CHECKPOINT_FORMAT, epoch, seed, config } };
}

function readCheckpointFile(filePath: string): Buffer {
  try {
    return fs.readFileSync(filePath);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new CheckpointError('ERR_CHECKPOINT_MISSING', `checkpoint not found: ${filePath} (${HINT})`, filePath);
    }
    if (code === 'EISDIR') {
      throw new CheckpointError('ERR_CHECKPOINT_MISSING', `checkpoint path is a folder: ${filePath} (${HINT})`, filePath);
    }
    throw error;
  }
}

function parseIntegerField(
  field: string,
  text: string | undefined,
  corrupt: (detail: string) => CheckpointError,
): number {
  const value = text !== undefined && /^-?\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value)) {
    throw corrupt(`__metadata__.${field} is ${text === undefined ? 'missing' : JSON.stringify(text)}, expected an integer`);
  }
  return value;
}

function parseConfig(text: string | undefined, corrupt: (detail: string) => CheckpointError): Record<string, unknown> {
  if (text === undefined) throw corrupt(`__metadata__.config is missing, expected a JSON object`);
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (error) {
    throw corrupt(`__metadata__.config is not valid JSON (${(error as Error).message}), expected a JSON object`);
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw corrupt(`__metadata__.config is ${text.slice(0, 60)}, expected a JSON object`);
  }
  return config as Record<string, unknown>;
}
