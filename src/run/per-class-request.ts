/**
 * `--train-per-class N` / `--eval-per-class N` above what a class has: the class contributes all its images, fewer
 * than the run header's N suggests. Said once, naming the classes, so that nobody reads the run as balanced at N.
 */
export function perClassShortfall(labels: Int32Array, classNames: string[], requested: number | null, option: string): string | undefined {
  if (requested === null) return undefined;
  const counts = new Array<number>(classNames.length).fill(0);
  for (const label of labels) counts[label] += 1;
  const short = counts.map((count, label) => ({ count, label })).filter(({ count }) => count < requested);
  if (short.length === 0) return undefined;
  if (short.length === classNames.length) {
    const low = Math.min(...counts);
    const high = Math.max(...counts);
    return `${option} ${requested} is more than any class has: each uses all its images (${low === high ? low : `${low} to ${high}`} per class); ` +
      `write ${option} all to say so, or a number up to ${low} for the same count in every class`;
  }
  const listed = short.slice(0, 5).map(({ count, label }) => `${classNames[label]} ${count}`).join(', ');
  const more = short.length > 5 ? ` and ${short.length - 5} more` : '';
  return `${option} ${requested}: ${short.length} of ${classNames.length} classes have fewer and use all theirs (${listed}${more}); ` +
    `the classes are not balanced at ${requested}`;
}
