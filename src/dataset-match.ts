/**
 * A checkpoint records the dataset, class names and input shape it was trained on; evaluating or attacking it on
 * other data would label one dataset's images with another's class names, so it is refused unless asked for.
 */
import { ClasswiseError } from './errors';
import type { Model } from './model';

/** What a data argument may say about itself (an ImageDataset says all three). */
export interface DataDescription {
  name?: string;
  classNames?: string[];
  shape?: [number, number, number];
}

function describe(name: string | undefined, classNames: readonly string[] | undefined, shape: readonly number[] | undefined): string {
  const classes = classNames ? `${classNames.length} classes ${classNames.slice(0, 3).join(', ')}${classNames.length > 3 ? ', ...' : ''}` : 'unnamed classes';
  return `${name ?? 'an unnamed dataset'} (${classes}; input ${shape ? shape.join('x') : '?'})`;
}

/**
 * Refuses data that differs from what the model was trained on, naming both sides; `allow` (the deliberate
 * transfer) lets it through. `option` is how the caller turns the check off, for the message.
 */
export function checkDatasetMatch(model: Model, data: DataDescription, allow: boolean | undefined, option = 'allowDatasetMismatch: true'): void {
  if (allow) return;
  const expected = model.config;
  const differs: string[] = [];
  if (model.dataset !== undefined && typeof data.name === 'string' && data.name !== model.dataset) differs.push('dataset');
  if (Array.isArray(data.classNames) && data.classNames.length > 0 && JSON.stringify(data.classNames) !== JSON.stringify(expected.classNames)) differs.push('class names');
  if (Array.isArray(data.shape) && JSON.stringify(data.shape) !== JSON.stringify(expected.inputShape)) differs.push('input shape');
  if (differs.length === 0) return;
  throw new ClasswiseError(
    'ERR_DATASET_MISMATCH',
    `the model was trained on ${describe(model.dataset, expected.classNames, expected.inputShape)} but the data is ` +
      `${describe(data.name, data.classNames, data.shape)} (${differs.join(', ')} differ); use the model's dataset, or pass ${option} to run it anyway`,
  );
}
