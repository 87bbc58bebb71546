/**
 * Class names label every per-class number and are matched by name in options (`shirt=2`), so a list with a
 * duplicate, an empty or a non-string entry would silently merge or misname classes: refused wherever a
 * library caller hands one in.
 */
import { invalidArgument } from './errors';

export function checkClassNames(names: unknown, where: string): asserts names is string[] {
  if (!Array.isArray(names) || names.length === 0) {
    throw invalidArgument(`${where} must be a non-empty array of class names, got ${Array.isArray(names) ? '[]' : JSON.stringify(names)}; give one name per class, e.g. ["cat", "dog"]`);
  }
  const seen = new Map<string, number>();
  names.forEach((name, index) => {
    if (typeof name !== 'string' || name.length === 0) {
      throw invalidArgument(`${where}[${index}] is ${JSON.stringify(name)}; every class name must be a non-empty string`);
    }
    const first = seen.get(name);
    if (first !== undefined) {
      throw invalidArgument(`${where} names class ${first} and class ${index} both "${name}"; class names must be distinct (e.g. "${name} (${index})")`);
    }
    seen.set(name, index);
  });
}
