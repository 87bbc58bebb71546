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

/** What each file-system failure means for the user, and the fix. */
const IO_FIXES: Record<string, string> = {
  ENOSPC: 'no space left on the device; free space or choose a folder on another disk',
  EDQUOT: 'the disk quota is exhausted; free space or choose a folder on another disk',
  EROFS: 'the file system is read-only; choose a writable folder',
  EACCES: 'permission denied; choose a folder you can write, or change its permissions',
  EPERM: 'operation not permitted; choose a folder you can write, or change its permissions',
  ENOTDIR: 'a part of the path is a file, not a folder; choose another path',
  EISDIR: 'it is a folder; name a file',
  ENOENT: 'its folder does not exist; create it first or choose another path',
  EMFILE: 'too many open files; raise the limit (ulimit -n) or close other programs',
};

/** A Node file-system error as ERR_IO naming the path, what failed and the fix; anything else unchanged. */
export function ioError(error: unknown, action: string, file: string): unknown {
  const code = (error as NodeJS.ErrnoException)?.code;
  if (error instanceof ClasswiseError || !code || !(code in IO_FIXES)) return error;
  return new ClasswiseError('ERR_IO', `cannot ${action} ${file}: ${IO_FIXES[code]} (${code})`, { cause: error });
}
