export { CheckpointError } from './checkpoint-error';
export type { CheckpointErrorCode } from './checkpoint-error';
export { decodeSafetensors, encodeSafetensors, elementCount, DTYPE_BYTES } from './safetensors';
export type { NamedTensor, TensorDtype, TensorMap } from './safetensors';
export { appendLineDurable, removeLeftoverTempFiles, writeFileAtomic } from './atomic-write';
export { CHECKPOINT_FORMAT, loadCheckpoint, saveCheckpoint } from './checkpoint';
export type { Checkpoint, CheckpointMeta } from './checkpoint';
