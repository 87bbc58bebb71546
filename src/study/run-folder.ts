/**
 * What the study reads: a run folder (metrics.jsonl and its checkpoints, written by `train`) or a bare
 * checkpoint, and the test examples the run evaluated on (through the run layer's one loader).
 */
import { CheckpointMeta } from '../checkpoint';
import { ClasswiseError } from '../errors';
import { DeviceName, Model } from '../model';
import { checkpointPath as resolveCheckpoint, CheckpointChoice, RunConfig } from '../run';

export { readMetrics } from '../run';
export type { EpochMetrics } from '../run';

export function studyError(message: string, code = 'ERR_STUDY'): ClasswiseError {
  return new ClasswiseError(code, message);
}

export interface OpenedModel {
  model: Model;
  meta: CheckpointMeta;
  /** The training settings, when the checkpoint was written by a run. */
  run?: RunConfig;
  checkpointPath: string;
}

/** `target` is a run folder (its last or best checkpoint) or a .safetensors checkpoint. */
export async function openModel(target: string, device?: DeviceName, choice: CheckpointChoice = 'last'): Promise<OpenedModel> {
  const checkpointPath = resolveCheckpoint(target, choice);
  const { model, meta } = await Model.load(checkpointPath, { device });
  return { model, meta, run: meta.config.run as RunConfig | undefined, checkpointPath };
}
