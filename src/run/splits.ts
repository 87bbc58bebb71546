/**
 * What a run's splits must hold before any training: the same classes in the training and test splits, images
 * in the test split, and training images of every class. Each failure is one line naming the split and the fix.
 */
import { DatasetError } from '../errors';

interface Split {
  classNames: string[];
  labels: Int32Array;
  count: number;
  source?: string;
}

function where(split: Split, name: string): string {
  return split.source ? `${name} split (${split.source})` : `${name} split`;
}

function listed(names: readonly string[]): string {
  return `${names.length} class${names.length === 1 ? '' : 'es'}: ${names.slice(0, 4).map((n) => JSON.stringify(n)).join(', ')}${names.length > 4 ? ', ...' : ''}`;
}

/** Images per class of a split. */
export function classCounts(labels: Int32Array, classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (const label of labels) counts[label] += 1;
  return counts;
}

export function checkRunSplits(dataset: string, train: Split, test: Split): void {
  if (JSON.stringify(train.classNames) !== JSON.stringify(test.classNames)) {
    const first = train.classNames.findIndex((name, k) => test.classNames[k] !== name);
    const at = first < 0 ? train.classNames.length : first;
    throw new DatasetError('ERR_DATASET_CORRUPT', `${dataset}: the ${where(test, 'test')} has ${listed(test.classNames)}, the ${where(train, 'training')} ` +
      `has ${listed(train.classNames)}; they differ at class ${at} (${JSON.stringify(train.classNames[at] ?? null)} in training, ` +
      `${JSON.stringify(test.classNames[at] ?? null)} in test): give both splits the same class folders`);
  }
  if (test.count === 0) {
    throw new DatasetError('ERR_DATASET_MISSING', `${dataset}: the ${where(test, 'test')} holds no images; add its images (the run evaluates on them every epoch)`);
  }
  const counts = classCounts(train.labels, train.classNames.length);
  const empty = train.classNames.filter((_, k) => counts[k] === 0);
  if (empty.length > 0) {
    throw new DatasetError('ERR_DATASET_MISSING', `${dataset}: the ${where(train, 'training')} holds no images of ${empty.length === 1 ? 'class' : 'classes'} ` +
      `${empty.slice(0, 4).map((n) => JSON.stringify(n)).join(', ')}${empty.length > 4 ? `, ... (${empty.length} in all)` : ''}; ` +
      'add its training images or leave the class out (--classes)');
  }
}
