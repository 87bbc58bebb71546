export type CheckpointErrorCode = 'ERR_CHECKPOINT_CORRUPT' | 'ERR_CHECKPOINT_MISSING';

/**
 * The one error thrown for a checkpoint that cannot be read.
 * `code` lets callers branch without parsing messages; the message names the file, the field and the value.
 */
export class CheckpointError extends Error {
  readonly code: CheckpointErrorCode;
  /** The file as the caller named it. */
  readonly file: string;

  constructor(code: CheckpointErrorCode, file: string, message: string) {
    super(message);
    this.name = 'CheckpointError';
    this.code = code;
    this.file = file;
  }
}
