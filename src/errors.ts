/** Errors thrown by the TypeScript layer carry a `code`, like the native ones. */
export class ClasswiseError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'ClasswiseError';
  }
}

/** Argument problems found before any native work starts. */
export function invalidArgument(message: string): ClasswiseError {
  return new ClasswiseError(message, 'ERR_INVALID_ARGUMENT');
}
