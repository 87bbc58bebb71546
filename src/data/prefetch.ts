/**
 * A bounded prefetch queue: runs up to `depth` producers ahead of the consumer and yields their results in
 * order, so decoding overlaps training while at most `depth` results are held in memory.
 */
import { outOfRange } from '../errors';
export async function* prefetch<T>(producers: Iterable<() => Promise<T>>, depth: number): AsyncGenerator<T> {
  if (!Number.isInteger(depth) || depth < 1) throw outOfRange(`prefetch depth must be an integer >= 1, got ${depth}`);
  const iterator = producers[Symbol.iterator]();
  const pending: Promise<T>[] = [];
  const refill = (): void => {
    while (pending.length < depth) {
      const next = iterator.next();
      if (next.done) return;
      const started = next.value();
      // A failure is reported when its turn comes, not as an unhandled rejection while it waits.
      started.catch(() => undefined);
      pending.push(started);
    }
  };
  refill();
  while (pending.length > 0) {
    const result = await pending.shift()!;
    refill();
    yield result;
  }
}

/** Runs `task` over `items` with at most `limit` in flight; results in item order. */
export async function mapLimited<I, O>(items: readonly I[], limit: number, task: (item: I, index: number) => Promise<O>): Promise<O[]> {
  const results = new Array<O>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
