export { CheckpointError } from '../errors';
export type { CheckpointErrorCode } from '../errors';
