/**
 * A class the model (almost) never predicts has a clean and robust accuracy near 0 that says nothing about
 * attacks: the model has given it up. This finds such classes from a clean confusion matrix.
 */

/** Below this share of its own test images, a class counts as almost never predicted. */
const ALMOST_NEVER_SHARE = 0.1;
/** Where its images go: the largest clean targets named. */
const TARGETS_NAMED = 3;

export interface CollapsedClass {
  /** Class index and name. */
  index: number;
  name: string;
  /** Test images predicted as this class (clean), and the class's own test images. */
  predicted: number;
  count: number;
  /** Where the class's images go clean, largest first: [class index, share of its images]. */
  goesTo: [number, number][];
}

/**
 * Classes predicted (clean) for fewer than a tenth as many images as the class has. `cleanConfusion` is
 * [true][predicted] counts.
 */
export function collapsedClasses(classNames: readonly string[], cleanConfusion: readonly (readonly number[])[]): CollapsedClass[] {
  const collapsed: CollapsedClass[] = [];
  classNames.forEach((name, k) => {
    const count = cleanConfusion[k]?.reduce((a, b) => a + b, 0) ?? 0;
    if (count === 0) return;
    const predicted = cleanConfusion.reduce((sum, row) => sum + (row[k] ?? 0), 0);
    if (predicted >= ALMOST_NEVER_SHARE * count) return;
    const goesTo = cleanConfusion[k]
      .map((n, target): [number, number] => [target, n / count])
      .filter(([target, share]) => target !== k && share > 0)
      .sort((a, b) => b[1] - a[1])
      .slice(0, TARGETS_NAMED);
    collapsed.push({ index: k, name, predicted, count, goesTo });
  });
  return collapsed;
}

/** One warning line per collapsed class, e.g. for the console. */
export function collapsedClassWarnings(classNames: readonly string[], cleanConfusion: readonly (readonly number[])[]): string[] {
  const total = cleanConfusion.reduce((sum, row) => sum + row.reduce((a, b) => a + b, 0), 0);
  return collapsedClasses(classNames, cleanConfusion).map(({ name, predicted, count, goesTo }) =>
    `the model ${predicted === 0 ? 'never predicts' : 'almost never predicts'} ${name} (${predicted} of ${total} test images, ` +
    `${count} of which are ${name}); clean, its images go to ${goesTo.map(([target, share]) => `${classNames[target]} ${(100 * share).toFixed(0)}%`).join(', ') || 'no other class'}; ` +
    `its accuracies measure a collapsed class, not robustness (train longer, more images per class, or --class-weight "${name.toLowerCase()}=2")`);
}
