export { DatasetError } from '../errors';
export type { DatasetErrorCode } from '../errors';
