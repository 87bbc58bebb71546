/**
 * The one error type of classwise-at. Every failure a user can cause is a ClasswiseError with a `code`; the
 * addon is handed this class when it loads, so native failures are instances of it too. Dataset and checkpoint
 * failures are subclasses that say which kind of file is at fault. Anything else that escapes is a bug.
 */
export class ClasswiseError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ClasswiseError';
    this.code = code;
  }
}

/**
 * What went wrong while finding or reading a dataset:
 * - ERR_DATASET_MISSING: a folder or file is not where it was looked for.
 * - ERR_DATASET_CORRUPT: a file exists but its bytes, or its agreement with its sibling file, are wrong.
 * - ERR_DATASET_UNKNOWN: the dataset name or split is not one we can load.
 */
export type DatasetErrorCode = 'ERR_DATASET_MISSING' | 'ERR_DATASET_CORRUPT' | 'ERR_DATASET_UNKNOWN';

/** Thrown by every dataset reader; the message names the file, what was found, what was expected and the fix. */
export class DatasetError extends ClasswiseError {
  declare readonly code: DatasetErrorCode;

  constructor(code: DatasetErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'DatasetError';
  }
}

export type CheckpointErrorCode = 'ERR_CHECKPOINT_CORRUPT' | 'ERR_CHECKPOINT_MISSING';

/** A checkpoint that cannot be read; the message names the file, the field and the value. */
export class CheckpointError extends ClasswiseError {
  declare readonly code: CheckpointErrorCode;

  constructor(
    code: CheckpointErrorCode,
    message: string,
    /** The file as the caller named it. */
    readonly file: string,
  ) {
    super(code, message);
    this.name = 'CheckpointError';
  }
}

/** Argument problems found before any native work starts. */
export function invalidArgument(message: string): ClasswiseError {
  return new ClasswiseError('ERR_INVALID_ARGUMENT', message);
}

/** A value of the right type outside what is accepted. */
export function outOfRange(message: string): ClasswiseError {
  return new ClasswiseError('ERR_OUT_OF_RANGE', message);
}
