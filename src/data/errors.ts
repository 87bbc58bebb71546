/**
 * What went wrong while finding or reading a dataset, as a machine-readable `code`:
 * - ERR_DATASET_MISSING: a folder or file is not where it was looked for.
 * - ERR_DATASET_CORRUPT: a file exists but its bytes, or its agreement with its sibling file, are wrong.
 * - ERR_DATASET_UNKNOWN: the dataset name or split is not one we can load.
 */
export type DatasetErrorCode = 'ERR_DATASET_MISSING' | 'ERR_DATASET_CORRUPT' | 'ERR_DATASET_UNKNOWN';

/** Thrown by every dataset reader; the message names the file, what was found, what was expected and the fix. */
export class DatasetError extends Error {
  readonly code: DatasetErrorCode;

  constructor(code: DatasetErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DatasetError';
    this.code = code;
  }
}
